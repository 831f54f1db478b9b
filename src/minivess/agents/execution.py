"""The tools node: run the pending tool calls with budgets and loop detection; fixable errors go to the model."""

from __future__ import annotations

import logging
from typing import Any, Literal

from langgraph.config import get_stream_writer
from langgraph.types import Command

from minivess.agents import policy
from minivess.agents.nodes import AgentDeps, _stop, _tool_message
from minivess.errors import ToolInputError
from minivess.graphs.state import ChatState
from minivess.tools.base import ToolContext
from minivess.tools.registry import WORKER_TOOLS

logger = logging.getLogger(__name__)


def _progress_sink(tool_name: str) -> Any:
    """Tool progress → LangGraph's custom stream (the CLI renders it); a no-op outside a streaming run."""
    try:
        writer = get_stream_writer()
    except RuntimeError:
        return lambda event: None
    return lambda event: writer({"tool": tool_name, **event})


def run_tools(state: ChatState, deps: AgentDeps) -> Command[Literal["experimenter", "analyst", "__end__"]]:
    """Run each pending call once; ToolInputError becomes an `ERROR:` tool message, other errors propagate."""
    worker = state.get("active_worker") or "experimenter"
    messages: list[dict[str, Any]] = []
    executed = list(state.get("executed", []))
    counters = {"tool_calls": state.get("tool_calls", 0), "compute_minutes": state.get("compute_minutes", 0.0)}
    for call in state.get("pending_calls", []):
        name, raw = call["function"]["name"], call["function"].get("arguments")
        signature = policy.call_signature(name, raw)
        if stop := policy.repeated_call({"executed": executed}, signature):
            return _stop_with(messages, call, stop, "loop", executed, counters)
        try:
            if name not in WORKER_TOOLS[worker]:
                raise ToolInputError(f"{worker} has no tool '{name}'; its tools: {', '.join(WORKER_TOOLS[worker])}.")
            tool = deps.tools.get(name)
            args = tool.parse(raw)
            minutes = tool.compute_minutes(args)
            if stop := policy.tool_budget_problem({**state, **counters}, deps.settings, minutes):
                return _stop_with(messages, call, stop, "budget", executed, counters)
            ctx = ToolContext(settings=deps.settings, progress=_progress_sink(name))
            result = tool.run(args, ctx)
            content = result.model_dump_json()
            counters["compute_minutes"] += minutes
        except ToolInputError as exc:
            content = f"ERROR: {exc}"
        executed.append(signature)
        counters["tool_calls"] += 1
        messages.append(_tool_message(call, content))
    update = {"messages": messages, "pending_calls": [], "executed": executed, **counters}
    return Command(goto=worker, update=update)


def _stop_with(
    messages: list[dict[str, Any]],
    call: dict[str, Any],
    stop: str,
    reason: str,
    executed: list[str],
    counters: dict[str, Any],
) -> Command[Any]:
    """End the request: answer the unrun call (so the thread stays well-formed) and explain why."""
    ended = _stop(stop, reason)
    update = dict(ended.update or {})
    update["messages"] = [*messages, _tool_message(call, f"ERROR: not run — {stop}"), *update["messages"]]
    update.update(pending_calls=[], executed=executed, **counters)
    return Command(goto="__end__", update=update)
