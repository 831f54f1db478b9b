"""Export a finished run's model to ONNX (checked against torch, stored as MLflow artifacts) and load it back."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import onnxruntime
import torch
from mlflow.exceptions import MlflowException

from minivess.errors import TrainingError
from minivess.fileio import exclusive, write_json_atomic
from minivess.pipelines.serving.onnx_model import (
    CHECK_FILE,
    INPUT_SPEC_FILE,
    ONNX_ARTIFACT,
    ONNX_FILE,
    OnnxCheck,
    OnnxInputSpec,
    OnnxPredictor,
    check_patches,
    export_onnx,
)
from minivess.pipelines.tracking.mlflow_run import RunRecorder
from minivess.pipelines.training.evaluation import OpenedRun, open_run, segment_probability
from minivess.settings import Settings

logger = logging.getLogger(__name__)
CHECK_SPLITS = ("test", "val", "train")


@dataclass
class ExportResult:
    """What `export_run` stored: the ONNX folder (local copy of the run's ``onnx/`` artifact) and its check."""

    run_id: str
    folder: Path
    spec: OnnxInputSpec
    check: OnnxCheck
    seconds: float = 0.0


def export_run(run_ref: str, settings: Settings, on_step: Callable[[str], None] | None = None) -> ExportResult:
    """Export a run's model at its patch size (dynamic batch), compare ONNX Runtime with torch, log ``onnx/``.

    The comparison covers random patches (batch 1 and 3) and, when the run's data is on disk, one whole volume
    through the same Gaussian-blended sliding window as ``predict``, on probabilities with the run's temperature.
    Re-exporting replaces the stored files. Concurrent exports of one run are serialised.

    Raises:
        NotExportableError: torch cannot export this network to ONNX (the reason is in the message).
        TrainingError: ONNX Runtime differs from torch by more than the tolerance (nothing is stored).
    """
    import time

    started = time.perf_counter()
    step = on_step or (lambda _message: None)
    run = open_run(run_ref, settings)
    target = run.folder / ONNX_ARTIFACT
    with exclusive(target):
        staging = run.folder / f".{ONNX_ARTIFACT}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            step(f"exporting {run.spec.adapter} at patch {'×'.join(map(str, run.spec.patch_size))}")
            spec = export_onnx(run.model, run.spec, staging)
            step(f"checking ONNX Runtime against torch ({spec.exporter} export)")
            check = _check(run, staging / ONNX_FILE)
            if not check.passed:
                raise TrainingError(
                    f"ONNX Runtime differs from torch by {check.max_abs_diff_probability:.2e} in probability "
                    f"(tolerance {check.tolerance:g}); the export was not stored."
                )
            write_json_atomic(staging / CHECK_FILE, check)
            shutil.rmtree(target, ignore_errors=True)
            staging.replace(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        step("storing onnx/ with the run in MLflow")
        RunRecorder(run.client, run.run_id).log_artifact(target, ONNX_ARTIFACT)
    return ExportResult(run.run_id, target, spec, check, time.perf_counter() - started)


def _check(run: OpenedRun, path: Path) -> OnnxCheck:
    predictor = OnnxPredictor(path)
    model = run.model.cpu().eval()
    sizes, logits_diff, prob_diff = check_patches(model, predictor, run.spec, run.temperature)
    volume_id, volume_diff = _check_volume(run, model, predictor)
    return OnnxCheck(
        batch_sizes=sizes,
        max_abs_diff_logits=logits_diff,
        max_abs_diff_probability=prob_diff,
        temperature=run.temperature,
        volume=volume_id,
        volume_max_abs_diff_probability=volume_diff,
        onnxruntime_version=onnxruntime.__version__,
        provider=predictor.provider,
    )


def _check_volume(run: OpenedRun, model: torch.nn.Module, predictor: OnnxPredictor) -> tuple[str | None, float | None]:
    records = {r.id: r for r in run.manifest.volumes}
    for split in CHECK_SPLITS:
        for volume_id in run.splits.get(split):  # type: ignore[arg-type]
            record = records.get(volume_id)
            if record is None or not record.image.is_file():
                continue
            cpu = torch.device("cpu")
            args: tuple[Any, ...] = (run.spec, record.image, run.cfg.inference, cpu, run.temperature)
            expected = segment_probability(model, *args)
            actual = segment_probability(predictor, *args)
            return volume_id, float(np.abs(expected - actual).max())
    logger.info("run %s: no volume of its dataset is on disk; checked random patches only", run.run_id)
    return None, None


def onnx_folder(run: OpenedRun) -> Path:
    """The run's ``onnx/`` folder on disk, downloaded from MLflow once if only the tracking server has it.

    Raises:
        TrainingError: The run was never exported (says how to export it).
    """
    target = run.folder / ONNX_ARTIFACT
    if (target / ONNX_FILE).is_file() and (target / INPUT_SPEC_FILE).is_file():
        return target
    with exclusive(target):
        if (target / ONNX_FILE).is_file():
            return target
        staging = run.folder / f".{ONNX_ARTIFACT}-download-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            mlflow.artifacts.download_artifacts(run_id=run.run_id, artifact_path=ONNX_ARTIFACT, dst_path=str(staging))
        except (MlflowException, OSError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise TrainingError(
                f"run {run.run_id} has no ONNX export; create it with `minivess export {run.run_id[:8]}`."
            ) from exc
        downloaded = staging / ONNX_ARTIFACT
        if not (downloaded / ONNX_FILE).is_file():
            shutil.rmtree(staging, ignore_errors=True)
            raise TrainingError(
                f"run {run.run_id} has no ONNX export; create it with `minivess export {run.run_id[:8]}`."
            )
        shutil.rmtree(target, ignore_errors=True)
        downloaded.replace(target)
        shutil.rmtree(staging, ignore_errors=True)
    return target


def onnx_predictor(run: OpenedRun, threads: int | None = None) -> OnnxPredictor:
    """An ONNX Runtime predictor for the run's exported model (see `onnx_folder`)."""
    folder = onnx_folder(run)
    spec = OnnxInputSpec.model_validate_json((folder / INPUT_SPEC_FILE).read_text())
    if tuple(spec.patch_size) != tuple(run.spec.patch_size):
        raise TrainingError(
            f"run {run.run_id}'s ONNX export is for patch {spec.patch_size}, the model for {run.spec.patch_size}; "
            f"re-export with `minivess export {run.run_id[:8]}`."
        )
    return OnnxPredictor(folder / ONNX_FILE, threads)
