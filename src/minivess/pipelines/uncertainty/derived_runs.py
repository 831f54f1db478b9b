"""Runs made from other runs (ensembles, soups): logged to MLflow like a training run, so the leaderboard,
evaluate, predict and promote treat them like any run.

A derived run gets its source's config, splits and manifest (so evaluation uses the same test split), its own
exported ``model/`` folder, the family tag ``ensemble`` / ``soup`` and its members as params. Everything is
computed before the run is created; a failure while logging marks the run FAILED.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from minivess.pipelines.tracking import naming, run_names
from minivess.pipelines.tracking.mlflow_run import RunRecorder
from minivess.pipelines.tracking.registry import MODEL_ARTIFACT
from minivess.pipelines.training.engine import wrap_failure
from minivess.pipelines.training.evaluation import OpenedRun
from minivess.pipelines.training.runs import CONFIG_FILE, MANIFEST_FILE, SPLITS_FILE, run_dir_for
from minivess.settings import Settings

logger = logging.getLogger(__name__)


def create_derived_run(
    source: OpenedRun,
    settings: Settings,
    *,
    family: str,
    variant: str,
    params: dict[str, str],
    metrics: dict[int, dict[str, float]],
    write_files: Callable[[Path], None],
    artifact_dirs: tuple[str, ...] = (),
) -> str:
    """Create, fill and finish an MLflow run derived from ``source``; returns its id.

    Args:
        source: The run whose config, splits and manifest the new run shares (the first member).
        family: The ``minivess.model_family`` tag (``ensemble`` or ``soup``).
        variant: Second part of the generated name (``ensemble-mean-0012``) and the loss tag.
        params: MLflow params (members, strategy, kept epochs…).
        metrics: step → metrics; validation metrics at step 1 (the leaderboard's best-over-steps), test at 0.
        write_files: Writes the exported model into ``<run dir>/model`` (and any other files) given the run dir.
        artifact_dirs: Folders under the run dir, besides ``model``, to log as artifacts of the same name.
    """
    client = source.client
    experiment_id = client.get_run(source.run_id).info.experiment_id
    name, name_tags = run_names.new_run_name(client, experiment_id, family, variant)
    tags = {
        **name_tags,
        naming.TAG_MODEL_FAMILY: family,
        naming.TAG_LOSS: variant,
        naming.TAG_DATA_VERSION: source.manifest.version,
        naming.TAG_RUN_KIND: family,
    }
    recorder = RunRecorder.create(client, experiment_id, name, tags)
    try:
        run_names.claim_run_name(client, experiment_id, recorder.run_id, name)
        run_dir = run_dir_for(settings, recorder.run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        for file_name in (CONFIG_FILE, SPLITS_FILE, MANIFEST_FILE):
            shutil.copy2(source.folder / file_name, run_dir / file_name)
        write_files(run_dir)
        recorder.log_params(params)
        for step, values in metrics.items():
            if values:
                recorder.log_metrics(values, step=step)
        for file_name in (CONFIG_FILE, SPLITS_FILE, MANIFEST_FILE):
            recorder.log_artifact(run_dir / file_name, "run")
        recorder.log_artifact(run_dir / MODEL_ARTIFACT, MODEL_ARTIFACT)
        for folder in artifact_dirs:
            if (run_dir / folder).exists():
                recorder.log_artifact(run_dir / folder, folder)
        recorder.finish("FINISHED")
    except BaseException as exc:
        raise wrap_failure(recorder, exc) from exc
    logger.info("derived %s run %s from %s", family, recorder.run_id, source.run_id)
    return recorder.run_id
