"""Build real MLflow stores with MLflow's own client, as the training engine would (naming.py tags)."""

from __future__ import annotations

import math
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from minivess.pipelines.tracking import naming

T0_MS = 1_790_000_000_000  # a fixed start so durations and timestamps are deterministic
EPOCHS = 6
FAMILIES = ("segresnet", "swinunetr", "dynunet")


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


def sqlite_uri(path: Path) -> str:
    """The tracking URI of a SQLite file."""
    return f"sqlite:///{path}"


def log_training_run(
    client: MlflowClient,
    experiment_id: str,
    *,
    index: int,
    family: str,
    lr: float,
    loss: str,
    epochs: int = EPOCHS,
    status: str = "FINISHED",
    error: str | None = None,
    seed: int = 0,
    nan_epoch: int | None = None,
) -> str:
    """One run shaped like the training engine's: params, tags, per-epoch histories (step = epoch)."""
    rng = random.Random(seed * 1000 + index)
    start = T0_MS + index * 3_600_000
    run = client.create_run(
        experiment_id,
        start_time=start,
        run_name=f"{family}-{index:03d}",
        tags={
            naming.TAG_MODEL_FAMILY: family,
            naming.TAG_LOSS: loss,
            naming.TAG_RUN_KIND: "train",
            naming.TAG_DATA_VERSION: "abc123def456",
        },
    )
    run_id: str = run.info.run_id
    params = [
        Param("model.name", family),
        Param("optim.lr", repr(lr)),
        Param("loss.name", loss),
        Param("trainer.epochs", str(epochs)),
        Param("data.patch_size", "[64, 64, 32]"),
        Param("trainer.amp", "true" if index % 2 else "false"),
    ]
    metrics: list[Metric] = []
    for epoch in range(1, epochs + 1):
        ts = start + epoch * 60_000
        dice = min(0.95, 0.3 + 0.08 * epoch * rng.uniform(0.5, 1.2) + rng.uniform(-0.05, 0.05))
        values = {
            naming.METRIC_TRAIN_LOSS: 1.2 / epoch + rng.uniform(0, 0.1),
            naming.METRIC_VAL_DICE: dice,
            naming.METRIC_VAL_CLDICE: dice * rng.uniform(0.85, 1.05),
            naming.METRIC_VAL_HD95: 30.0 / epoch + rng.uniform(0, 8),
            naming.METRIC_EPOCH_SECONDS: 50 + rng.uniform(0, 20),
        }
        if nan_epoch == epoch:
            values[naming.METRIC_VAL_DICE] = math.nan
        metrics += [Metric(k, v, ts, epoch) for k, v in values.items()]
    tags = [RunTag(naming.TAG_BEST_EPOCH, str(rng.randint(1, epochs)))]
    if error is not None:
        tags.append(RunTag(naming.TAG_ERROR, error))
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    if status != "RUNNING":
        # Durations differ per run (minutes), so the cost frontier has something to trade off.
        end = start + epochs * 60_000 + rng.randint(0, 40) * 60_000
        client.set_terminated(run_id, status, end_time=end)
    return run_id


def build_store(db_path: Path, *, seed: int = 0) -> StoreInfo:
    """A store with finished runs of three families, FAILED runs with error tags, a RUNNING run,
    a NaN metric, a second experiment, and a registered model with champion/challenger aliases."""
    uri = sqlite_uri(db_path)
    client = MlflowClient(tracking_uri=uri)
    artifacts = (db_path.parent / "mlartifacts").as_uri()
    exp_id = client.create_experiment(naming.DEFAULT_EXPERIMENT, artifact_location=artifacts)
    other = client.create_experiment("ablation", artifact_location=artifacts)
    info = StoreInfo(uri=uri, experiment_id=exp_id)
    lrs = (1e-3, 3e-4, 1e-4)
    index = 0
    for family in FAMILIES:
        for k, lr in enumerate(lrs):
            loss = "dice_ce_cldice" if k % 2 else "dice_ce"
            nan_epoch = 3 if (family == "dynunet" and k == 0) else None
            info.finished.append(
                log_training_run(client, exp_id, index=index, family=family, lr=lr, loss=loss, seed=seed,
                                 nan_epoch=nan_epoch)
            )  # fmt: skip
            index += 1
    for family in ("segresnet", "swinunetr"):
        info.finished.append(
            log_training_run(client, other, index=index, family=family, lr=1e-3, loss="dice_ce", seed=seed)
        )
        index += 1
    errors = ("RuntimeError: CUDA out of memory", "ValueError: patch size 96 not divisible by 32",
              "RuntimeError: NaN loss at epoch 2")  # fmt: skip
    for error, lr in zip(errors, (1e-2, 3e-2, 1e-1), strict=True):
        info.failed.append(
            log_training_run(client, exp_id, index=index, family="swinunetr", lr=lr, loss="dice_ce", epochs=2,
                             status="FAILED", error=error, seed=seed)
        )  # fmt: skip
        index += 1
    info.running.append(
        log_training_run(client, exp_id, index=index, family="segresnet", lr=1e-3, loss="dice_ce", epochs=3,
                         status="RUNNING", seed=seed)
    )  # fmt: skip
    client.create_registered_model(naming.DEFAULT_REGISTERED_MODEL)
    for alias, run_id in (("champion", info.finished[0]), ("challenger", info.finished[4])):
        version = client.create_model_version(naming.DEFAULT_REGISTERED_MODEL, f"runs:/{run_id}/model", run_id=run_id)
        client.set_registered_model_alias(naming.DEFAULT_REGISTERED_MODEL, alias, version.version)
    info.champion, info.challenger = info.finished[0], info.finished[4]
    return info


def install_store(template: Path, home: Path) -> Path:
    """Copy a built store into a test's MINIVESS_HOME as the default tracking DB (home/mlflow.db)."""
    home.mkdir(parents=True, exist_ok=True)
    target = home / "mlflow.db"
    shutil.copyfile(template, target)
    return target


def create_runs_with_ids(client: MlflowClient, experiment_id: str, run_ids: list[str]) -> list[str]:
    """Runs whose ids we choose (to share a prefix): MLflow's SQL store draws ids from ``uuid.uuid4().hex``."""
    import uuid
    from types import SimpleNamespace

    from mlflow.store.tracking import sqlalchemy_store

    queue = [uuid.UUID(hex=run_id) for run_id in run_ids]
    original = sqlalchemy_store.uuid
    sqlalchemy_store.uuid = SimpleNamespace(uuid4=queue.pop, UUID=uuid.UUID)  # type: ignore[assignment]
    try:
        queue.reverse()
        return [client.create_run(experiment_id, run_name=f"twin-{k}").info.run_id for k in range(len(run_ids))]
    finally:
        sqlalchemy_store.uuid = original
