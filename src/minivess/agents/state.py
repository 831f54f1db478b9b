"""Graph state of the chat agent: the thread's messages plus per-request bookkeeping."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langgraph.types import Command

from minivess.catalog import Worker


class Usage(TypedDict):
    """Accumulated LLM accounting for the request."""

    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class ChatState(TypedDict, total=False):
    """State of one chat thread.

    `messages` holds OpenAI-format dicts for the whole thread (appended, never rewritten). The other
    fields describe the request in progress and are reset by `new_request`.
    """

    messages: Annotated[list[dict[str, Any]], operator.add]
    request_start: int  # index in `messages` of the request's user message
    active_worker: Worker | None
    task: str  # what the supervisor asked the active worker to do
    pending_calls: list[dict[str, Any]]  # tool calls a worker made that have not run yet
    steps: int  # LLM calls in this request
    tool_calls: int  # tools run in this request
    compute_minutes: float  # estimated compute spent in this request
    executed: list[str]  # "name:args" signatures run in this request (loop detection)
    stop_reason: str | None  # budget, loop, rejected, dry_run … (None while running / when done normally)
    auto_approve: bool  # --yes
    dry_run: bool
    approvals: list[dict[str, Any]]  # decisions taken in this request (question, answer, who)
    usage: Usage


def new_request(text: str, *, message_count: int, auto_approve: bool = False, dry_run: bool = False) -> ChatState:
    """The state update that starts a request: the user message plus fresh counters."""
    return ChatState(
        messages=[{"role": "user", "content": text}],
        request_start=message_count,
        active_worker=None,
        task="",
        pending_calls=[],
        steps=0,
        tool_calls=0,
        compute_minutes=0.0,
        executed=[],
        stop_reason=None,
        auto_approve=auto_approve,
        dry_run=dry_run,
        approvals=[],
        usage=Usage(llm_calls=0, prompt_tokens=0, completion_tokens=0, cost_usd=0.0),
    )


def start_request(state: ChatState) -> ChatState:
    """Graph entry: fresh per-request fields for a request sent as bare `{"messages": [...]}` (Studio, langgraph-sdk).

    `ChatSession.send` starts each request with `new_request`, so for it this is a no-op; without it, a second bare
    request on a thread would inherit the first one's steps, tool calls and loop signatures. `auto_approve` and
    `dry_run` stay as the input (or an earlier one on the thread) set them.
    """
    messages = state.get("messages", [])
    last_user = next((i for i in reversed(range(len(messages))) if messages[i].get("role") in ("user", "human")), None)
    if last_user is None or state.get("request_start") == last_user:
        return ChatState()
    fresh = new_request(
        "",
        message_count=last_user,
        auto_approve=bool(state.get("auto_approve")),
        dry_run=bool(state.get("dry_run")),
    )
    del fresh["messages"]
    return fresh


def tool_message(call: dict[str, Any], content: str) -> dict[str, Any]:
    """The tool message answering one call."""
    return {"role": "tool", "tool_call_id": call["id"], "name": call["function"]["name"], "content": content}


def stop_request(message: str, reason: str) -> Command[Any]:
    """End the request with an assistant message saying why (budget, loop …)."""
    return Command(
        goto="__end__", update={"messages": [{"role": "assistant", "content": message}], "stop_reason": reason}
    )
