"""A whole search from one call: plan from history, run, report, decide — what the CLI, tools and nightly use."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from minivess import catalog
from minivess.errors import ConfigError
from minivess.pipelines.governance import lineage
from minivess.pipelines.search import engine
from minivess.pipelines.search import record as records
from minivess.pipelines.search.engine import SearchObserver
from minivess.pipelines.search.planning import SearchPlan, plan_search
from minivess.pipelines.search.record import SearchRecord, SearchSpec, SearchSummary
from minivess.pipelines.search.trial_state import TrialRow, trial_rows
from minivess.settings import Settings

logger = logging.getLogger(__name__)

# SwinUNETR costs ~120 CPU s per epoch (catalog): a search includes it only when asked by name.
DEFAULT_FAMILIES = tuple(name for name, entry in catalog.MODELS.items() if entry.cpu_seconds_per_epoch <= 30)


def check_families(families: Sequence[str] | None) -> tuple[str, ...]:
    """The families to search: the given ones (validated) or the CPU-affordable default."""
    if not families:
        return DEFAULT_FAMILIES
    unknown = [f for f in families if f not in catalog.MODELS]
    if unknown:
        raise ConfigError(f"unknown model family {', '.join(unknown)}; choose from {', '.join(catalog.MODEL_NAMES)}.")
    return tuple(dict.fromkeys(families))


def plan(spec: SearchSpec, settings: Settings) -> SearchPlan:
    """Read the warehouse and plan the search (the embedded strategy, `planning.plan_search`)."""
    from minivess.pipelines.search.history import past_runs

    return plan_search(past_runs(settings), spec.families, spec.trials)


@lineage.job("search")
def start(
    spec: SearchSpec, settings: Settings, observer: SearchObserver | None = None, search_plan: SearchPlan | None = None
) -> SearchRecord:
    """Plan (unless given a plan), create and run a search; then report and decide (see `finish`)."""
    observer = observer or engine.NullSearchObserver()
    search_plan = search_plan or plan(spec, settings)
    for line in search_plan.reasoning:
        observer.note(line)
    record = engine.create_search(spec, search_plan, settings)
    observer.note(f"search {record.search_id} created (parent run {record.parent_run_id}).")
    return finish(engine.drive(record.search_id, settings, observer), settings)


def resume(search_id: str, settings: Settings, observer: SearchObserver | None = None) -> SearchRecord:
    """Continue an interrupted or killed search, then report and decide."""
    return finish(engine.drive(search_id, settings, observer), settings)


def finish(record: SearchRecord, settings: Settings, *, decide: bool = True) -> SearchRecord:
    """Write the HTML report (linked from the parent run) and, once, the challenger decision."""
    from minivess.pipelines.search.promotion import decide as decide_promotion

    rows = trial_rows(settings, record)
    best = best_trial(rows)
    if decide and best is not None and best.run_id and not record.promotion and record.status == "finished":
        outcome = decide_promotion(best.run_id, settings, record.spec.promotion_margin)
        record.promotion = outcome.model_dump()
        records.save(settings, record)
    write(record, settings, rows)
    return record


def write(record: SearchRecord, settings: Settings, rows: Sequence[TrialRow] | None = None) -> None:
    from minivess.pipelines.search.report import write_report
    from minivess.pipelines.tracking.mlflow_run import client_for

    path = records.search_dir(settings, record.search_id) / records.REPORT_FILE
    write_report(path, record, rows if rows is not None else trial_rows(settings, record))
    if record.parent_run_id:
        client = client_for(settings.tracking_uri)
        client.log_artifact(record.parent_run_id, str(path), "search")
        client.set_tag(record.parent_run_id, "minivess.search.report", str(path))


def best_trial(rows: Sequence[TrialRow]) -> TrialRow | None:
    scored = [r for r in rows if r.score is not None and r.run_status == "FINISHED"]
    return max(scored, key=lambda r: r.score or 0.0) if scored else None


def summary(record: SearchRecord, settings: Settings) -> SearchSummary:
    rows = trial_rows(settings, record)
    best = best_trial(rows)
    counted = [r for r in rows if not r.interrupted]
    return SearchSummary(
        search_id=record.search_id,
        status=record.status,
        trials_finished=sum(r.state == "COMPLETE" for r in counted),
        trials_failed=sum(r.state == "FAIL" for r in counted),
        trials_running=sum(r.state == "RUNNING" for r in counted),
        trials_planned=record.spec.trials,
        minutes_spent=round(record.spent_seconds / 60.0, 2),
        budget_minutes=record.spec.budget_minutes,
        best_run_id=best.run_id if best else None,
        best_val_cldice=best.score if best else None,
        best_config=dict(best.config) if best else {},
        promotion=dict(record.promotion),
        report=str(records.search_dir(settings, record.search_id) / records.REPORT_FILE),
        reasoning=list(record.reasoning),
    )
