"""Run ids as users type them: a full id, a unique id prefix (≥ 6 hex characters) or ``last``."""

from __future__ import annotations

import re
from typing import Final

from mlflow.entities import Run, ViewType
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from minivess.errors import TrainingError

MIN_PREFIX: Final = 6
RUN_ID_LENGTH: Final = 32  # MLflow run ids are uuid4 hex
MAX_CANDIDATES: Final = 5  # shown when a prefix is ambiguous
_HEX = re.compile(r"[0-9a-f]+")
_LIST_HINT = "list runs with `minivess runs leaderboard`"


def resolve_run_id(client: MlflowClient, ref: str) -> str:
    """A full MLflow run id for ``ref``: a full id, a unique id prefix (≥ 6 hex characters) or ``last``.

    Args:
        client: The tracking store's client.
        ref: What the user or the model typed; surrounding spaces and a trailing ``…`` are ignored.

    Returns:
        The run id.

    Raises:
        TrainingError: No run matches, the prefix is too short, or it matches several runs (they are listed).
    """
    ref = ref.strip().rstrip("…").rstrip(".").strip()
    if ref == "last":
        return _last_run(client)
    key = ref.lower()
    if not _HEX.fullmatch(key):
        return _exact_run(client, ref)
    if len(key) == RUN_ID_LENGTH:
        return _exact_run(client, key)
    if len(key) < MIN_PREFIX:
        raise TrainingError(
            f"run id prefix '{ref}' is too short: give at least {MIN_PREFIX} characters of the id "
            f"(or the full id, or 'last'); {_LIST_HINT}."
        )
    matches = search_prefix(client, key, MAX_CANDIDATES + 1)
    if not matches:
        raise TrainingError(f"no run id starts with '{ref}' in the tracking store; {_LIST_HINT}.")
    if len(matches) > 1:
        shown = ", ".join(_describe(run) for run in matches[:MAX_CANDIDATES])
        more = " and more" if len(matches) > MAX_CANDIDATES else ""
        raise TrainingError(
            f"run id prefix '{ref}' is ambiguous: it matches {shown}{more}; give more characters of the id."
        )
    return str(matches[0].info.run_id)


def search_prefix(client: MlflowClient, prefix: str, max_results: int) -> list[Run]:
    """Runs (active and deleted experiments alike) whose id starts with ``prefix`` (lowercase hex)."""
    if not _HEX.fullmatch(prefix):  # the prefix goes into a filter string: hex only, never quotes
        raise TrainingError(f"'{prefix}' is not a run id prefix (hexadecimal characters only).")
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    if not experiments:
        return []
    runs = client.search_runs(
        experiments,
        filter_string=f"attributes.run_id LIKE '{prefix}%'",
        run_view_type=ViewType.ACTIVE_ONLY,
        max_results=max_results,
        order_by=["attributes.start_time DESC"],
    )
    return list(runs)


def _last_run(client: MlflowClient) -> str:
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = (
        client.search_runs(experiments, order_by=["attributes.start_time DESC"], max_results=1) if experiments else []
    )
    if not runs:
        raise TrainingError("there are no runs yet; train one with `minivess train`.")
    return str(runs[0].info.run_id)


def _exact_run(client: MlflowClient, ref: str) -> str:
    try:
        return str(client.get_run(ref).info.run_id)
    except MlflowException as exc:
        raise TrainingError(
            f"no run '{ref}' in the tracking store; give a run id, a unique id prefix (≥ {MIN_PREFIX} "
            f"characters) or 'last'; {_LIST_HINT}."
        ) from exc


def _describe(run: Run) -> str:
    name = run.info.run_name
    return f"{run.info.run_id} ({name})" if name else str(run.info.run_id)
