"""A search's state on disk: what was asked, what was planned, time spent; the Optuna study holds the trials.

``HOME/searches/<id>/search.json`` (written atomically after every change) + ``study.journal`` (Optuna's
journal storage, the state of record for trials) + ``report.html``. A driver holds ``driver.lock`` while it
runs, so a second `resume` of the same search fails fast instead of running trials twice.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from minivess.errors import ConfigError, TrainingError
from minivess.fileio import write_text_atomic
from minivess.pipelines.search.space import SearchSpace
from minivess.settings import Settings

SEARCHES_DIR = "searches"
RECORD_FILE, JOURNAL_FILE, REPORT_FILE, LOCK_FILE = "search.json", "study.journal", "report.html", "driver.lock"
Status = Literal["planned", "running", "interrupted", "finished", "failed"]


class SearchSpec(BaseModel):
    """What the user asked for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    budget_minutes: float = Field(gt=0, description="Wall-clock budget for all trials.")
    trials: int = Field(ge=1, le=500, description="Most trials to run.")
    families: tuple[str, ...] = Field(min_length=1, description="Model families the search may use.")
    epochs: int = Field(ge=1, le=1000, description="Most epochs per trial (ASHA stops weak trials earlier).")
    max_trial_minutes: float = Field(gt=0, description="Wall-clock cap per trial.")
    dataset: str | None = Field(None, description="Dataset folder; default the synthetic dataset.")
    seed: int = Field(0, description="Seed of the sampler and of every trial's training.")
    threads_per_trial: int = Field(2, ge=1, description="Torch threads (and Ray CPUs) per trial.")
    promotion_margin: float = Field(0.0, ge=0, description="clDice by which the best trial must beat the champion.")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Extra experiment values for every trial.")


class RoundRecord(BaseModel):
    index: int
    trials: int
    space: SearchSpace
    reasoning: str
    started: bool = False
    finished: bool = False


class SearchRecord(BaseModel):
    """The search's own state (not the trials: those are in the study and in MLflow)."""

    search_id: str
    created_at: float
    spec: SearchSpec
    reasoning: list[str] = Field(default_factory=list)
    warm_starts: list[dict[str, Any]] = Field(default_factory=list)
    rounds: list[RoundRecord] = Field(default_factory=list)
    parent_run_id: str | None = None
    status: Status = "planned"
    spent_seconds: float = 0.0
    sessions: int = 0
    storage_url: str | None = Field(None, description="An Optuna RDB URL; None = the journal file beside this.")
    error: str = ""
    notes: list[str] = Field(default_factory=list, description="Recoveries and failures, for the report.")
    promotion: dict[str, Any] = Field(default_factory=dict)

    @property
    def study_name(self) -> str:
        return f"minivess-search-{self.search_id}"

    def remaining_seconds(self) -> float:
        return self.spec.budget_minutes * 60.0 - self.spent_seconds


class SearchSummary(BaseModel):
    """A search at a glance (status command and the `search_status` tool)."""

    search_id: str
    status: str
    trials_finished: int
    trials_failed: int
    trials_running: int
    trials_planned: int
    minutes_spent: float
    budget_minutes: float
    best_run_id: str | None
    best_val_cldice: float | None
    best_config: dict[str, object]
    promotion: dict[str, object]
    report: str
    reasoning: list[str]


def searches_dir(settings: Settings) -> Path:
    return settings.home_dir / SEARCHES_DIR


def search_dir(settings: Settings, search_id: str) -> Path:
    return searches_dir(settings) / search_id


def new_search_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def save(settings: Settings, record: SearchRecord) -> None:
    folder = search_dir(settings, record.search_id)
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / RECORD_FILE, record.model_dump_json(indent=2))


def load(settings: Settings, search_id: str) -> SearchRecord:
    """A search by id, or ``last`` (the newest).

    Raises:
        ConfigError: No such search (the message lists the newest ones).
    """
    if search_id == "last":
        known = list_ids(settings)
        if not known:
            raise ConfigError("no searches yet; start one with `minivess search start`.")
        search_id = known[-1]
    path = search_dir(settings, search_id) / RECORD_FILE
    if not path.is_file():
        newest = ", ".join(list_ids(settings)[-5:]) or "none yet"
        raise ConfigError(f"no search {search_id!r} under {searches_dir(settings)} (newest: {newest}).")
    return SearchRecord.model_validate_json(path.read_text())


def list_ids(settings: Settings) -> list[str]:
    """Search ids, oldest first (ids start with their creation time)."""
    root = searches_dir(settings)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / RECORD_FILE).is_file())


def storage_target(settings: Settings, record: SearchRecord) -> str:
    """The Optuna storage: the record's RDB URL, or the journal file of this search."""
    return record.storage_url or str(search_dir(settings, record.search_id) / JOURNAL_FILE)


@contextmanager
def driving(settings: Settings, search_id: str) -> Iterator[None]:
    """Hold the search's driver lock; refuse when another live process drives it."""
    from filelock import FileLock, Timeout

    path = search_dir(settings, search_id) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0.5)
    except Timeout:
        raise TrainingError(
            f"search {search_id} is being run by another process right now; watch it with "
            f"`minivess search status {search_id}`."
        ) from None
    try:
        (path.parent / "driver.pid").write_text(str(os.getpid()))
        yield
    finally:
        lock.release()
