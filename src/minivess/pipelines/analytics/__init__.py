"""Run analytics: a DuckDB warehouse mirroring MLflow runs, canned analytics and a guarded SQL surface."""

from __future__ import annotations

from minivess.pipelines.analytics.errors import SqlGuardError
from minivess.pipelines.analytics.export import records_text, write_records
from minivess.pipelines.analytics.guard import SqlResult, check_sql, run_sql
from minivess.pipelines.analytics.models import (
    CostFrontier,
    FailureSummary,
    Leaderboard,
    LearningCurves,
    ParamEffect,
    RunComparison,
)
from minivess.pipelines.analytics.plots import plot_learning_curves
from minivess.pipelines.analytics.queries import compare_runs, leaderboard, learning_curves, metric_direction
from minivess.pipelines.analytics.schema import WarehouseSchema
from minivess.pipelines.analytics.stats import cost_frontier, failures, param_effect
from minivess.pipelines.analytics.sync import SyncReport, sync_warehouse
from minivess.pipelines.analytics.warehouse import Warehouse, describe

__all__ = [
    "CostFrontier",
    "FailureSummary",
    "Leaderboard",
    "LearningCurves",
    "ParamEffect",
    "RunComparison",
    "SqlGuardError",
    "SqlResult",
    "SyncReport",
    "Warehouse",
    "WarehouseSchema",
    "check_sql",
    "compare_runs",
    "cost_frontier",
    "describe",
    "failures",
    "leaderboard",
    "learning_curves",
    "metric_direction",
    "param_effect",
    "plot_learning_curves",
    "records_text",
    "run_sql",
    "sync_warehouse",
    "write_records",
]
