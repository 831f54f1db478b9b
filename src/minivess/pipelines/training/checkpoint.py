"""Training checkpoints: written atomically, enough to resume exactly and to rebuild the model anywhere."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from minivess.errors import TrainingError
from minivess.fileio import write_bytes_atomic, write_json_atomic

logger = logging.getLogger(__name__)

LAST, BEST = "last.pt", "best.pt"
EPOCHS_DIR = "epochs"  # epoch_NNN.pt: weights of the last trainer.keep_epoch_weights validated epochs
MODEL_WEIGHTS, MODEL_SPEC = "model.pt", "model.json"


class ModelSpec(BaseModel):
    """What rebuilds a trained network for any input size: adapter name, options and I/O."""

    model_config = ConfigDict(extra="forbid")

    adapter: str
    options: dict[str, Any]
    in_channels: int = 1
    out_channels: int = 2
    patch_size: tuple[int, int, int]
    spacing: tuple[float, float, float] = Field(description="Training data spacing in µm (median).")
    intensity_percentiles: tuple[float, float] = (0.5, 99.5)


class TrainingProgress(BaseModel):
    """The resumable bookkeeping of a run (everything but tensors)."""

    model_config = ConfigDict(extra="forbid")

    run_id: str
    epoch: int = Field(0, description="Last completed epoch (0 = none).")
    best_metric: float | None = None
    best_epoch: int | None = None
    epochs_without_gain: int = 0
    elapsed_seconds: float = 0.0
    history: list[dict[str, float]] = Field(default_factory=list, description="Per-epoch metrics, epoch 1 first.")


def save_checkpoint(path: Path, spec: ModelSpec, progress: TrainingProgress, states: dict[str, Any]) -> None:
    """Serialise to memory, then write under a temp name and rename: a crash never leaves half a file."""
    buffer = io.BytesIO()
    torch.save({"spec": spec.model_dump(mode="json"), "progress": progress.model_dump(mode="json"), **states}, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def load_checkpoint(
    path: Path, map_location: str | torch.device = "cpu"
) -> tuple[ModelSpec, TrainingProgress, dict[str, Any]]:
    if not path.is_file():
        raise TrainingError(f"checkpoint {path} does not exist; the run never finished an epoch, start it again.")
    try:
        # weights_only=False: our own file holds RNG states (numpy arrays) besides tensors.
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:
        raise TrainingError(
            f"cannot read checkpoint {path}: {exc}. Delete it to restart from the previous one."
        ) from exc
    spec = ModelSpec.model_validate(payload.pop("spec"))
    progress = TrainingProgress.model_validate(payload.pop("progress"))
    return spec, progress, payload


def export_model(folder: Path, spec: ModelSpec, model_state: dict[str, torch.Tensor]) -> Path:
    """Write the portable model (state_dict + spec JSON) that MLflow logs and the registry serves."""
    buffer = io.BytesIO()
    torch.save(model_state, buffer)
    write_bytes_atomic(folder / MODEL_WEIGHTS, buffer.getvalue())
    write_json_atomic(folder / MODEL_SPEC, spec)
    return folder


def epoch_weights_path(run_dir: Path, epoch: int) -> Path:
    return run_dir / EPOCHS_DIR / f"epoch_{epoch:03d}.pt"


def save_epoch_weights(run_dir: Path, epoch: int, model_state: dict[str, torch.Tensor], keep: int) -> Path:
    """One validated epoch's model weights (state_dict only), written atomically; only the last ``keep`` stay."""
    buffer = io.BytesIO()
    torch.save(model_state, buffer)
    path = epoch_weights_path(run_dir, epoch)
    write_bytes_atomic(path, buffer.getvalue())
    for old in saved_epochs(run_dir)[:-keep]:
        epoch_weights_path(run_dir, old).unlink(missing_ok=True)
    return path


def saved_epochs(folder: Path) -> list[int]:
    """Epochs with saved weights under ``folder/epochs`` (a run dir or a downloaded run), ascending."""
    found = []
    for path in (folder / EPOCHS_DIR).glob("epoch_*.pt"):
        try:
            found.append(int(path.stem.removeprefix("epoch_")))
        except ValueError:
            continue
    return sorted(found)
