"""Analytics tools: leaderboards, comparisons, curves, failures, parameter effects and guarded SQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from minivess.errors import AnalyticsError, ToolInputError
from minivess.pipelines.analytics.models import FailureSummary, Leaderboard, ParamEffect, RunComparison, SqlResult
from minivess.pipelines.analytics.schema import WarehouseSchema
from minivess.tools.base import ToolContext, tool
from minivess.tools.runs import resolve_run_ref


def _warehouse(ctx: ToolContext) -> Any:
    from minivess.pipelines.analytics import Warehouse

    return Warehouse(settings=ctx.settings)


class LeaderboardArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str = Field("val_dice", description="Metric to rank by, e.g. val_dice, val_cldice, val_nsd, val_hd95.")
    by_family: bool = Field(True, description="Best run per model family (true) or best runs overall (false).")
    limit: int = Field(10, ge=1, le=100, description="Rows to return.")


@tool("leaderboard", LeaderboardArgs, Leaderboard)
def leaderboard(args: LeaderboardArgs, ctx: ToolContext) -> Leaderboard:
    """Rank finished runs by the best value of a metric (direction-aware), with the epoch it peaked."""
    from minivess.pipelines import analytics

    return _guard(
        lambda: analytics.leaderboard(
            args.metric, by="family" if args.by_family else "none", limit=args.limit, warehouse=_warehouse(ctx)
        )
    )


class CompareRunsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_ids: list[str] = Field(
        min_length=2, description="Two or more run ids (or 'last', 'best:segresnet', 'champion')."
    )
    metrics: list[str] | None = Field(None, description="Metrics to show; default all.")


@tool("compare_runs", CompareRunsArgs, RunComparison)
def compare_runs(args: CompareRunsArgs, ctx: ToolContext) -> RunComparison:
    """Compare runs: parameters that differ and the best/last value of each metric per run."""
    from minivess.pipelines import analytics

    ids = [resolve_run_ref(ref, ctx) for ref in args.run_ids]
    return _guard(lambda: analytics.compare_runs(ids, metrics=args.metrics, warehouse=_warehouse(ctx)))


class GetRunArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(description="Run id (or 'last', 'best', 'best:segresnet', 'champion').")


@tool("get_run", GetRunArgs, RunComparison)
def get_run(args: GetRunArgs, ctx: ToolContext) -> RunComparison:
    """One run's status, parameters, best/last metrics and tags — including the error of a failed run."""
    from minivess.pipelines import analytics

    run_id = resolve_run_ref(args.run_id, ctx)
    return _guard(lambda: analytics.compare_runs([run_id], warehouse=_warehouse(ctx)))


class LearningCurvesArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_ids: list[str] = Field(min_length=1, description="Runs to plot (ids, 'last', 'best:segresnet', 'champion').")
    metrics: list[str] = Field(["train_loss", "val_dice"], min_length=1, description="Metrics to plot per epoch.")


class LearningCurvesResult(BaseModel):
    png: str
    curves: dict[str, Any]


@tool("learning_curves", LearningCurvesArgs, LearningCurvesResult)
def learning_curves(args: LearningCurvesArgs, ctx: ToolContext) -> LearningCurvesResult:
    """Per-epoch metric histories of runs, plotted to a PNG under the home directory."""
    from minivess.pipelines import analytics

    ids = [resolve_run_ref(ref, ctx) for ref in args.run_ids]
    curves = _guard(lambda: analytics.learning_curves(ids, args.metrics, warehouse=_warehouse(ctx)))
    png = ctx.settings.home_dir / "plots" / f"curves_{'_'.join(i[:8] for i in ids)}.png"
    analytics.plot_learning_curves(curves, png)
    return LearningCurvesResult(png=str(png), curves=curves.model_dump(mode="json"))


class FailureSummaryArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


@tool("failure_summary", FailureSummaryArgs, FailureSummary)
def failure_summary(args: FailureSummaryArgs, ctx: ToolContext) -> FailureSummary:
    """Failed runs grouped by error type, with each run's error message and parameters."""
    from minivess.pipelines import analytics

    return _guard(lambda: analytics.failures(warehouse=_warehouse(ctx)))


class ParamEffectArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    param: str = Field(description="Parameter (dotted config key), e.g. loss.name, optim.lr, model.name.")
    metric: str = Field("val_dice", description="Metric whose best value is compared across the param's values.")


@tool("param_effect", ParamEffectArgs, ParamEffect)
def param_effect(args: ParamEffectArgs, ctx: ToolContext) -> ParamEffect:
    """Effect of one parameter on a metric: n, mean, std, min, max of each run's best value per param value."""
    from minivess.pipelines import analytics

    return _guard(lambda: analytics.param_effect(args.param, args.metric, warehouse=_warehouse(ctx)))


class QueryRunsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sql: str = Field(description="One read-only SELECT (or WITH … SELECT) over the warehouse tables.")
    max_rows: int = Field(100, ge=1, le=1000, description="Row cap.")


@tool("query_runs", QueryRunsArgs, SqlResult)
def query_runs(args: QueryRunsArgs, ctx: ToolContext) -> SqlResult:
    """Answer a question about past runs with one read-only SQL SELECT over the run warehouse.

    Call describe_warehouse first for the tables and columns. Writes, several statements and file
    access are refused with an error that lists the schema.
    """
    from minivess.pipelines import analytics

    return _guard(lambda: analytics.run_sql(args.sql, warehouse=_warehouse(ctx), row_cap=args.max_rows))


class DescribeWarehouseArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


@tool("describe_warehouse", DescribeWarehouseArgs, WarehouseSchema)
def describe_warehouse(args: DescribeWarehouseArgs, ctx: ToolContext) -> WarehouseSchema:
    """Tables and columns of the run warehouse, with what each column means (for writing query_runs SQL)."""
    from minivess.pipelines import analytics

    return _guard(lambda: analytics.describe(_warehouse(ctx)))


T = TypeVar("T")


def _guard(call: Callable[[], T]) -> T:
    """Analytics errors are fixable by the model (bad SQL, unknown metric): send them back as tool input errors."""
    from minivess.pipelines.analytics.errors import SqlGuardError

    try:
        return call()
    except SqlGuardError as exc:  # the model gets every table's columns (one line each) to rewrite its SQL
        raise ToolInputError(exc.for_model()) from exc
    except AnalyticsError as exc:
        raise ToolInputError(str(exc)) from exc
