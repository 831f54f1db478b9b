"""The local score history: one JSON line per case per run under HOME/evals/, and summaries read back from it."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from minivess.settings import Settings

logger = logging.getLogger(__name__)

HISTORY_FILE = "history.jsonl"


class CaseRecord(BaseModel):
    """One case of one suite run, as stored in the history file."""

    model_config = ConfigDict(extra="ignore")

    run_id: str
    suite: str
    case_id: str
    scores: dict[str, float | None] = Field(description="scorer → score in [0, 1]; None: not applicable")
    metrics: dict[str, float] = Field(default_factory=dict, description="latency_s, llm_calls, cost_usd …")
    error: str | None = Field(None, description="the task's exception, when it raised")
    trace_id: str | None = None
    commit: str
    model: str
    dataset_version: str
    timestamp: str = Field(description="when the run started (ISO 8601, UTC)")


def evals_dir(settings: Settings) -> Path:
    return settings.home_dir / "evals"


def history_path(settings: Settings) -> Path:
    return evals_dir(settings) / HISTORY_FILE


def records_from_results(metadata: Mapping[str, Any], results: Iterable[Any]) -> list[CaseRecord]:
    """Turn Braintrust `EvalResult`s into history records, tagged with the run's metadata (see `RunInfo`)."""
    records = []
    for index, result in enumerate(results):
        case_meta = dict(result.metadata or {})
        output = result.output if isinstance(result.output, dict) else {}
        scores = {name: _clean(value) for name, value in (result.scores or {}).items()}
        metrics = {k: float(v) for k, v in (output.get("metrics") or {}).items() if isinstance(v, int | float)}
        error = None if result.error is None else f"{type(result.error).__name__}: {result.error}"
        records.append(
            CaseRecord(
                run_id=str(metadata.get("run_id", "unknown")),
                suite=str(metadata.get("suite", "unknown")),
                case_id=str(case_meta.get("case_id", f"case-{index}")),
                scores=scores,
                metrics=metrics,
                error=error,
                trace_id=case_meta.get("trace_id"),
                commit=str(metadata.get("commit", "unknown")),
                model=str(metadata.get("model", "unknown")),
                dataset_version=str(metadata.get("dataset_version", "unknown")),
                timestamp=str(metadata.get("started") or datetime.now(UTC).isoformat(timespec="seconds")),
            )
        )
    return records


def _clean(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def append_records(settings: Settings, records: Sequence[CaseRecord]) -> Path:
    """Append records to HOME/evals/history.jsonl (created on first use)."""
    path = history_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        for record in records:
            handle.write(record.model_dump_json() + "\n")
    return path


def read_records(path: Path) -> list[CaseRecord]:
    """Every record in a history file; unreadable lines are skipped with a warning (the file is append-only)."""
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(CaseRecord.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as exc:
            logger.warning("skipping line %d of %s: %s", number, path, str(exc).splitlines()[0])
    return records


@dataclass(frozen=True)
class RunSummary:
    """One run of one suite, summarised: mean per scorer over the cases where it applied."""

    suite: str
    run_id: str
    timestamp: str
    commit: str
    model: str
    dataset_version: str
    cases: int
    errors: int
    means: dict[str, float]
    records: tuple[CaseRecord, ...]

    @property
    def when(self) -> datetime:
        return datetime.fromisoformat(self.timestamp)


def summarize_runs(records: Iterable[CaseRecord]) -> dict[str, list[RunSummary]]:
    """Group records into runs: suite → runs, oldest first."""
    grouped: dict[tuple[str, str], list[CaseRecord]] = {}
    for record in records:
        grouped.setdefault((record.suite, record.run_id), []).append(record)
    by_suite: dict[str, list[RunSummary]] = {}
    for (suite, run_id), items in grouped.items():
        first = items[0]
        by_suite.setdefault(suite, []).append(
            RunSummary(
                suite=suite,
                run_id=run_id,
                timestamp=first.timestamp,
                commit=first.commit,
                model=first.model,
                dataset_version=first.dataset_version,
                cases=len(items),
                errors=sum(1 for r in items if r.error),
                means=mean_scores(items),
                records=tuple(items),
            )
        )
    for runs in by_suite.values():
        runs.sort(key=lambda run: run.timestamp)
    return by_suite


def mean_scores(records: Iterable[CaseRecord]) -> dict[str, float]:
    """Mean of each scorer over the records where it is not None (as Braintrust's summary computes it)."""
    totals: dict[str, list[float]] = {}
    for record in records:
        for name, value in record.scores.items():
            if value is not None:
                totals.setdefault(name, []).append(value)
    return {name: sum(values) / len(values) for name, values in sorted(totals.items())}


@dataclass(frozen=True)
class Regression:
    """A case whose score on some scorer dropped from the previous run to the latest one."""

    suite: str
    case_id: str
    scorer: str
    before: float | None
    after: float | None
    error: str | None = None


def regressions(previous: RunSummary, latest: RunSummary) -> list[Regression]:
    """Cases that got worse between two runs of a suite: a lower score, a score lost, or a new error."""
    before = {r.case_id: r for r in previous.records}
    found = []
    for record in latest.records:
        old = before.get(record.case_id)
        if old is None:
            continue
        if record.error and not old.error:
            found.append(Regression(latest.suite, record.case_id, "(task)", None, None, record.error))
            continue
        for scorer, was in old.scores.items():
            now = record.scores.get(scorer)
            if was is not None and (now is None or now < was - 1e-9):
                found.append(Regression(latest.suite, record.case_id, scorer, was, now))
    return found
