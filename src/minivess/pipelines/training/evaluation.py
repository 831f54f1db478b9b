"""Evaluate a finished run on a split, and predict single volumes with a run's model."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import torch
import yaml
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from minivess.configs.experiment import ExperimentConfig, InferenceConfig
from minivess.errors import DataError, TrainingError
from minivess.fileio import write_json_atomic
from minivess.pipelines.data.datasets import eval_dataset, eval_loader
from minivess.pipelines.data.manifest import DatasetManifest
from minivess.pipelines.data.nifti import load_nifti, write_nifti_atomic
from minivess.pipelines.data.splits import SplitName, Splits
from minivess.pipelines.data.transforms import IMAGE, deterministic_transforms
from minivess.pipelines.metrics.volume_metrics import VolumeMetrics, summarise
from minivess.pipelines.tracking.mlflow_run import RunRecorder, client_for
from minivess.pipelines.tracking.refs import resolve_run_id
from minivess.pipelines.tracking.registry import MODEL_ARTIFACT
from minivess.pipelines.training.checkpoint import ModelSpec
from minivess.pipelines.training.inference import load_exported_model, logits_to_mask, predict_logits
from minivess.pipelines.training.loop import validate
from minivess.pipelines.training.runs import CONFIG_FILE, MANIFEST_FILE, SPLITS_FILE, run_dir_for
from minivess.pipelines.training.runtime import resolve_device
from minivess.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class EvaluationResult:
    run_id: str
    split: str
    per_volume: list[tuple[str, VolumeMetrics]]
    summary: dict[str, float]


def run_files(client: MlflowClient, run_id: str, settings: Settings) -> Path:
    """The local folder with the run's config, splits, manifest and model (downloaded if not local)."""
    local = run_dir_for(settings, run_id)
    if (local / MODEL_ARTIFACT / "model.json").is_file():
        return local
    cached = settings.home_dir / "downloads" / run_id  # finished runs' artifacts never change: fetch once
    if (cached / MODEL_ARTIFACT / "model.json").is_file():
        return cached
    target = Path(tempfile.mkdtemp(prefix=f".run-{run_id[:8]}-", dir=settings.home_dir))
    try:
        for path in ("run", MODEL_ARTIFACT):
            mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=str(target))
    except MlflowException as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise TrainingError(f"run {run_id} has no model artifact (did it finish?): {exc.message}") from exc
    for name in (CONFIG_FILE, SPLITS_FILE, MANIFEST_FILE):
        (target / "run" / name).replace(target / name)
    cached.parent.mkdir(parents=True, exist_ok=True)
    if not cached.exists():
        target.replace(cached)  # complete download first, then one rename: never half a cache entry
        return cached
    shutil.rmtree(target, ignore_errors=True)  # another process cached it meanwhile
    return cached


def evaluate_run(
    run_ref: str,
    settings: Settings,
    split: SplitName = "test",
    on_volume: Callable[[str], None] | None = None,
) -> EvaluationResult:
    """Per-volume metrics of a run's best model on a split, logged back to the run as ``<split>_*``."""
    client = client_for(settings.tracking_uri)
    run_id = resolve_run_id(client, run_ref)
    folder = run_files(client, run_id, settings)
    cfg = ExperimentConfig.model_validate(yaml.safe_load((folder / CONFIG_FILE).read_text()))
    manifest = DatasetManifest.model_validate_json((folder / MANIFEST_FILE).read_text())
    ids = Splits.load(folder / SPLITS_FILE).get(split)
    if not ids:
        raise DataError(f"split '{split}' of run {run_id} is empty; evaluate on another split (--split val).")
    device = resolve_device(settings.device)
    model, spec = load_exported_model(folder / MODEL_ARTIFACT, device)
    _, per_volume = validate(
        model, eval_loader(eval_dataset(manifest, ids)), spec.patch_size, cfg.inference, device, None
    )
    if on_volume:
        for vid, _ in per_volume:
            on_volume(vid)
    summary = {f"{split}_{k}": v for k, v in summarise([m for _, m in per_volume]).items()}
    recorder = RunRecorder(client, run_id)
    recorder.log_metrics(summary, step=0)
    report = folder / "evaluation" / f"{split}_metrics.json"
    write_json_atomic(
        report, {"split": split, "summary": summary, "volumes": {v: m.model_dump() for v, m in per_volume}}
    )
    recorder.log_artifact(report, "evaluation")
    return EvaluationResult(run_id, split, per_volume, summary)


def predict_file(
    run_ref: str,
    image_path: Path,
    out_path: Path,
    settings: Settings,
    inference: InferenceConfig | None = None,
) -> Path:
    """Segment one NIfTI volume with a run's model; the output keeps the input's grid, affine and spacing."""
    if not image_path.is_file():
        raise DataError(f"input volume {image_path} does not exist.")
    source = load_nifti(image_path)
    client = client_for(settings.tracking_uri)
    run_id = resolve_run_id(client, run_ref)
    device = resolve_device(settings.device)
    model, spec = load_exported_model(run_files(client, run_id, settings) / MODEL_ARTIFACT, device)
    mask = segment_file(model, spec, image_path, inference or InferenceConfig(), device)
    header = source.header.copy()
    header.set_data_dtype(np.uint8)
    write_nifti_atomic(out_path, mask, source.affine, header)
    return out_path


def segment_file(
    model: torch.nn.Module, spec: ModelSpec, image_path: Path, inference: InferenceConfig, device: torch.device
) -> np.ndarray:
    """Binary mask on the file's own voxel grid: preprocess as in training (RAS, intensity), then undo RAS."""
    transform = deterministic_transforms(with_label=False)
    data = transform({IMAGE: str(image_path)})
    logits = predict_logits(model, data[IMAGE].unsqueeze(0), spec.patch_size, inference, device)
    pred = data[IMAGE].clone()
    pred.array = torch.from_numpy(logits_to_mask(logits)[None].astype(np.float32))
    restored = transform.inverse({IMAGE: pred})[IMAGE]
    mask = np.asarray(restored[0]).round().astype(np.uint8)
    expected = tuple(int(n) for n in load_nifti(image_path).shape[:3])
    if mask.shape != expected:
        raise TrainingError(f"prediction shape {mask.shape} differs from input {expected} (model {spec.adapter}).")
    return mask
