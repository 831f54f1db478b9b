"""Start, resume and finish training runs: the entry points the CLI and tools call."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from mlflow.tracking import MlflowClient

from minivess.configs.experiment import ExperimentConfig
from minivess.errors import TrainingError
from minivess.fileio import write_text_atomic
from minivess.pipelines.data.manifest import DatasetManifest
from minivess.pipelines.data.splits import Splits
from minivess.pipelines.tracking import naming, run_names
from minivess.pipelines.tracking.mlflow_run import RunRecorder, client_for, get_or_create_experiment
from minivess.pipelines.tracking.refs import resolve_run_id
from minivess.pipelines.tracking.registry import MODEL_ARTIFACT, register_run_model
from minivess.pipelines.training.checkpoint import BEST, EPOCHS_DIR, LAST, export_model, load_checkpoint
from minivess.pipelines.training.engine import Trainer, TrainResult, params_and_tags, wrap_failure
from minivess.pipelines.training.events import NullObserver, TrainingObserver
from minivess.pipelines.training.inference import logits_to_mask, predict_logits
from minivess.pipelines.training.runtime import seed_everything
from minivess.pipelines.training.setup import load_data, model_spec, validate_experiment
from minivess.pipelines.viz import curves_png, prediction_png
from minivess.settings import Settings

logger = logging.getLogger(__name__)

CONFIG_FILE, SPLITS_FILE, MANIFEST_FILE = "config.yaml", "splits.json", "manifest.json"


def run_dir_for(settings: Settings, run_id: str) -> Path:
    return settings.runs_dir / run_id


def train(
    cfg: ExperimentConfig,
    settings: Settings,
    observer: TrainingObserver | None = None,
    tags: dict[str, str] | None = None,
) -> TrainResult:
    """Validate everything, create an MLflow run, train, log artifacts, optionally register.

    Args:
        cfg: The validated experiment.
        settings: Home, tracking URI.
        observer: Receives run/epoch/step events (a progress bar, a tracer — the caller decides).
        tags: Extra MLflow run tags (e.g. the trace that started the run).

    Raises:
        ConfigError, DataError: before anything is written to MLflow.
        TrainingError: the run failed; it is marked FAILED in MLflow with the error in a tag.
    """
    from minivess.pipelines.governance import lineage

    with lineage.job_run(settings, "train") as job:
        trainer = start_training(cfg, settings, observer, tags)
        dataset = trainer.manifest.root.name
        version = trainer.recorder.client.get_run(trainer.recorder.run_id).data.tags.get(naming.TAG_DVC_VERSION)
        job.inputs.append(lineage.dataset_name(dataset, version or trainer.manifest.version))
        job.link(mlflow_run_id=trainer.recorder.run_id, trace_id=(tags or {}).get(naming.TAG_TRACE_ID))
        try:
            result = _run_and_finish(trainer, settings)
        except BaseException as exc:
            raise wrap_failure(trainer.recorder, exc) from exc
        job.outputs(f"model/{result.run_id}")
        return result


def _dvc_tag(settings: Settings, manifest_version: str) -> dict[str, str]:
    """``minivess.dvc_version`` when the data's content was recorded as a DVC version; none when it is untracked."""
    from minivess.pipelines.governance.versions import version_for_manifest

    try:
        found = version_for_manifest(settings, manifest_version)
    except Exception as exc:  # a damaged history must not stop training
        logger.warning("could not read dataset versions: %s", exc)
        return {}
    return {naming.TAG_DVC_VERSION: found.version} if found else {}


def start_training(
    cfg: ExperimentConfig,
    settings: Settings,
    observer: TrainingObserver | None = None,
    tags: dict[str, str] | None = None,
) -> Trainer:
    """Everything `train` does before the first epoch: a Trainer whose `next_epoch()` the caller drives.

    Finish with `finish_training` (or `wrap_failure` on an error): a search scheduler steps epochs this way.

    Raises:
        ConfigError, DataError: before anything is written to MLflow.
        TrainingError: setting the run up failed; it is marked FAILED.
    """
    exp = validate_experiment(cfg)
    manifest, splits = load_data(cfg, settings)
    spec = model_spec(exp, manifest)
    seed_everything(cfg.trainer.seed, cfg.trainer.deterministic)
    client = client_for(settings.tracking_uri)
    experiment_id = get_or_create_experiment(client, cfg.tracking.experiment, _artifact_root(settings))
    params, run_tags = params_and_tags(cfg, manifest, spec)
    run_tags.update(_dvc_tag(settings, manifest.version))
    recorder = create_run(client, experiment_id, cfg, {**run_tags, **(tags or {})})
    run_dir = run_dir_for(settings, recorder.run_id)
    try:
        recorder.log_params(params)
        _write_run_files(run_dir, cfg, manifest, splits)
        return Trainer(exp, manifest, splits, spec, recorder, run_dir, observer or NullObserver())
    except BaseException as exc:
        raise wrap_failure(recorder, exc) from exc


def finish_training(trainer: Trainer, reason: str, settings: Settings) -> TrainResult:
    """Export the best model, log artifacts and figures, mark the run FINISHED (after `next_epoch` said stop)."""
    return _finish(trainer, trainer.result(reason), settings)


def create_run(client: MlflowClient, experiment_id: str, cfg: ExperimentConfig, tags: dict[str, str]) -> RunRecorder:
    """A new MLflow run named ``cfg.tracking.run_name`` if given, else ``<model>-<loss>-<NNNN>`` (run_names.py)."""
    if cfg.tracking.run_name is not None:  # a user-given name is kept as it is
        return RunRecorder.create(client, experiment_id, cfg.tracking.run_name, tags)
    name, name_tags = run_names.new_run_name(client, experiment_id, cfg.model.name, cfg.loss.name)
    recorder = RunRecorder.create(client, experiment_id, name, {**tags, **name_tags})
    try:
        run_names.claim_run_name(client, experiment_id, recorder.run_id, name)
    except BaseException as exc:
        raise wrap_failure(recorder, exc) from exc
    return recorder


def resume(run_id: str, settings: Settings, observer: TrainingObserver | None = None) -> TrainResult:
    """Continue a crashed or interrupted run from its last checkpoint, in the same MLflow run.

    ``run_id`` may be a unique id prefix (≥ 6 characters) or ``last``.
    """
    run_id = resolve_run_id(client_for(settings.tracking_uri), run_id)
    run_dir = run_dir_for(settings, run_id)
    if not (run_dir / CONFIG_FILE).is_file():
        raise TrainingError(
            f"no local state for run {run_id} under {settings.runs_dir}; only runs started on this machine "
            "with this MINIVESS_HOME can be resumed."
        )
    cfg = ExperimentConfig.model_validate(yaml.safe_load((run_dir / CONFIG_FILE).read_text()))
    exp = validate_experiment(cfg)
    manifest = DatasetManifest.model_validate_json((run_dir / MANIFEST_FILE).read_text())
    splits = Splits.load(run_dir / SPLITS_FILE)
    recorder = RunRecorder.resume(client_for(settings.tracking_uri), run_id)
    try:
        trainer = Trainer(
            exp, manifest, splits, model_spec(exp, manifest), recorder, run_dir, observer or NullObserver()
        )
        if (run_dir / LAST).is_file():
            _, progress, states = load_checkpoint(run_dir / LAST, map_location=exp.device)
            trainer.restore(progress, states)
            trainer.sync_logged_history()
            logger.info("resuming run %s after epoch %d", run_id, progress.epoch)
        else:
            seed_everything(cfg.trainer.seed, cfg.trainer.deterministic)
        return _run_and_finish(trainer, settings)
    except BaseException as exc:
        raise wrap_failure(recorder, exc) from exc


def result_summary(result: TrainResult) -> dict[str, Any]:
    """A short dict of a finished run (for traces and tool results)."""
    return {
        "run_id": result.run_id,
        "status": result.status,
        "stop_reason": result.stop_reason,
        "epochs": result.epochs_completed,
        "best_epoch": result.best_epoch,
        result.metric_name: result.best_metric,
    }


def _artifact_root(settings: Settings) -> Path | None:
    return settings.artifact_root if settings.tracking_uri.startswith("sqlite:") else None


def _write_run_files(run_dir: Path, cfg: ExperimentConfig, manifest: DatasetManifest, splits: Splits) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run_dir / CONFIG_FILE, yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    manifest.save(run_dir / MANIFEST_FILE)
    splits.save(run_dir / SPLITS_FILE)


def _run_and_finish(trainer: Trainer, settings: Settings) -> TrainResult:
    return _finish(trainer, trainer.run(), settings)


def _finish(trainer: Trainer, result: TrainResult, settings: Settings) -> TrainResult:
    recorder, run_dir = trainer.recorder, trainer.run_dir
    best_path = run_dir / (BEST if (run_dir / BEST).is_file() else LAST)
    spec, _, states = load_checkpoint(best_path)
    trainer.model.load_state_dict(states["model"])
    export_model(run_dir / MODEL_ARTIFACT, spec, states["model"])
    _figures(trainer, result)
    for name in (CONFIG_FILE, SPLITS_FILE, MANIFEST_FILE):
        recorder.log_artifact(run_dir / name, "run")
    lineage = trainer.manifest.root / naming.LINEAGE_FILE
    if lineage.is_file():
        recorder.log_artifact(lineage, "run")
    recorder.log_artifact(run_dir / MODEL_ARTIFACT, MODEL_ARTIFACT)
    for name in (BEST, LAST):
        if (run_dir / name).is_file():
            recorder.log_artifact(run_dir / name, "checkpoints")
    if (run_dir / EPOCHS_DIR).is_dir():
        recorder.log_artifact(run_dir / EPOCHS_DIR, EPOCHS_DIR)
    recorder.log_artifact(run_dir / "figures", "figures")
    recorder.set_tags({naming.TAG_BEST_EPOCH: result.best_epoch or "", "minivess.stop_reason": result.stop_reason})
    recorder.finish("FINISHED")
    register_as = trainer.cfg.tracking.register_as
    if register_as:
        register_run_model(recorder.client, recorder.run_id, register_as)
    trainer.observer.run_finished(result.run_id, result.status, result.stop_reason)
    return result


def _figures(trainer: Trainer, result: TrainResult) -> None:
    figures = trainer.run_dir / "figures"
    series = {
        key: [(i + 1, h[key]) for i, h in enumerate(result.history) if key in h and np.isfinite(h[key])]
        for key in (
            naming.METRIC_TRAIN_LOSS,
            naming.METRIC_VAL_DICE,
            naming.METRIC_VAL_CLDICE,
            naming.METRIC_VAL_NSD,
        )
    }
    curves_png(figures / "learning_curves.png", series, title=f"run {result.run_id[:8]}")
    batch = next(iter(trainer.val_loader))
    logits = predict_logits(
        trainer.model,
        batch["image"],
        trainer.spec.patch_size,
        trainer.cfg.inference,
        trainer.device,
        trainer.exp.amp_dtype,
    )
    prediction_png(
        figures / "val_prediction_mip.png",
        batch["image"][0, 0].numpy(),
        batch["label"][0, 0].numpy(),
        logits_to_mask(logits),
        title=f"{batch['id'][0]} (best epoch {result.best_epoch})",
    )
