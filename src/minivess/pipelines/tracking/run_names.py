"""Readable MLflow run names unique within an experiment: ``<model>-<loss>-<NNNN>`` (e.g. ``segresnet-dice_ce-0007``).

The number is one more than the highest ``minivess.run_number`` tag among the experiment's recent runs. Two
processes that start together can pick the same number, so a new run *claims* its name after it exists:
it searches the experiment for that name, and if any other run holds it, it renames itself to
``<name>-<first 8 characters of its run id>``. Whichever of two racing runs is created second always sees the
first (its search happens after both inserts), so at most one run keeps the plain name and the others get
distinct suffixed ones — no lock needed, and it works the same on a shared tracking server.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from mlflow.entities import ViewType

from minivess.pipelines.tracking.naming import TAG_RUN_NUMBER

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

RECENT_RUNS: Final = 200  # runs searched for the highest number (newest first)
SUFFIX_LENGTH: Final = 8
_UNSAFE = re.compile(r"[^a-z0-9_.]+")


def base_name(family: str, loss: str, number: int) -> str:
    """``segresnet-dice_ce-0007``: lower-case, filter-safe parts and a zero-padded number."""
    parts = [_UNSAFE.sub("_", part.lower()).strip("_") or "run" for part in (family, loss)]
    return f"{parts[0]}-{parts[1]}-{number:04d}"


def next_run_number(client: MlflowClient, experiment_id: str) -> int:
    """One more than the highest run number among the experiment's recent numbered runs (1 for the first)."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{TAG_RUN_NUMBER}` LIKE '%'",
        run_view_type=ViewType.ALL,
        max_results=RECENT_RUNS,
        order_by=["attributes.start_time DESC"],
    )
    numbers = [int(value) for run in runs if (value := run.data.tags.get(TAG_RUN_NUMBER, "")).isdigit()]
    return max(numbers, default=0) + 1


def new_run_name(client: MlflowClient, experiment_id: str, family: str, loss: str) -> tuple[str, dict[str, str]]:
    """A proposed name for a new run and the tags to create it with (then call ``claim_run_name``)."""
    number = next_run_number(client, experiment_id)
    return base_name(family, loss, number), {TAG_RUN_NUMBER: str(number)}


def claim_run_name(client: MlflowClient, experiment_id: str, run_id: str, name: str) -> str:
    """Keep ``name`` for the new run ``run_id`` unless another run of the experiment has it; return the final name."""
    if "'" in name or "\\" in name:
        raise ValueError(f"run name {name!r} cannot be searched for; use letters, digits, '-', '_' and '.'.")
    holders = client.search_runs(
        [experiment_id],
        filter_string=f"attributes.run_name = '{name}'",
        run_view_type=ViewType.ALL,
        max_results=50,
    )
    if all(run.info.run_id == run_id for run in holders):
        return name
    unique = f"{name}-{run_id[:SUFFIX_LENGTH]}"
    client.update_run(run_id, name=unique)
    return unique
