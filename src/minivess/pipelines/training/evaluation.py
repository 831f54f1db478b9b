"""Evaluate a finished run on a split, and predict single volumes with a run's model."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import torch
import yaml
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from numpy.typing import NDArray

from minivess.configs.experiment import ExperimentConfig, InferenceConfig
from minivess.errors import DataError, TrainingError
from minivess.fileio import write_json_atomic
from minivess.pipelines.data.datasets import eval_dataset, eval_loader
from minivess.pipelines.data.manifest import DatasetManifest
from minivess.pipelines.data.nifti import load_nifti, write_nifti_atomic
from minivess.pipelines.data.splits import SplitName, Splits
from minivess.pipelines.data.transforms import IMAGE, deterministic_transforms
from minivess.pipelines.governance import lineage
from minivess.pipelines.metrics.volume_metrics import VolumeMetrics, compute_volume_metrics, summarise
from minivess.pipelines.tracking import naming
from minivess.pipelines.tracking.mlflow_run import RunRecorder, client_for
from minivess.pipelines.tracking.registry import MODEL_ARTIFACT, resolve_model_ref
from minivess.pipelines.training.checkpoint import ModelSpec
from minivess.pipelines.training.inference import Predictor, load_exported_model, logits_to_mask, predict_logits
from minivess.pipelines.training.runs import CONFIG_FILE, MANIFEST_FILE, SPLITS_FILE, run_dir_for
from minivess.pipelines.training.runtime import resolve_device
from minivess.pipelines.uncertainty.calibration import CalibrationAccumulator
from minivess.pipelines.uncertainty.temperature import vessel_probability
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


@dataclass
class OpenedRun:
    """A finished run's files and rebuilt model, ready to predict."""

    run_id: str
    folder: Path
    client: MlflowClient
    cfg: ExperimentConfig
    manifest: DatasetManifest
    splits: Splits
    model: torch.nn.Module
    spec: ModelSpec
    device: torch.device
    temperature: float = 1.0


@dataclass
class VolumeLogits:
    """One evaluated volume: logits (C, X, Y, Z) on the CPU, its binary label and spacing (µm)."""

    id: str
    logits: torch.Tensor
    label: NDArray[Any]
    spacing: tuple[float, float, float]


def open_run(run_ref: str, settings: Settings) -> OpenedRun:
    """Load a run's config, splits, manifest and model (its stored temperature too, 1.0 if never calibrated).

    ``run_ref`` is a run id, a unique prefix, ``last``, or a registry alias (``champion[:<model>]``).
    """
    client = client_for(settings.tracking_uri)
    run_id = resolve_model_ref(client, run_ref)
    folder = run_files(client, run_id, settings)
    cfg = ExperimentConfig.model_validate(yaml.safe_load((folder / CONFIG_FILE).read_text()))
    manifest = DatasetManifest.model_validate_json((folder / MANIFEST_FILE).read_text())
    splits = Splits.load(folder / SPLITS_FILE)
    device = resolve_device(settings.device)
    model, spec = load_exported_model(folder / MODEL_ARTIFACT, device)
    temperature = client.get_run(run_id).data.metrics.get(naming.METRIC_TEMPERATURE, 1.0)
    return OpenedRun(run_id, folder, client, cfg, manifest, splits, model, spec, device, float(temperature))


def split_ids(run: OpenedRun, split: SplitName) -> list[str]:
    """The run's volume ids of a split; an empty split is a DataError that names the split."""
    ids = run.splits.get(split)
    if not ids:
        raise DataError(f"split '{split}' of run {run.run_id} is empty; use another split or more volumes.")
    return ids


def split_logits(run: OpenedRun, split: SplitName, manifest: DatasetManifest | None = None) -> Iterator[VolumeLogits]:
    """Sliding-window logits of every volume of a split (preprocessed as in training), one at a time."""
    loader = eval_loader(eval_dataset(manifest or run.manifest, split_ids(run, split)))
    for batch in loader:
        logits = predict_logits(run.model, batch["image"], run.spec.patch_size, run.cfg.inference, run.device)
        spacing = tuple(float(s) for s in np.asarray(batch["spacing"][0]))
        label = batch["label"][0, 0].numpy().astype(bool)
        yield VolumeLogits(str(batch["id"][0]), logits[0], label, (spacing[0], spacing[1], spacing[2]))


@lineage.job("evaluate")
def evaluate_run(
    run_ref: str,
    settings: Settings,
    split: SplitName = "test",
    on_volume: Callable[[str], None] | None = None,
) -> EvaluationResult:
    """Per-volume metrics of a run's best model on a split, logged back to the run as ``<split>_*``.

    Besides Dice, clDice, NSD and HD95, the vessel probabilities' calibration (ECE/MCE/Brier/NLL on the
    foreground region, ECE on the whole volume) is measured with the run's stored temperature, if any.
    """
    run = open_run(run_ref, settings)
    per_volume: list[tuple[str, VolumeMetrics]] = []
    calibration = CalibrationAccumulator()
    for volume in split_logits(run, split):
        mask = logits_to_mask(volume.logits[None])
        metrics = compute_volume_metrics(
            mask, volume.label.astype(np.uint8), volume.spacing, nsd_tolerance_um=run.cfg.inference.nsd_tolerance_um
        )
        per_volume.append((volume.id, metrics))
        calibration.add(vessel_probability(volume.logits, run.temperature), volume.label, name=volume.id)
        if on_volume:
            on_volume(volume.id)
    summary = {f"{split}_{k}": v for k, v in summarise([m for _, m in per_volume]).items()}
    summary.update({f"{split}_{k}": v for k, v in calibration_summary(calibration).items()})
    recorder = RunRecorder(run.client, run.run_id)
    recorder.log_metrics(summary, step=0)
    report = run.folder / "evaluation" / f"{split}_metrics.json"
    write_json_atomic(
        report,
        {
            "split": split,
            "temperature": run.temperature,
            "summary": summary,
            "volumes": {v: m.model_dump() for v, m in per_volume},
            "calibration": calibration.report().model_dump(mode="json"),
        },
    )
    recorder.log_artifact(report, "evaluation")
    return EvaluationResult(run.run_id, split, per_volume, summary)


def calibration_summary(calibration: CalibrationAccumulator) -> dict[str, float]:
    """The calibration metrics logged per split: foreground-ROI ECE/MCE/Brier/NLL, whole-volume ECE (pooled)."""
    pooled = calibration.pooled()
    fg, whole = pooled["foreground"], pooled["volume"]
    return {"ece": fg.ece, "mce": fg.mce, "brier": fg.brier, "nll": fg.nll, "ece_volume": whole.ece}


@dataclass
class Prediction:
    """What `predict_file` wrote."""

    mask_path: Path
    vessel_fraction: float
    uncertainty_path: Path | None = None
    threshold: float | None = None


def predict_file(
    run_ref: str,
    image_path: Path,
    out_path: Path,
    settings: Settings,
    inference: InferenceConfig | None = None,
    *,
    threshold: float | None = None,
    uncertainty_path: Path | None = None,
    predictor_for: Callable[[OpenedRun], Predictor] | None = None,
) -> Prediction:
    """Segment one NIfTI volume with a run's model; outputs keep the input's grid, affine and spacing.

    Args:
        predictor_for: Builds the sliding window's predictor from the opened run (e.g. ONNX Runtime over the
            run's export); default the run's torch model on its device.
        threshold: Vessel where the (temperature-scaled) probability is ≥ this (e.g. a conformal threshold);
            default the argmax mask.
        uncertainty_path: Also write the predictive entropy (nats, float32) per voxel there.
    """
    if not image_path.is_file():
        raise DataError(f"input volume {image_path} does not exist.")
    source = load_nifti(image_path)
    run = open_run(run_ref, settings)
    predictor = predictor_for(run) if predictor_for else run.model
    probability = segment_probability(
        predictor, run.spec, image_path, inference or run.cfg.inference, run.device, run.temperature
    )
    mask = (probability >= threshold) if threshold is not None else (probability > 0.5)
    header = source.header.copy()
    header.set_data_dtype(np.uint8)
    write_nifti_atomic(out_path, mask.astype(np.uint8), source.affine, header)
    if uncertainty_path is not None:
        entropy = binary_entropy(probability).astype(np.float32)
        float_header = source.header.copy()
        float_header.set_data_dtype(np.float32)
        write_nifti_atomic(uncertainty_path, entropy, source.affine, float_header)
    return Prediction(out_path, float(mask.mean()), uncertainty_path, threshold)


def binary_entropy(probability: NDArray[Any]) -> NDArray[Any]:
    """Predictive entropy (nats) of a two-class distribution given the vessel probability."""
    p = np.clip(probability.astype(np.float64), 1e-12, 1 - 1e-12)
    return np.asarray(-(p * np.log(p) + (1 - p) * np.log1p(-p)))


def segment_probability(
    model: Predictor,
    spec: ModelSpec,
    image_path: Path,
    inference: InferenceConfig,
    device: torch.device,
    temperature: float = 1.0,
) -> NDArray[Any]:
    """Vessel probability (float32) on the file's own voxel grid: preprocess as in training (RAS,
    intensity), softmax of logits / temperature, then undo RAS."""
    transform = deterministic_transforms(with_label=False)
    data = transform({IMAGE: str(image_path)})
    logits = predict_logits(model, data[IMAGE].unsqueeze(0), spec.patch_size, inference, device)
    pred = data[IMAGE].clone()
    pred.array = torch.from_numpy(vessel_probability(logits[0], temperature)[None].astype(np.float32))
    restored = transform.inverse({IMAGE: pred})[IMAGE]
    probability = np.asarray(restored[0], dtype=np.float32)
    expected = tuple(int(n) for n in load_nifti(image_path).shape[:3])
    if probability.shape != expected:
        raise TrainingError(
            f"prediction shape {probability.shape} differs from input {expected} (model {spec.adapter})."
        )
    return probability


def segment_file(
    model: torch.nn.Module, spec: ModelSpec, image_path: Path, inference: InferenceConfig, device: torch.device
) -> NDArray[Any]:
    """Binary (argmax) mask on the file's own voxel grid."""
    return (segment_probability(model, spec, image_path, inference, device) > 0.5).astype(np.uint8)
