"""Typed results of the canned analytics (what tools and the CLI hand on)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Direction = Literal["min", "max"]


class RunBrief(BaseModel):
    """Who a run is, in one line."""

    run_id: str
    run_name: str | None = None
    experiment: str | None = None
    model_family: str | None = None
    status: str
    start_time: datetime | None = None
    duration_s: float | None = None
    error: str | None = Field(None, description="the minivess.error tag of a failed run")


class LeaderboardRow(BaseModel):
    """One place on a leaderboard."""

    rank: int = Field(description="1 = best")
    group: str | None = Field(description="model family when grouped by family, else None")
    run: RunBrief
    best_value: float = Field(description="best value of the metric over all steps")
    best_step: int | None = Field(description="step (epoch) where the best value was first reached")
    last_value: float | None = Field(description="latest value (what MLflow's search shows)")
    runs_in_group: int = Field(description="runs competing in this group")


class Leaderboard(BaseModel):
    """Best runs by one metric, direction-aware."""

    metric: str
    direction: Direction
    by: Literal["family", "none"]
    statuses: list[str]
    rows: list[LeaderboardRow]


class ParamDiff(BaseModel):
    """One parameter across the compared runs."""

    key: str
    values: dict[str, str | None] = Field(description="run id → value (None: not set on that run)")
    differs: bool


class MetricCell(BaseModel):
    """One metric of one run."""

    best_value: float | None
    best_step: int | None
    last_value: float | None
    last_step: int | None
    n_values: int


class MetricComparison(BaseModel):
    """One metric across the compared runs."""

    key: str
    direction: Direction
    cells: dict[str, MetricCell | None] = Field(description="run id → summary (None: not logged)")
    best_run: str | None = Field(description="run with the best value of this metric")


class RunComparison(BaseModel):
    """Params side by side and best/last of every metric."""

    runs: list[RunBrief]
    params: list[ParamDiff]
    metrics: list[MetricComparison]


class CurveSeries(BaseModel):
    """The history of one metric of one run."""

    run_id: str
    run_name: str | None
    key: str
    steps: list[int]
    values: list[float | None]


class LearningCurves(BaseModel):
    """Histories of some metrics for some runs."""

    metrics: list[str]
    series: list[CurveSeries]


class EffectGroup(BaseModel):
    """Statistics of the best metric value among runs sharing one param value."""

    value: str | None = Field(description="the param value (None: runs without the param)")
    n: int
    mean: float
    std: float | None = Field(description="sample standard deviation; None when n = 1")
    min: float
    max: float
    best_run: str


class ParamEffect(BaseModel):
    """How one parameter relates to the best value of one metric."""

    param: str
    metric: str
    direction: Direction
    statuses: list[str]
    groups: list[EffectGroup]


class FailedRun(BaseModel):
    """A FAILED run with its error message and params."""

    run: RunBrief
    message: str | None
    params: dict[str, str | None]


class FailureGroup(BaseModel):
    """FAILED runs sharing one exception type."""

    error_type: str = Field(description="exception type from the minivess.error tag, or 'unknown'")
    count: int
    runs: list[FailedRun]


class FailureSummary(BaseModel):
    """FAILED runs grouped by error type, most frequent first."""

    total: int
    groups: list[FailureGroup]


class FrontierPoint(BaseModel):
    """A run placed by cost (minutes) and metric."""

    run: RunBrief
    cost_min: float
    value: float
    pareto: bool = Field(description="no other run is both cheaper (or equal) and better (or equal)")


class CostFrontier(BaseModel):
    """Cost vs metric, cheapest first, with the Pareto-optimal runs flagged."""

    metric: str
    direction: Direction
    points: list[FrontierPoint]

    @property
    def pareto(self) -> list[FrontierPoint]:
        """Only the Pareto-optimal points, cheapest first."""
        return [p for p in self.points if p.pareto]


class SqlResult(BaseModel):
    """The answer of a guarded query."""

    sql: str = Field(description="the statement that ran")
    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    truncated: bool = Field(description="True when more rows existed than the row cap")
    row_cap: int
    seconds: float
