"""Per-request limits: step/tool/compute budgets and loop detection. Pure functions over graph state."""

from __future__ import annotations

import json
from typing import Any

from minivess.settings import Settings


def call_signature(name: str, arguments: str | dict[str, Any] | None) -> str:
    """A canonical "name:args" string: the same call with keys in another order has the same signature."""
    try:
        data = json.loads(arguments) if isinstance(arguments, str) else (arguments or {})
    except json.JSONDecodeError:
        data = arguments
    return f"{name}:{json.dumps(data, sort_keys=True, default=str)}"


def steps_exhausted(state: dict[str, Any], settings: Settings) -> str | None:
    """A stop message when the request has used its LLM steps, else None."""
    if state.get("steps", 0) >= settings.max_steps:
        return f"I stopped after {settings.max_steps} agent steps (MINIVESS_MAX_STEPS) without finishing the request."
    return None


def tool_budget_problem(state: dict[str, Any], settings: Settings, est_minutes: float) -> str | None:
    """A stop message when running one more tool would exceed the request's tool or compute budget."""
    if state.get("tool_calls", 0) >= settings.max_tool_calls:
        return f"I stopped: this request already ran {settings.max_tool_calls} tools (MINIVESS_MAX_TOOL_CALLS)."
    spent = float(state.get("compute_minutes", 0.0))
    if spent + est_minutes > settings.max_compute_minutes:
        return (
            f"I stopped before a step estimated at {est_minutes:.1f} compute minutes: the request's budget is "
            f"{settings.max_compute_minutes:g} minutes and {spent:.1f} are spent (MINIVESS_MAX_COMPUTE_MINUTES)."
        )
    return None


def repeated_call(state: dict[str, Any], signature: str) -> str | None:
    """A stop message when the exact same tool call already ran in this request (the agent is looping)."""
    if signature in state.get("executed", []):
        name = signature.split(":", 1)[0]
        return f"I stopped: the agent asked to run {name} again with the same arguments in this request."
    return None
