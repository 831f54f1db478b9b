"""Every tool the agents may call, and which worker owns which."""

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

# Worker → the tools it may call. Every tool belongs to exactly one worker.
WORKER_TOOLS: Final[dict[str, tuple[str, ...]]] = {
    "experimenter": (
        "train_model",
        "evaluate_run",
        "predict_volume",
        "promote_model",
        "synthesize_data",
        "dataset_info",
    ),
    "analyst": (
        "leaderboard",
        "compare_runs",
        "get_run",
        "learning_curves",
        "failure_summary",
        "param_effect",
        "query_runs",
        "describe_warehouse",
    ),
}


def worker_for(tool_name: str) -> str:
    for worker, names in WORKER_TOOLS.items():
        if tool_name in names:
            return worker
    raise KeyError(tool_name)
