"""Score probability maps the way `evaluate` does: segmentation metrics of the mask plus calibration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from mlflow.tracking import MlflowClient
from numpy.typing import NDArray

from minivess.pipelines.data.datasets import eval_dataset, eval_loader
from minivess.pipelines.data.splits import SplitName
from minivess.pipelines.metrics.volume_metrics import VolumeMetrics, compute_volume_metrics, summarise
from minivess.pipelines.tracking import naming
from minivess.pipelines.training.evaluation import OpenedRun, calibration_summary
from minivess.pipelines.training.inference import predict_logits
from minivess.pipelines.uncertainty.calibration import CalibrationAccumulator
from minivess.pipelines.uncertainty.temperature import vessel_probability


@dataclass
class SplitScorer:
    """Accumulates per-volume metrics of probability maps (mask = p > 0.5) and pooled calibration."""

    nsd_tolerance_um: float
    per_volume: list[tuple[str, VolumeMetrics]] = field(default_factory=list)
    calibration: CalibrationAccumulator = field(default_factory=CalibrationAccumulator)

    def add(self, volume_id: str, probability: NDArray[Any], label: NDArray[Any], spacing: tuple[float, ...]) -> None:
        mask = (probability > 0.5).astype(np.uint8)
        metrics = compute_volume_metrics(mask, label.astype(np.uint8), spacing, nsd_tolerance_um=self.nsd_tolerance_um)
        self.per_volume.append((volume_id, metrics))
        self.calibration.add(probability, label.astype(bool), name=volume_id, pred_mask=mask.astype(bool))

    def summary(self, prefix: str) -> dict[str, float]:
        """``<prefix>_dice`` … ``<prefix>_hd95`` (means over volumes) and ``<prefix>_ece`` … (pooled)."""
        values = summarise([m for _, m in self.per_volume])
        values.update(calibration_summary(self.calibration))
        return {f"{prefix}_{k}": float(v) for k, v in values.items()}


def score_net(net: torch.nn.Module, source: OpenedRun, split: SplitName) -> dict[str, float]:
    """``<split>_*`` metrics of a network on the source run's split (empty dict if the split is empty)."""
    ids = source.splits.get(split)
    if not ids:
        return {}
    scorer = SplitScorer(source.cfg.inference.nsd_tolerance_um)
    for batch in eval_loader(eval_dataset(source.manifest, ids)):
        logits = predict_logits(net, batch["image"], source.spec.patch_size, source.cfg.inference, source.device)
        spacing = tuple(float(s) for s in np.asarray(batch["spacing"][0]))
        label = batch["label"][0, 0].numpy().astype(bool)
        scorer.add(str(batch["id"][0]), vessel_probability(logits[0]), label, spacing)
    return scorer.summary(split)


def best_logged(client: MlflowClient, run_id: str, metric: str = naming.METRIC_VAL_DICE) -> float | None:
    """The best value a run logged for a metric over all steps (MLflow search shows only the latest)."""
    values = [m.value for m in client.get_metric_history(run_id, metric) if np.isfinite(m.value)]
    if not values:
        return None
    return float(min(values) if metric in naming.LOWER_IS_BETTER else max(values))


def strip_prefix(summary: dict[str, float], prefix: str) -> dict[str, float]:
    """``{"test_dice": x}`` → ``{"dice": x}`` for result tables."""
    return {k.removeprefix(f"{prefix}_"): v for k, v in summary.items() if k.startswith(f"{prefix}_")}
