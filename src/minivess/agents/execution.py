"""The tools node: run the pending tool calls with budgets and loop detection; fixable errors go to the model."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from langgraph.config import get_stream_writer
from langgraph.types import Command

from minivess import cancel
from minivess.agents import limits
from minivess.agents.nodes import AgentDeps
from minivess.agents.state import ChatState, stop_request, tool_message
from minivess.catalog import WORKER_TOOLS, Worker
from minivess.errors import ToolInputError
from minivess.observability import get_tracer
from minivess.tools.base import ToolContext

logger = logging.getLogger(__name__)


def _progress_sink(tool_name: str) -> Any:
    """Tool progress → LangGraph's custom stream (the CLI renders it); every event is also where a long tool
    stops after Ctrl-C (`minivess.cancel`): a training step, a volume."""
    try:
        writer = get_stream_writer()
    except RuntimeError:
        writer = None

    def sink(event: dict[str, Any]) -> None:
        if writer is not None:
            writer({"tool": tool_name, **event})
        cancel.check()

    return sink


def run_tools(state: ChatState, deps: AgentDeps) -> Command[Literal["experimenter", "analyst", "__end__"]]:
    """Run each pending call once; ToolInputError becomes an `ERROR:` tool message, other errors propagate."""
    worker: Worker = state.get("active_worker") or "experimenter"
    messages: list[dict[str, Any]] = []
    executed = list(state.get("executed", []))
    counters = {"tool_calls": state.get("tool_calls", 0), "compute_minutes": state.get("compute_minutes", 0.0)}
    tracer = get_tracer(deps.settings)
    for call in state.get("pending_calls", []):
        name, raw = call["function"]["name"], call["function"].get("arguments")
        signature = limits.call_signature(name, raw)
        if stop := limits.repeated_call({"executed": executed}, signature):
            return _stop_with(messages, call, stop, "loop", executed, counters)
        metadata = {"worker": worker, "call_id": call["id"]}
        with tracer.observe(name, as_type="tool", input=raw, metadata=metadata) as span:
            outcome = _execute(call, worker, {**state, **counters}, deps, span)
        if isinstance(outcome, _Stop):
            return _stop_with(messages, call, outcome.message, "budget", executed, counters)
        content, minutes = outcome
        counters["compute_minutes"] += minutes
        executed.append(signature)
        counters["tool_calls"] += 1
        messages.append(tool_message(call, content))
    update = {"messages": messages, "pending_calls": [], "executed": executed, **counters}
    return Command(goto=worker, update=update)


@dataclass(frozen=True)
class _Stop:
    message: str


def _execute(
    call: dict[str, Any], worker: Worker, budget_state: dict[str, Any], deps: AgentDeps, span: Any
) -> tuple[str, float] | _Stop:
    """Validate and run one call: (tool message content, compute minutes), or a budget stop."""
    name, raw = call["function"]["name"], call["function"].get("arguments")
    try:
        if name not in WORKER_TOOLS[worker]:
            raise ToolInputError(f"{worker} has no tool '{name}'; its tools: {', '.join(WORKER_TOOLS[worker])}.")
        tool = deps.tools.get(name)
        args = tool.parse(raw)
        minutes = tool.compute_minutes(args)
        if stop := limits.tool_budget_problem(budget_state, deps.settings, minutes):
            span.update(level="WARNING", status_message=stop)
            return _Stop(stop)
        result = tool.run(args, ToolContext(settings=deps.settings, progress=_progress_sink(name)))
        # Typed arguments replace the raw JSON in the trace, so SecretStr fields stay masked.
        span.update(input=args, output=result, metadata={"compute_minutes": minutes, **_run_link(result)})
        return result.model_dump_json(), minutes
    except ToolInputError as exc:
        content = f"ERROR: {exc}"
        span.update(level="WARNING", status_message=content)
        return content, 0.0


def _run_link(result: Any) -> dict[str, Any]:
    """Link the trace to the MLflow run a tool produced."""
    run_id = getattr(result, "run_id", None)
    return {"mlflow_run_id": run_id} if isinstance(run_id, str) else {}


def _stop_with(
    messages: list[dict[str, Any]],
    call: dict[str, Any],
    stop: str,
    reason: str,
    executed: list[str],
    counters: dict[str, Any],
) -> Command[Any]:
    """End the request: answer the unrun call (so the thread stays well-formed) and explain why."""
    ended = stop_request(stop, reason)
    update = dict(ended.update or {})
    update["messages"] = [*messages, tool_message(call, f"ERROR: not run — {stop}"), *update["messages"]]
    update.update(pending_calls=[], executed=executed, **counters)
    return Command(goto="__end__", update=update)
