"""Model registry: register a run's exported model, move the champion/challenger aliases, fetch by alias."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from minivess.errors import TrackingError

logger = logging.getLogger(__name__)

MODEL_ARTIFACT = "model"
Alias = Literal["champion", "challenger"]
ALIASES: tuple[Alias, ...] = ("champion", "challenger")


def register_run_model(client: MlflowClient, run_id: str, name: str, alias: Alias | None = None) -> ModelVersion:
    """Register the `model/` artifact of a run (state_dict + spec) as a new version of `name`."""
    run = client.get_run(run_id)
    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, description="minivess vessel segmentation models (state_dict + spec).")
    source = f"{run.info.artifact_uri.rstrip('/')}/{MODEL_ARTIFACT}"
    version = client.create_model_version(name, source=source, run_id=run_id)
    if alias:
        set_alias(client, name, alias, version.version)
    logger.info("registered %s version %s from run %s", name, version.version, run_id)
    return version


def set_alias(client: MlflowClient, name: str, alias: Alias, version: str | int) -> None:
    if alias not in ALIASES:
        raise TrackingError(f"alias '{alias}' is not one of {', '.join(ALIASES)}.")
    client.set_registered_model_alias(name, alias, str(version))


def resolve_version(client: MlflowClient, name: str, ref: str) -> ModelVersion:
    """A version by alias (``champion``) or number (``3``)."""
    try:
        if ref.isdigit():
            return client.get_model_version(name, ref)
        return client.get_model_version_by_alias(name, ref)
    except MlflowException as exc:
        raise TrackingError(f"no version '{ref}' of registered model '{name}': {exc.message}") from exc


def download_version(client: MlflowClient, version: ModelVersion, dst: Path) -> Path:
    """Download a registered version's files (model.pt + model.json) into `dst`."""
    dst.mkdir(parents=True, exist_ok=True)
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=version.source, dst_path=str(dst)))


def alias_ref(ref: str) -> tuple[Alias, str] | None:
    """``'champion[:<model>]'`` / ``'challenger[:<model>]'`` → (alias, registered model); anything else → None."""
    from minivess.pipelines.tracking.naming import DEFAULT_REGISTERED_MODEL

    alias, _, name = ref.strip().partition(":")
    for known in ALIASES:
        if alias == known:
            return known, name or DEFAULT_REGISTERED_MODEL
    return None


def run_for_alias(client: MlflowClient, alias: Alias, name: str) -> str:
    """The run id behind a registry alias (``champion`` of ``minivess-segmenter``)."""
    version = resolve_version(client, name, alias)
    if not version.run_id:
        raise TrackingError(f"the {alias} of {name} has no run behind it.")
    return str(version.run_id)


def resolve_model_ref(client: MlflowClient, ref: str) -> str:
    """A run id for a registry alias (``champion[:<model>]``) or a run reference (id, prefix, ``last``)."""
    from minivess.pipelines.tracking.refs import resolve_run_id

    aliased = alias_ref(ref)
    return run_for_alias(client, *aliased) if aliased else resolve_run_id(client, ref)
