"""A fixed MLflow store for the analytics suite, built deterministically with MlflowClient.log_batch.

Adapted from the analytics tests' store builder (tests/unit/pipelines/analytics/mlflow_store.py): 15 runs of
three families in two experiments, FAILED runs with error tags, a RUNNING run, a NaN metric, and a registered
model with champion/challenger aliases. Same seed → same runs, values and timestamps; only the run ids (which
MLflow draws at random) differ between builds, which is why expected answers are computed per build.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from minivess.pipelines.tracking import naming

FIXTURE_VERSION: Final = "1"  # bump when the store's content changes (part of the dataset version)
T0_MS: Final = 1_790_000_000_000  # a fixed start so durations and timestamps are deterministic
EPOCHS: Final = 6
FAMILIES: Final = ("segresnet", "swinunetr", "dynunet")
LRS: Final = (1e-3, 3e-4, 1e-4)
ERRORS: Final = (
    "RuntimeError: CUDA out of memory",
    "ValueError: patch size 96 not divisible by 32",
    "RuntimeError: NaN loss at epoch 2",
)


@dataclass
class StoreInfo:
    """What a built store holds (run ids by role)."""

    uri: str
    experiment_id: str
    finished: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    champion: str = ""
    challenger: str = ""


@dataclass(frozen=True)
class RunSpec:
    """One run to log: its place in time (index), family, learning rate, loss and fate."""

    index: int
    family: str
    lr: float
    loss: str
    epochs: int = EPOCHS
    status: str = "FINISHED"
    error: str | None = None
    nan_epoch: int | None = None


def _epoch_values(rng: random.Random, epoch: int, nan: bool) -> dict[str, float]:
    dice = min(0.95, 0.3 + 0.08 * epoch * rng.uniform(0.5, 1.2) + rng.uniform(-0.05, 0.05))
    return {
        naming.METRIC_TRAIN_LOSS: 1.2 / epoch + rng.uniform(0, 0.1),
        naming.METRIC_VAL_DICE: math.nan if nan else dice,
        naming.METRIC_VAL_CLDICE: dice * rng.uniform(0.85, 1.05),
        naming.METRIC_VAL_HD95: 30.0 / epoch + rng.uniform(0, 8),
        naming.METRIC_EPOCH_SECONDS: 50 + rng.uniform(0, 20),
    }


def log_training_run(client: MlflowClient, experiment_id: str, spec: RunSpec, *, seed: int = 0) -> str:
    """One run shaped like the training engine's: params, tags, per-epoch histories (step = epoch)."""
    rng = random.Random(seed * 1000 + spec.index)
    start = T0_MS + spec.index * 3_600_000
    tags = {
        naming.TAG_MODEL_FAMILY: spec.family,
        naming.TAG_LOSS: spec.loss,
        naming.TAG_RUN_KIND: "train",
        naming.TAG_DATA_VERSION: "abc123def456",
    }
    run = client.create_run(experiment_id, start_time=start, run_name=f"{spec.family}-{spec.index:03d}", tags=tags)
    run_id: str = run.info.run_id
    params = [
        Param("model.name", spec.family),
        Param("optim.lr", repr(spec.lr)),
        Param("loss.name", spec.loss),
        Param("trainer.epochs", str(spec.epochs)),
        Param("data.patch_size", "[64, 64, 32]"),
        Param("trainer.amp", "true" if spec.index % 2 else "false"),
    ]
    metrics: list[Metric] = []
    for epoch in range(1, spec.epochs + 1):
        values = _epoch_values(rng, epoch, nan=spec.nan_epoch == epoch)
        metrics += [Metric(k, v, start + epoch * 60_000, epoch) for k, v in values.items()]
    extra = [RunTag(naming.TAG_BEST_EPOCH, str(rng.randint(1, spec.epochs)))]
    if spec.error is not None:
        extra.append(RunTag(naming.TAG_ERROR, spec.error))
    client.log_batch(run_id, metrics=metrics, params=params, tags=extra)
    if spec.status != "RUNNING":
        end = start + spec.epochs * 60_000 + rng.randint(0, 40) * 60_000  # durations differ per run
        client.set_terminated(run_id, spec.status, end_time=end)
    return run_id


def run_specs() -> tuple[list[RunSpec], list[RunSpec], list[RunSpec], RunSpec]:
    """(finished in the default experiment, finished in 'ablation', failed, running), in start order."""
    finished = []
    index = 0
    for family in FAMILIES:
        for k, lr in enumerate(LRS):
            loss = "dice_ce_cldice" if k % 2 else "dice_ce"
            nan_epoch = 3 if (family == "dynunet" and k == 0) else None
            finished.append(RunSpec(index, family, lr, loss, nan_epoch=nan_epoch))
            index += 1
    ablation = [RunSpec(index + i, family, 1e-3, "dice_ce") for i, family in enumerate(("segresnet", "swinunetr"))]
    index += len(ablation)
    failed = [
        RunSpec(index + i, "swinunetr", lr, "dice_ce", epochs=2, status="FAILED", error=error)
        for i, (error, lr) in enumerate(zip(ERRORS, (1e-2, 3e-2, 1e-1), strict=True))
    ]
    index += len(failed)
    running = RunSpec(index, "segresnet", 1e-3, "dice_ce", epochs=3, status="RUNNING")
    return finished, ablation, failed, running


def build_store(db_path: Path, *, seed: int = 0) -> StoreInfo:
    """Build the store in a new SQLite file (MLflow migrates it first: ~2 s)."""
    uri = f"sqlite:///{db_path}"
    client = MlflowClient(tracking_uri=uri)
    artifacts = (db_path.parent / "mlartifacts").as_uri()
    exp_id = client.create_experiment(naming.DEFAULT_EXPERIMENT, artifact_location=artifacts)
    other = client.create_experiment("ablation", artifact_location=artifacts)
    info = StoreInfo(uri=uri, experiment_id=exp_id)
    finished, ablation, failed, running = run_specs()
    info.finished = [log_training_run(client, exp_id, spec, seed=seed) for spec in finished]
    info.finished += [log_training_run(client, other, spec, seed=seed) for spec in ablation]
    info.failed = [log_training_run(client, exp_id, spec, seed=seed) for spec in failed]
    info.running = [log_training_run(client, exp_id, running, seed=seed)]
    client.create_registered_model(naming.DEFAULT_REGISTERED_MODEL)
    for alias, run_id in (("champion", info.finished[0]), ("challenger", info.finished[4])):
        version = client.create_model_version(naming.DEFAULT_REGISTERED_MODEL, f"runs:/{run_id}/model", run_id=run_id)
        client.set_registered_model_alias(naming.DEFAULT_REGISTERED_MODEL, alias, version.version)
    info.champion, info.challenger = info.finished[0], info.finished[4]
    return info
