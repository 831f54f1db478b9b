"""Every tool the agents may call (which worker offers which is in `minivess.catalog`)."""

from __future__ import annotations

from typing import Any, Final

from minivess.tools import analytics, data, training
from minivess.tools.base import Tool, ToolRegistry

ALL_TOOLS: Final[list[Tool[Any, Any]]] = [
    training.train_model,
    training.evaluate_run,
    training.predict_volume,
    training.promote_model,
    data.synthesize_data,
    data.dataset_info,
    analytics.leaderboard,
    analytics.compare_runs,
    analytics.get_run,
    analytics.learning_curves,
    analytics.failure_summary,
    analytics.param_effect,
    analytics.query_runs,
    analytics.describe_warehouse,
]

REGISTRY: Final = ToolRegistry(ALL_TOOLS)
