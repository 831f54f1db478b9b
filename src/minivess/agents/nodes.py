"""Node functions of the chat graph: supervisor, workers, approval gate and tool execution."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from langgraph.types import Command

from minivess.agents import limits
from minivess.agents.llm import LLMGateway, LLMReply
from minivess.agents.state import ChatState, stop_request, tool_message
from minivess.catalog import WORKER_DUTIES, WORKER_TOOLS, WORKERS, Worker
from minivess.observability import get_tracer
from minivess.prompts import load_prompt
from minivess.settings import Settings
from minivess.tools.base import ToolRegistry

logger = logging.getLogger(__name__)


def transfer_schema(worker: Worker) -> dict[str, Any]:
    """The supervisor's hand-off tool for one worker; its description names the worker's tools."""
    return {
        "type": "function",
        "function": {
            "name": f"transfer_to_{worker}",
            "description": (
                f"Hand the next step to the {worker} ({WORKER_DUTIES[worker]}). "
                f"Tools: {', '.join(WORKER_TOOLS[worker])}."
            ),
            "parameters": {
                "type": "object",
                "properties": {"task": {"type": "string", "description": "What the worker should do now."}},
                "required": ["task"],
                "additionalProperties": False,
            },
        },
    }


@dataclass
class AgentDeps:
    """What the nodes need: settings, the LLM gateway and the tools."""

    settings: Settings
    llm: LLMGateway
    tools: ToolRegistry
    transfer_tools: list[dict[str, Any]] = field(default_factory=lambda: [transfer_schema(w) for w in WORKERS])


def _usage(state: ChatState, reply: LLMReply) -> dict[str, Any]:
    usage: dict[str, Any] = dict(state.get("usage") or {})
    for key in ("llm_calls", "prompt_tokens", "completion_tokens", "cost_usd"):
        usage.setdefault(key, 0)
    usage["llm_calls"] += 1
    usage["prompt_tokens"] += reply.prompt_tokens
    usage["completion_tokens"] += reply.completion_tokens
    usage["cost_usd"] += reply.cost_usd
    return {"usage": usage, "steps": state.get("steps", 0) + 1}


def _budget_stop(node: str, problem: str, deps: AgentDeps) -> Command[Any]:
    """End the request before the node's LLM call; traced as a warning event under the turn."""
    get_tracer(deps.settings).event(
        f"{node} stopped", metadata={"node": node, "stop_reason": "budget"}, level="WARNING", status_message=problem
    )
    return stop_request(problem, "budget")


def supervisor(state: ChatState, deps: AgentDeps) -> Command[Literal["experimenter", "analyst", "__end__"]]:
    """Pick the worker for the next step, or answer the user and end the request.

    Traced as one generation named ``supervisor``: its output (the reply, with the hand-off call) is the routing.
    """
    if problem := limits.steps_exhausted(dict(state), deps.settings):
        return _budget_stop("supervisor", problem, deps)
    messages = [{"role": "system", "content": load_prompt("supervisor")}, *state["messages"]]
    reply = deps.llm.complete(
        messages,
        deps.transfer_tools,
        name="supervisor",
        metadata={"node": "supervisor", "steps": state.get("steps", 0)},
    )
    update: dict[str, Any] = _usage(state, reply)
    if not reply.tool_calls:
        update["messages"] = [reply.as_message()]
        return Command(goto="__end__", update=update)
    call = reply.tool_calls[0]  # one hand-off at a time
    name = call["function"]["name"]
    worker = name.removeprefix("transfer_to_")
    task = _task_of(call)
    assistant = {"role": "assistant", "content": reply.content, "tool_calls": [call]}
    if worker not in WORKERS:
        ack = f"ERROR: there is no tool '{name}'; use transfer_to_experimenter or transfer_to_analyst, or answer."
        update["messages"] = [assistant, tool_message(call, ack)]
        return Command(goto=cast(Any, "supervisor"), update=update)
    update["messages"] = [assistant, tool_message(call, f"transferred to {worker}: {task}")]
    update.update(active_worker=worker, task=task)
    return Command(goto=cast(Literal["experimenter", "analyst"], worker), update=update)


def _task_of(call: dict[str, Any]) -> str:
    try:
        return str(json.loads(call["function"].get("arguments") or "{}").get("task", ""))
    except (json.JSONDecodeError, AttributeError):
        return ""


def worker(state: ChatState, deps: AgentDeps, name: Worker) -> Command[Literal["approval", "supervisor", "__end__"]]:
    """Let a worker call its tools for the current step, or hand back to the supervisor.

    Traced as one generation named after the worker: its output (the reply, with its tool calls) is the decision.
    """
    if problem := limits.steps_exhausted(dict(state), deps.settings):
        return _budget_stop(name, problem, deps)
    messages = [{"role": "system", "content": load_prompt(name)}, *state["messages"]]
    reply = deps.llm.complete(
        messages,
        deps.tools.schemas(WORKER_TOOLS[name]),
        name=name,
        metadata={"node": name, "task": state.get("task", "")},
    )
    update: dict[str, Any] = _usage(state, reply)
    update["messages"] = [reply.as_message()]
    if not reply.tool_calls:
        return Command(goto="supervisor", update=update)
    update["pending_calls"] = reply.tool_calls
    return Command(goto="approval", update=update)
