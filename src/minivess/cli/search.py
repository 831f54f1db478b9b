"""`minivess search start | status | resume | report` and `minivess nightly`: model search from the terminal.

Ray, Optuna, torch and MLflow are imported inside the commands, so `minivess --help` stays fast.
"""

from __future__ import annotations

import logging
from typing import Any

import typer

from minivess.cli import render
from minivess.cli.context import get_settings

logger = logging.getLogger(__name__)

app = typer.Typer(help="Model search: Ray Tune trials, Optuna TPE, planned from past runs.", no_args_is_help=True)

BudgetOpt = typer.Option(30.0, "--budget-minutes", "-b", min=0.1, help="Wall-clock budget for all trials.")
TrialsOpt = typer.Option(12, "--trials", "-n", min=1, max=500, help="Most trials to run.")
FamiliesOpt = typer.Option(
    None, "--families", "-f", help="Model family to search (repeat); default segresnet and dynunet."
)
EpochsOpt = typer.Option(6, "--epochs", min=1, max=1000, help="Most epochs per trial (ASHA stops weak ones).")
TrialMinutesOpt = typer.Option(None, "--max-trial-minutes", min=0.1, help="Cap per trial (default: budget / 2).")
MarginOpt = typer.Option(0.0, "--margin", min=0.0, help="Test clDice by which the best must beat the champion.")
DatasetOpt = typer.Option(None, "--dataset", help="Dataset folder (raw/ + seg/); default the synthetic dataset.")
SetOpt = typer.Option([], "--set", "-s", help="Experiment value for every trial, e.g. --set trainer.batch_size=2.")
SeedOpt = typer.Option(0, "--seed", help="Seed of the sampler and of every trial.")


class SearchProgress:
    """Rich progress for a search (implements the engine's SearchObserver)."""

    def __init__(self, total: int) -> None:
        self.bar = render.progress()
        self.task = self.bar.add_task("trials", total=total, status="")
        self.best: float | None = None

    def __enter__(self) -> SearchProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)

    def note(self, text: str) -> None:
        self.bar.console.print(f"[dim]•[/] {text}", soft_wrap=True)

    def round_started(self, index: int, trials: int, space: Any) -> None:
        self.bar.console.print(f"[bold]round {index + 1}[/]: {trials} trial(s) over {space.describe()}")

    def trial_started(self, number: int, config: dict[str, Any]) -> None:
        shown = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in config.items())
        self.bar.update(self.task, status=f"trial {number}: {shown}")

    def trial_epoch(self, number: int, epoch: int, score: float) -> None:
        self.bar.update(self.task, status=f"trial {number} epoch {epoch}: clDice {score:.3f}")

    def trial_finished(self, number: int, state: str, score: float | None, error: str) -> None:
        self.bar.advance(self.task)
        if score is not None:
            self.best = max(self.best or 0.0, score)
        result = f"clDice {score:.3f}" if score is not None else error
        best = f" (best {self.best:.3f})" if self.best is not None else ""
        self.bar.console.print(f"trial {number}: {state} {result}{best}")


def spec_from_options(
    budget_minutes: float,
    trials: int,
    families: list[str] | None,
    epochs: int,
    max_trial_minutes: float | None,
    margin: float,
    dataset: str | None,
    overrides: list[str],
    seed: int,
) -> Any:
    """The validated SearchSpec of the command-line options (unknown families and bad --set values refused)."""
    from minivess.configs.loading import load_experiment, parse_overrides
    from minivess.pipelines.search import workflow
    from minivess.pipelines.search.record import SearchSpec

    values = parse_overrides(overrides)
    load_experiment(values=values)  # refuses unknown keys and bad values now, not in every trial
    return SearchSpec(
        budget_minutes=budget_minutes,
        trials=trials,
        families=workflow.check_families(families),
        epochs=epochs,
        max_trial_minutes=max_trial_minutes or max(1.0, budget_minutes / 2),
        dataset=dataset,
        seed=seed,
        promotion_margin=margin,
        overrides=values,
    )


@app.command("start")
def start(
    budget_minutes: float = BudgetOpt,
    trials: int = TrialsOpt,
    families: list[str] | None = FamiliesOpt,
    epochs: int = EpochsOpt,
    max_trial_minutes: float | None = TrialMinutesOpt,
    margin: float = MarginOpt,
    dataset: str | None = DatasetOpt,
    overrides: list[str] = SetOpt,
    seed: int = SeedOpt,
) -> None:
    """Plan a search from past runs, run it (Ctrl-C stops it; `search resume ID` continues), report, decide."""
    from minivess.pipelines.search import workflow

    spec = spec_from_options(
        budget_minutes, trials, families, epochs, max_trial_minutes, margin, dataset, overrides, seed
    )
    settings = get_settings()
    bar = SearchProgress(spec.trials)
    metrics, counted = _metered(bar, settings, None)
    with _traced("search start", settings, spec.model_dump(mode="json")), metrics, bar:
        record = workflow.start(spec, settings, _observer(counted, settings))
        _record_trials(counted, record, settings)
    _print_summary(record, settings)


@app.command("resume")
def resume(search_id: str = typer.Argument("last", help="Search id, or 'last'.")) -> None:
    """Continue a stopped or killed search where it stopped (no finished trial is lost or run twice)."""
    from minivess.pipelines.search import record as records
    from minivess.pipelines.search import workflow

    settings = get_settings()
    record = records.load(settings, search_id)
    bar = SearchProgress(record.spec.trials)
    metrics, counted = _metered(bar, settings, record.search_id)
    _record_trials(counted, record, settings)  # this search's earlier sessions
    with _traced("search resume", settings, {"search_id": record.search_id}), metrics, bar:
        record = workflow.resume(record.search_id, settings, _observer(counted, settings))
        _record_trials(counted, record, settings)
    _print_summary(record, settings)


@app.command("status")
def status(
    search_id: str = typer.Argument("last", help="Search id, or 'last'."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON (for scripts)."),
) -> None:
    """Trials finished, failed and running, time spent, the best trial and the decision."""
    from minivess.pipelines.search import record as records
    from minivess.pipelines.search import workflow

    settings = get_settings()
    summary = workflow.summary(records.load(settings, search_id), settings)
    render.key_values(f"search {summary.search_id}", summary, as_json)


@app.command("report")
def report(search_id: str = typer.Argument("last", help="Search id, or 'last'.")) -> None:
    """(Re)write the HTML report of a search and print its path."""
    from minivess.pipelines.search import record as records
    from minivess.pipelines.search import workflow

    settings = get_settings()
    record = records.load(settings, search_id)
    workflow.write(record, settings)
    render.console.print(str(records.search_dir(settings, record.search_id) / records.REPORT_FILE), soft_wrap=True)


@app.command("list")
def list_() -> None:
    """Every search in this home, oldest first."""
    from minivess.pipelines.search import record as records

    settings = get_settings()
    rows = []
    for search_id in records.list_ids(settings):
        rec = records.load(settings, search_id)
        rows.append([search_id, rec.status, rec.spec.trials, f"{rec.spent_seconds / 60:.1f}", rec.spec.budget_minutes])
    render.console.print(render.records_table("searches", ["id", "status", "trials", "minutes", "budget"], rows))


def nightly(
    budget_minutes: float = BudgetOpt,
    trials: int = TrialsOpt,
    families: list[str] | None = FamiliesOpt,
    epochs: int = EpochsOpt,
    max_trial_minutes: float | None = TrialMinutesOpt,
    margin: float = MarginOpt,
    dataset: str | None = DatasetOpt,
    overrides: list[str] = SetOpt,
    seed: int = SeedOpt,
) -> None:
    """Unattended: plan from history, check the data for drift, search, report, make a winner challenger, ask
    approval for champion."""
    from minivess.graphs.nightly import run_nightly

    spec = spec_from_options(
        budget_minutes, trials, families, epochs, max_trial_minutes, margin, dataset, overrides, seed
    )
    settings = get_settings()
    # one metrics file for the recurring job (search-nightly.prom), whichever search each night creates
    bar = SearchProgress(spec.trials)
    metrics, counted = _metered(bar, settings, "nightly")
    with metrics, bar:
        outcome = run_nightly(spec, settings, counted)
        _record_trials(counted, outcome.record, settings)
    _print_summary(outcome.record, settings)
    if outcome.approval_thread:
        render.console.print(
            f"champion promotion waits for approval: [bold]minivess approve {outcome.approval_thread}[/] "
            f"(or reject {outcome.approval_thread})",
            soft_wrap=True,
        )


def _metered(bar: SearchProgress, settings: Any, instance: str | None) -> tuple[Any, Any]:
    """A search job's metrics (HOME/metrics/search-<id>.prom) and an observer counting trials into them."""
    from minivess.observability.job_metrics import JobMetrics, MetricsSearchObserver

    metrics = JobMetrics("search", settings, instance)
    return metrics, MetricsSearchObserver(bar, metrics)


def _record_trials(counted: Any, record: Any, settings: Any) -> None:
    """Trial counts from the search's own trial table: it knows pruned trials and earlier sessions."""
    from minivess.pipelines.search.trial_state import trial_rows

    if counted.metrics.instance is None:
        counted.metrics.set_instance(record.search_id)
    try:
        rows = [row for row in trial_rows(settings, record) if not row.interrupted]
    except Exception as exc:  # the counts are metrics only: the search itself went as it went
        logger.warning("could not count the trials of search %s for its metrics: %s", record.search_id, exc)
        return
    counted.record_trials([row.state for row in rows], [row.score for row in rows if row.score is not None])


def _observer(bar: Any, settings: Any) -> Any:
    from minivess.observability import get_tracer
    from minivess.observability.search import TracedSearchObserver

    return TracedSearchObserver(bar, get_tracer(settings))


def _traced(name: str, settings: Any, inputs: dict[str, Any]) -> Any:
    from minivess.observability import get_tracer

    return get_tracer(settings).trace(name, input=inputs, tags=["search"])


def _print_summary(record: Any, settings: Any) -> None:
    from minivess.pipelines.search import workflow

    summary = workflow.summary(record, settings)
    render.console.print(render.key_value_table(f"search {summary.search_id}", summary.model_dump()))
