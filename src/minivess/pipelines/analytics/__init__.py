"""Run analytics: a DuckDB warehouse mirroring MLflow runs, canned analytics and a guarded SQL surface.

Names load on first use (PEP 562): importing a light submodule (limits, export, models) must not load DuckDB
and pyarrow, so `minivess --help` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minivess.pipelines.analytics.errors import SqlGuardError
    from minivess.pipelines.analytics.export import records_text, write_records
    from minivess.pipelines.analytics.guard import check_sql, run_sql
    from minivess.pipelines.analytics.models import (
        CostFrontier,
        FailureSummary,
        Leaderboard,
        LearningCurves,
        ParamEffect,
        RunComparison,
        SqlResult,
    )
    from minivess.pipelines.analytics.plots import plot_learning_curves
    from minivess.pipelines.analytics.queries import compare_runs, leaderboard, learning_curves, metric_direction
    from minivess.pipelines.analytics.schema import WarehouseSchema
    from minivess.pipelines.analytics.stats import cost_frontier, failures, param_effect
    from minivess.pipelines.analytics.sync import SyncReport, sync_warehouse
    from minivess.pipelines.analytics.warehouse import Warehouse, describe

_LAZY: dict[str, str] = {
    "CostFrontier": "minivess.pipelines.analytics.models",
    "FailureSummary": "minivess.pipelines.analytics.models",
    "Leaderboard": "minivess.pipelines.analytics.models",
    "LearningCurves": "minivess.pipelines.analytics.models",
    "ParamEffect": "minivess.pipelines.analytics.models",
    "RunComparison": "minivess.pipelines.analytics.models",
    "SqlGuardError": "minivess.pipelines.analytics.errors",
    "SqlResult": "minivess.pipelines.analytics.models",
    "SyncReport": "minivess.pipelines.analytics.sync",
    "Warehouse": "minivess.pipelines.analytics.warehouse",
    "WarehouseSchema": "minivess.pipelines.analytics.schema",
    "check_sql": "minivess.pipelines.analytics.guard",
    "compare_runs": "minivess.pipelines.analytics.queries",
    "cost_frontier": "minivess.pipelines.analytics.stats",
    "describe": "minivess.pipelines.analytics.warehouse",
    "failures": "minivess.pipelines.analytics.stats",
    "leaderboard": "minivess.pipelines.analytics.queries",
    "learning_curves": "minivess.pipelines.analytics.queries",
    "metric_direction": "minivess.pipelines.analytics.queries",
    "param_effect": "minivess.pipelines.analytics.stats",
    "plot_learning_curves": "minivess.pipelines.analytics.plots",
    "records_text": "minivess.pipelines.analytics.export",
    "run_sql": "minivess.pipelines.analytics.guard",
    "sync_warehouse": "minivess.pipelines.analytics.sync",
    "write_records": "minivess.pipelines.analytics.export",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module when the name is first used."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


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
