"""One training epoch and one validation pass: plain PyTorch, no tracking, no UI."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
import torch
from monai.data import DataLoader

from minivess.configs.experiment import InferenceConfig
from minivess.errors import TrainingError
from minivess.pipelines.metrics.volume_metrics import VolumeMetrics, compute_volume_metrics, summarise
from minivess.pipelines.training.inference import logits_to_mask, predict_logits
from minivess.pipelines.training.runtime import autocast

logger = logging.getLogger(__name__)


def train_epoch(
    model: torch.nn.Module,
    loader: DataLoader,
    loss_fn: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    scaler: torch.amp.GradScaler | None,
    on_step: Callable[[int, float], None] | None = None,
) -> float:
    """Train for one pass over `loader`; returns the mean loss. A non-finite loss stops the run."""
    model.train()
    total, count = 0.0, 0
    for step, batch in enumerate(loader, start=1):
        images = batch["image"].to(device, non_blocking=True)
        labels = batch["label"].to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        with autocast(device, amp_dtype):
            loss = loss_fn(model(images), labels)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingError(
                f"loss became {value} at step {step}; lower optim.lr (e.g. optim.lr=1e-4) or set trainer.amp=off."
            )
        total += value
        count += 1
        if on_step:
            on_step(step, value)
    if count == 0:
        raise TrainingError("the training loader produced no batches; the train split is empty.")
    return total / count


def validate(
    model: torch.nn.Module,
    loader: DataLoader,
    roi_size: tuple[int, int, int],
    cfg: InferenceConfig,
    device: torch.device,
    amp_dtype: torch.dtype | None,
) -> tuple[dict[str, float], list[tuple[str, VolumeMetrics]]]:
    """Sliding-window inference over whole volumes; returns mean metrics (`val_*`) and per-volume ones."""
    per_volume: list[tuple[str, VolumeMetrics]] = []
    for batch in loader:
        logits = predict_logits(model, batch["image"], roi_size, cfg, device, amp_dtype)
        pred = logits_to_mask(logits)
        target = batch["label"][0, 0].numpy().astype(np.uint8)
        spacing = tuple(float(s) for s in np.asarray(batch["spacing"][0]))
        metrics = compute_volume_metrics(pred, target, spacing, nsd_tolerance_um=cfg.nsd_tolerance_um)
        per_volume.append((str(batch["id"][0]), metrics))
    if not per_volume:
        raise TrainingError("the validation split is empty; set data.val_fraction > 0 or add volumes.")
    summary = summarise([m for _, m in per_volume])
    return {f"val_{k}": v for k, v in summary.items()}, per_volume
