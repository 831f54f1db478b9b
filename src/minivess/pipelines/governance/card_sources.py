"""Facts for a model card, read from recorded sources only: MLflow, run files, the warehouse, versions, audit.

Each reader returns ``None`` (or an empty collection) when its source is absent; the card says so.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from minivess.errors import MinivessError, TrackingError
from minivess.pipelines.data.manifest import DatasetManifest
from minivess.pipelines.governance import audit
from minivess.pipelines.governance.versions import DatasetVersion, list_versions
from minivess.pipelines.tracking import naming
from minivess.pipelines.tracking.refs import resolve_run_id
from minivess.pipelines.tracking.registry import alias_ref, resolve_version
from minivess.settings import Settings

logger = logging.getLogger(__name__)

TAG_DVC_VERSION = "minivess.dvc_version"
CONFORMAL_TAG_PREFIX = "minivess.conformal.fnr_"
MANIFEST_FILE = "manifest.json"  # training.runs.MANIFEST_FILE, without importing torch for a card


@dataclass
class ModelTarget:
    """What a card is about: a run, and the registered version made from it (if any)."""

    run_id: str
    registered_model: str | None = None
    version: str | None = None
    aliases: list[str] = field(default_factory=list)


def resolve_target(client: MlflowClient, ref: str) -> ModelTarget:
    """``champion[:<model>]``, ``challenger[:<model>]``, ``<model>@<version|alias>`` or a run reference.

    Raises:
        TrackingError, TrainingError: nothing matches ``ref`` (one line naming what to give instead).
    """
    ref = ref.strip()
    aliased = alias_ref(ref)
    if aliased is not None or ("@" in ref and not ref.startswith("@")):
        alias, name = aliased if aliased else (ref.partition("@")[2], ref.partition("@")[0])
        try:
            version = resolve_version(client, name, alias)
        except TrackingError as exc:
            raise TrackingError(
                f'{exc} Give a run id instead, or register one first (e.g. `minivess ask "promote the last run to '
                f'{alias if alias in ("champion", "challenger") else "champion"}"`).'
            ) from exc
        if not version.run_id:
            raise TrackingError(f"version {version.version} of {name} has no run behind it.")
        return ModelTarget(str(version.run_id), name, str(version.version), list(version.aliases or []))
    run_id = resolve_run_id(client, ref)
    try:
        versions = list(client.search_model_versions(f"run_id = '{run_id}'"))  # hex run id: safe in the filter
    except MlflowException:
        versions = []
    if not versions:
        return ModelTarget(run_id)
    latest = max(versions, key=lambda v: int(v.version))
    return ModelTarget(run_id, str(latest.name), str(latest.version), list(latest.aliases or []))


def best_of(client: MlflowClient, run_id: str, metric: str) -> tuple[float, int] | None:
    """The best value of a per-epoch metric over its history, and its step (epoch)."""
    history = client.get_metric_history(run_id, metric)
    if not history:
        return None
    lower = metric in naming.LOWER_IS_BETTER
    best = min(history, key=lambda m: m.value) if lower else max(history, key=lambda m: m.value)
    return float(best.value), int(best.step)


def run_file(client: MlflowClient, settings: Settings, run_id: str, local: str, artifact: str) -> Any | None:
    """A JSON file of the run: the local run folder first, else the run's MLflow artifact; None if neither."""
    path = settings.runs_dir / run_id / local  # training.runs.run_dir_for
    if path.is_file():
        return json.loads(path.read_text())
    import mlflow

    folder, _, name = artifact.rpartition("/")
    try:
        listed = {Path(a.path).name for a in client.list_artifacts(run_id, folder or None)}
    except (MlflowException, OSError):
        return None
    if name not in listed:  # asking MLflow to download a missing file prints a progress bar, then fails
        return None
    with tempfile.TemporaryDirectory(prefix=".card-", dir=settings.home_dir) as tmp:
        try:
            got = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=artifact, dst_path=tmp)
        except (MlflowException, OSError):
            return None
        return json.loads(Path(got).read_text())


def manifest_of(client: MlflowClient, settings: Settings, run_id: str) -> DatasetManifest | None:
    raw = run_file(client, settings, run_id, MANIFEST_FILE, f"run/{MANIFEST_FILE}")
    return DatasetManifest.model_validate(raw) if raw is not None else None


def evaluations(client: MlflowClient, settings: Settings, run_id: str) -> dict[str, dict[str, Any]]:
    """split → the ``evaluation/<split>_metrics.json`` report of the run (empty when never evaluated)."""
    found: dict[str, dict[str, Any]] = {}
    for split in ("test", "val", "train"):
        name = f"{split}_metrics.json"
        report = run_file(client, settings, run_id, f"evaluation/{name}", f"evaluation/{name}")
        if report is not None:
            found[split] = report
    return found


def conformal(run: Run) -> dict[str, dict[str, float]]:
    """alpha → {threshold, temperature, n_calibration, test_fnr (if measured)} from the run's tags/metrics."""
    out: dict[str, dict[str, float]] = {}
    for key, raw in run.data.tags.items():
        if not key.startswith(CONFORMAL_TAG_PREFIX):
            continue
        alpha = key.removeprefix(CONFORMAL_TAG_PREFIX)
        try:
            stored = {k: float(v) for k, v in json.loads(raw).items()}
        except (json.JSONDecodeError, TypeError, ValueError, AttributeError):
            continue
        fnr = run.data.metrics.get(f"test_fnr_at_{alpha}")
        if fnr is not None:
            stored["test_fnr"] = float(fnr)
        out[alpha] = stored
    return dict(sorted(out.items()))


def rank(settings: Settings, run_id: str, metric: str = naming.METRIC_VAL_DICE) -> tuple[int, int] | None:
    """(rank, competing runs) of the run on the warehouse leaderboard by ``metric``; None if not ranked."""
    from minivess.pipelines.analytics.queries import leaderboard
    from minivess.pipelines.analytics.warehouse import Warehouse

    try:
        board = leaderboard(metric, by="none", limit=10_000, warehouse=Warehouse(settings=settings))
    except (MinivessError, OSError) as exc:
        logger.info("no leaderboard rank for %s: %s", run_id, exc)
        return None
    for row in board.rows:
        if row.run.run_id == run_id:
            return row.rank, len(board.rows)
    return None


def recorded_versions(settings: Settings) -> list[DatasetVersion] | None:
    """Every recorded DVC dataset version (None: the registry cannot be read; the card says so)."""
    try:
        return list_versions(settings)
    except (MinivessError, OSError) as exc:
        logger.info("dataset versions unavailable: %s", exc)
        return None


def dataset_versions(settings: Settings, data_version: str | None, dvc_version: str | None) -> list[Any] | None:
    """Recorded DVC dataset versions matching the run's manifest or DVC version (None: no version registry)."""
    recorded = recorded_versions(settings)
    if recorded is None:
        return None
    return [v for v in recorded if v.version == dvc_version or (data_version and v.manifest_version == data_version)]


def audit_entries(settings: Settings, target: ModelTarget) -> list[Any] | None:
    """Audit entries about the run or its registered version (None: no audit trail module)."""
    try:
        entries = audit.entries(settings)
    except (MinivessError, OSError) as exc:
        logger.info("audit trail unavailable: %s", exc)
        return None
    names = _subject_names(target)
    return [
        e
        for e in entries
        if e.mlflow_run_id == target.run_id
        or any(n in (e.subject or "") for n in names)
        or _approves_run(e.details, target.run_id)
    ]


def _approves_run(details: dict[str, Any] | None, run_id: str) -> bool:
    """An approval or rejection of a tool call on this run (its arguments may name a unique prefix, >= 6 chars)."""
    arguments = (details or {}).get("arguments")
    named = arguments.get("run_id") if isinstance(arguments, dict) else None
    return isinstance(named, str) and len(named) >= 6 and run_id.startswith(named)


def _subject_names(target: ModelTarget) -> list[str]:
    names = [target.run_id]
    if target.registered_model and target.version:
        model, version = target.registered_model, target.version
        names += [f"{model} v{version}", f"{model}:{version}", f"{model}/{version}", f"{model}@{version}"]
        names += [f"{model} version {version}"]
    return names


def synthetic_source(data_dir: str | None) -> dict[str, Any] | None:
    """The generator's ``dataset.json`` of the training folder, if it is a synthetic dataset that still exists."""
    if not data_dir:
        return None
    path = Path(data_dir).expanduser() / "dataset.json"
    try:
        payload = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return payload if isinstance(payload, dict) and "generator_version" in payload else None
