"""Search tools: start a model search (Ray Tune + Optuna, planned from past runs) and read its status."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from minivess.errors import ConfigError, DataError, ToolInputError
from minivess.pipelines.search.record import SearchSummary
from minivess.tools.base import ToolContext, tool
from minivess.tools.training import ModelName


class StartSearchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    budget_minutes: float = Field(30.0, gt=0, le=24 * 60, description="Wall-clock budget for all trials, minutes.")
    trials: int = Field(12, ge=1, le=200, description="Most trials to run.")
    families: list[ModelName] | None = Field(
        None, description="Model families to search; default segresnet and dynunet (swinunetr only if named)."
    )
    epochs: int = Field(6, ge=1, le=200, description="Most epochs per trial (ASHA stops weak trials earlier).")
    dataset: str | None = Field(None, description="Dataset folder (raw/ + seg/); default: the synthetic dataset.")


# The tools return the pipeline's own summary model (one definition of what a search status is).
SearchSummaryResult = SearchSummary


def _search_approval(args: StartSearchArgs, ctx: ToolContext) -> str | None:
    if args.budget_minutes > ctx.settings.approval_minutes:
        return f"a model search of up to {args.trials} trial(s) uses up to {args.budget_minutes:g} CPU minute(s)"
    return None


@tool(
    "start_search",
    StartSearchArgs,
    SearchSummaryResult,
    compute_minutes=lambda args: args.budget_minutes,
    needs_approval=_search_approval,
    makes_runs=True,
)
def start_search(args: StartSearchArgs, ctx: ToolContext) -> SearchSummaryResult:
    """Search for a better segmentation model: plans the space from past runs, runs trials on Ray Tune.

    Optuna TPE picks configurations (family, loss, optimiser, learning rate), ASHA stops weak trials, every
    trial is an MLflow run. Ends with an HTML report and makes the best trial `challenger` when it beats the
    champion on the test split (becoming champion needs promote_model and an approval).
    """
    from minivess.pipelines.search import workflow
    from minivess.pipelines.search.record import SearchSpec

    try:
        families = workflow.check_families(args.families)
        spec = SearchSpec(
            budget_minutes=args.budget_minutes,
            trials=args.trials,
            families=families,
            epochs=args.epochs,
            max_trial_minutes=max(1.0, args.budget_minutes / 2),
            dataset=args.dataset,
        )
        record = workflow.start(spec, ctx.settings, traced_observer(ctx))
    except (ConfigError, DataError) as exc:
        raise ToolInputError(f"start_search: {exc}") from exc
    return workflow.summary(record, ctx.settings)


class SearchStatusArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    search_id: str = Field("last", description="Search id, or 'last' for the newest search.")


@tool("search_status", SearchStatusArgs, SearchSummaryResult)
def search_status(args: SearchStatusArgs, ctx: ToolContext) -> SearchSummaryResult:
    """Status of a model search: trials finished/failed/running, time spent, the best trial and the decision."""
    from minivess.pipelines.search import record as records
    from minivess.pipelines.search import workflow

    try:
        record = records.load(ctx.settings, args.search_id)
    except ConfigError as exc:
        raise ToolInputError(f"search_status: {exc}") from exc
    return workflow.summary(record, ctx.settings)


class _ToolObserver:
    """Search events → the tool's progress sink (terminal or graph stream)."""

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx

    def note(self, text: str) -> None:
        self.ctx.progress({"event": "search_note", "text": text})

    def round_started(self, index: int, trials: int, space: Any) -> None:
        self.ctx.progress({"event": "search_round", "round": index + 1, "trials": trials})

    def trial_started(self, number: int, config: dict[str, Any]) -> None:
        self.ctx.progress({"event": "trial_started", "trial": number, "config": config})

    def trial_epoch(self, number: int, epoch: int, score: float) -> None:
        self.ctx.progress({"event": "trial_epoch", "trial": number, "epoch": epoch, "score": score})

    def trial_finished(self, number: int, state: str, score: float | None, error: str) -> None:
        self.ctx.progress({"event": "trial_finished", "trial": number, "state": state, "score": score})


def traced_observer(ctx: ToolContext) -> Any:
    from minivess.observability import get_tracer
    from minivess.observability.search import TracedSearchObserver

    return TracedSearchObserver(_ToolObserver(ctx), get_tracer(ctx.settings))
