"""Sliding-window inference and model rebuilding, shared by validation, evaluation and prediction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import torch
from monai.inferers import sliding_window_inference
from numpy.typing import NDArray

from minivess.configs.experiment import InferenceConfig
from minivess.errors import TrainingError
from minivess.pipelines.models.ensemble import ENSEMBLE_ADAPTER, EnsembleNet
from minivess.pipelines.models.registry import get_adapter
from minivess.pipelines.training.checkpoint import MODEL_SPEC, MODEL_WEIGHTS, ModelSpec
from minivess.pipelines.training.runtime import autocast

logger = logging.getLogger(__name__)

MEMBERS_DIR = "members"
# What the sliding window calls per batch of windows: a torch module, or e.g. an ONNX Runtime session wrapper.
Predictor = torch.nn.Module | Callable[[torch.Tensor], torch.Tensor]


def build_model(spec: ModelSpec, grad_checkpointing: bool = False) -> torch.nn.Module:
    adapter = get_adapter(spec.adapter)
    options = adapter.parse_options(spec.options)
    return adapter.build(
        options,
        in_channels=spec.in_channels,
        out_channels=spec.out_channels,
        grad_checkpointing=grad_checkpointing,
        patch_size=spec.patch_size,
        spacing=spec.spacing,
    )


def load_exported_model(folder: Path, device: torch.device) -> tuple[torch.nn.Module, ModelSpec]:
    """Rebuild a model exported by `export_model` (a run's `model/` artifact or a registry version)."""
    spec_path, weights_path = folder / MODEL_SPEC, folder / MODEL_WEIGHTS
    spec = ModelSpec.model_validate_json(spec_path.read_text()) if spec_path.is_file() else None
    if spec is not None and spec.adapter == ENSEMBLE_ADAPTER:
        return _load_ensemble(folder, spec, device), spec
    if spec is None or not weights_path.is_file():
        raise TrainingError(f"{folder} holds no exported model ({MODEL_SPEC} + {MODEL_WEIGHTS}); was the run finished?")
    model = build_model(spec)
    model.load_state_dict(torch.load(weights_path, map_location="cpu", weights_only=True))
    return model.to(device).eval(), spec


def member_folder(folder: Path, index: int) -> Path:
    """Where an ensemble's exported model keeps member ``index`` (0-based): ``members/NN``."""
    return folder / MEMBERS_DIR / f"{index:02d}"


def _load_ensemble(folder: Path, spec: ModelSpec, device: torch.device) -> torch.nn.Module:
    count = int(spec.options["n_members"])
    members = [load_exported_model(member_folder(folder, i), device)[0] for i in range(count)]
    return EnsembleNet(members, spec.options["strategy"], spec.options.get("weights")).to(device).eval()


@torch.no_grad()
def predict_logits(
    model: Predictor,
    image: torch.Tensor,
    roi_size: tuple[int, int, int],
    cfg: InferenceConfig,
    device: torch.device,
    amp_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Logits (B, C, X, Y, Z) for a (B, 1, X, Y, Z) image of any size, on the CPU.

    ``model`` is a torch module (put in eval mode, autocast on ``device``) or any callable from a batch of
    windows to their logits (an ONNX Runtime predictor: it runs on the CPU, so ``device`` is the CPU for it).
    """
    if isinstance(model, torch.nn.Module):
        model.eval()
    else:
        device = torch.device("cpu")
    with autocast(device, amp_dtype), _torch_threads(1 if not isinstance(model, torch.nn.Module) else None):
        logits = sliding_window_inference(
            image.to(device),
            roi_size=roi_size,
            sw_batch_size=cfg.sw_batch_size,
            predictor=model,
            overlap=cfg.overlap,
            mode=cfg.mode,
        )
    return cast(torch.Tensor, logits).float().cpu()


@contextmanager
def _torch_threads(count: int | None) -> Iterator[None]:
    """Run with ``count`` torch intra-op threads (None: unchanged), restoring the previous count after.

    An external predictor (ONNX Runtime) brings its own thread pool; torch's OpenMP threads, which spin for a
    while after each of the window-blending ops, would otherwise compete with it for the same cores.
    """
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if count is not None:
            torch.set_num_threads(previous)


def logits_to_mask(logits: torch.Tensor) -> NDArray[Any]:
    """(1, C, X, Y, Z) logits → uint8 (X, Y, Z) mask of the vessel class."""
    return logits.argmax(dim=1)[0].to(torch.uint8).numpy()
