"""The training engine: epochs, validation, checkpoints, early stopping, budget, MLflow; resumable after a crash."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from minivess.configs.experiment import ExperimentConfig
from minivess.configs.loading import flatten
from minivess.errors import MinivessError, TrainingError
from minivess.pipelines.data.datasets import eval_dataset, eval_loader, train_dataset, train_loader
from minivess.pipelines.data.manifest import DatasetManifest
from minivess.pipelines.data.splits import Splits
from minivess.pipelines.tracking import naming
from minivess.pipelines.tracking.mlflow_run import RunRecorder
from minivess.pipelines.training.checkpoint import (
    BEST,
    LAST,
    ModelSpec,
    TrainingProgress,
    save_checkpoint,
    save_epoch_weights,
)
from minivess.pipelines.training.events import NullObserver, TrainingObserver
from minivess.pipelines.training.inference import build_model
from minivess.pipelines.training.loop import train_epoch, validate
from minivess.pipelines.training.losses import build_loss
from minivess.pipelines.training.optim import build_optimizer, build_scheduler
from minivess.pipelines.training.setup import ValidatedExperiment

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    run_id: str
    status: str
    stop_reason: str
    epochs_completed: int
    best_epoch: int | None
    best_metric: float | None
    metric_name: str
    run_dir: Path
    history: list[dict[str, float]] = field(default_factory=list)


def improved(metric: str, value: float, best: float | None, min_delta: float) -> bool:
    if math.isnan(value):
        return False
    if best is None:
        return True
    if metric in naming.LOWER_IS_BETTER:
        return value < best - min_delta
    return value > best + min_delta


def unlogged_epochs(history: list[dict[str, float]], logged_steps: set[int]) -> list[tuple[int, dict[str, float]]]:
    """Epochs (1-based) present in a checkpoint's history but absent from MLflow."""
    return [(i + 1, m) for i, m in enumerate(history) if i + 1 not in logged_steps]


class Trainer:
    """Runs epochs for one MLflow run; built fresh for a new run or from `last.pt` to resume."""

    def __init__(
        self,
        exp: ValidatedExperiment,
        manifest: DatasetManifest,
        splits: Splits,
        spec: ModelSpec,
        recorder: RunRecorder,
        run_dir: Path,
        observer: TrainingObserver | None = None,
    ) -> None:
        self.exp, self.cfg = exp, exp.config
        self.manifest, self.splits, self.spec = manifest, splits, spec
        self.recorder, self.run_dir = recorder, run_dir
        self.observer: TrainingObserver = observer or NullObserver()
        self.device = exp.device
        self.model = build_model(spec, grad_checkpointing=self.cfg.model.grad_checkpointing).to(self.device)
        self.optimizer = build_optimizer(self.model, self.cfg.optim)
        self.scheduler = build_scheduler(self.optimizer, self.cfg.optim, self.cfg.trainer.epochs)
        self.scaler = torch.amp.GradScaler("cuda") if exp.amp_dtype == torch.float16 else None
        self.loss_fn = build_loss(self.cfg.loss).to(self.device)
        self.progress = TrainingProgress(run_id=recorder.run_id)
        self._session_start = time.monotonic()
        self.train_ds = train_dataset(manifest, splits.train, self.cfg.data)
        self.val_loader = eval_loader(eval_dataset(manifest, splits.val))

    # -- state ------------------------------------------------------------------------------------
    def states(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "rng": {
                "torch": torch.get_rng_state(),
                "numpy": np.random.get_state(),
                "python": random.getstate(),
            },
        }

    def restore(self, progress: TrainingProgress, states: dict[str, Any]) -> None:
        self.progress = progress
        self.model.load_state_dict(states["model"])
        self.optimizer.load_state_dict(states["optimizer"])
        self.scheduler.load_state_dict(states["scheduler"])
        if self.scaler and states.get("scaler"):
            self.scaler.load_state_dict(states["scaler"])
        torch.set_rng_state(states["rng"]["torch"])
        np.random.set_state(states["rng"]["numpy"])
        random.setstate(states["rng"]["python"])

    def sync_logged_history(self) -> int:
        """Log epochs that are in the checkpoint but not in MLflow (a crash between the two); returns how many."""
        missing = unlogged_epochs(self.progress.history, self.recorder.logged_steps(naming.METRIC_TRAIN_LOSS))
        for epoch, metrics in missing:
            self.recorder.log_metrics(metrics, step=epoch)
        return len(missing)

    # -- loop -------------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Train until max epochs, early stopping or the wall-clock budget; return the outcome."""
        self.begin()
        reason: str | None = None
        while reason is None:
            _, reason = self.next_epoch()
        return self.result(reason)

    def begin(self) -> None:
        """Start (or continue after a restore) the epoch loop; `next_epoch` then runs one epoch per call."""
        self.observer.run_started(self.recorder.run_id, self.progress.epoch + 1, self.cfg.trainer.epochs)
        self._session_start = time.monotonic() - self.progress.elapsed_seconds

    def next_epoch(self) -> tuple[dict[str, float], str | None]:
        """Run, validate, checkpoint and log one epoch; return its metrics and why to stop now (None: go on).

        A search scheduler (Ray Tune) calls this once per step, so early-stopped trials end cleanly.
        """
        trainer, stop = self.cfg.trainer, self.cfg.trainer.early_stopping
        if self.progress.epoch >= trainer.epochs:
            return {}, "max_epochs"
        if self._over_budget(self._session_start):
            return {}, "budget"
        epoch = self.progress.epoch + 1
        metrics = self._one_epoch(epoch)
        value = metrics.get(stop.metric)
        if value is not None:
            if improved(stop.metric, value, self.progress.best_metric, stop.min_delta):
                self.progress.best_metric, self.progress.best_epoch = value, epoch
                self.progress.epochs_without_gain = 0
            else:
                self.progress.epochs_without_gain += 1
        self.progress.epoch = epoch
        self.progress.history.append(metrics)
        self.progress.elapsed_seconds = time.monotonic() - self._session_start
        self._checkpoint(best=self.progress.best_epoch == epoch)
        if self.cfg.trainer.keep_epoch_weights and naming.METRIC_VAL_DICE in metrics:
            save_epoch_weights(self.run_dir, epoch, self.model.state_dict(), self.cfg.trainer.keep_epoch_weights)
        self.recorder.log_metrics(metrics, step=epoch)
        self.observer.epoch_finished(epoch, metrics)
        if stop.patience is not None and self.progress.epochs_without_gain >= stop.patience:
            return metrics, "early_stopping"
        if epoch >= trainer.epochs:
            return metrics, "max_epochs"
        return metrics, None

    def result(self, reason: str) -> TrainResult:
        """The run's outcome so far, ended for `reason`."""
        return TrainResult(
            run_id=self.recorder.run_id,
            status="FINISHED",
            stop_reason=reason,
            epochs_completed=self.progress.epoch,
            best_epoch=self.progress.best_epoch,
            best_metric=self.progress.best_metric,
            metric_name=self.cfg.trainer.early_stopping.metric,
            run_dir=self.run_dir,
            history=list(self.progress.history),
        )

    def _over_budget(self, session_start: float) -> bool:
        """Stop before an epoch that would end past trainer.max_minutes (judged by the mean epoch time)."""
        budget = self.cfg.trainer.max_minutes
        if budget is None or not self.progress.history:
            return False
        elapsed = time.monotonic() - session_start
        mean_epoch = elapsed / max(1, len(self.progress.history))
        return elapsed + mean_epoch > budget * 60.0

    def _one_epoch(self, epoch: int) -> dict[str, float]:
        tic = time.perf_counter()
        loader = train_loader(
            self.train_ds,
            self.cfg.trainer.batch_size,
            self.cfg.data.num_workers,
            self.cfg.trainer.seed,
            epoch,
        )
        self.observer.epoch_started(epoch, len(loader))
        loss = train_epoch(
            self.model,
            loader,
            self.loss_fn,
            self.optimizer,
            self.device,
            self.exp.amp_dtype,
            self.scaler,
            on_step=lambda step, value: self.observer.step_finished(epoch, step, value),
        )
        metrics = {naming.METRIC_TRAIN_LOSS: loss, naming.METRIC_LR: self.optimizer.param_groups[0]["lr"]}
        self.scheduler.step()
        last = epoch == self.cfg.trainer.epochs
        if epoch % self.cfg.trainer.val_interval == 0 or last:
            val, _ = validate(
                self.model,
                self.val_loader,
                self.spec.patch_size,
                self.cfg.inference,
                self.device,
                self.exp.amp_dtype,
            )
            metrics.update(val)
        metrics[naming.METRIC_EPOCH_SECONDS] = time.perf_counter() - tic
        return metrics

    def _checkpoint(self, best: bool) -> None:
        states = self.states()
        save_checkpoint(self.run_dir / LAST, self.spec, self.progress, states)
        if best:
            save_checkpoint(self.run_dir / BEST, self.spec, self.progress, {"model": states["model"]})


def params_and_tags(
    cfg: ExperimentConfig, manifest: DatasetManifest, spec: ModelSpec
) -> tuple[dict[str, str], dict[str, str]]:
    params = flatten(cfg)
    params["data.dir"] = str(manifest.root)
    params.update({f"model.resolved.{k}": str(v) for k, v in spec.options.items()})
    tags = {
        naming.TAG_MODEL_FAMILY: spec.adapter,
        naming.TAG_LOSS: cfg.loss.name,
        naming.TAG_DATA_VERSION: manifest.version,
        naming.TAG_RUN_KIND: "train",
    }
    tags.update(lineage_tags(manifest.root))
    return params, tags


def lineage_tags(data_dir: Path) -> dict[str, str]:
    """Where a reviewed dataset version came from (its ``lineage.json``): parent version and review ids."""
    path = data_dir / naming.LINEAGE_FILE
    if not path.is_file():
        return {}
    try:
        lineage = json.loads(path.read_text())
        ids = ",".join(str(i) for i in lineage["review_ids"])
        if len(ids) > naming.MAX_REVIEW_IDS_TAG:  # MLflow caps tag values; the full list is in lineage.json
            digest = hashlib.sha256(ids.encode()).hexdigest()[:16]
            ids = f"{len(lineage['review_ids'])} reviews, sha256 {digest}: see the lineage.json artifact"
        return {naming.TAG_PARENT_DATA_VERSION: str(lineage["parent_version"]), naming.TAG_REVIEW_IDS: ids}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TrainingError(f"{path} is not a readable dataset lineage ({exc}); restore it or remove it.") from exc


def wrap_failure(recorder: RunRecorder, exc: BaseException) -> BaseException:
    """Mark the run FAILED (KILLED on Ctrl-C) and return the error to raise."""
    if isinstance(exc, KeyboardInterrupt):
        recorder.set_tags({naming.TAG_ERROR: "KeyboardInterrupt: stopped by the user"})
        recorder.finish("KILLED")
        return exc
    recorder.fail(exc)
    if isinstance(exc, MinivessError):
        return exc
    return TrainingError(f"training run {recorder.run_id} failed: {type(exc).__name__}: {exc}")
