"""The approval gate: which pending calls need a human yes, asked with LangGraph `interrupt()`."""

from __future__ import annotations

import json
from typing import Any, Literal

from langgraph.types import Command, interrupt
from pydantic import BaseModel

from minivess.agents import limits
from minivess.agents.nodes import AgentDeps
from minivess.agents.state import ChatState, tool_message
from minivess.errors import ToolInputError
from minivess.observability import get_tracer
from minivess.tools.base import Tool, ToolContext


def approval(
    state: ChatState, deps: AgentDeps
) -> Command[Literal["tools", "approval", "experimenter", "analyst", "__end__"]]:
    """Ask a human before costly, promoting or overwriting calls (LangGraph interrupt; nothing runs before it).

    A call asked about has its moving references ('last', 'best', 'champion') pinned first, in a pass of its own:
    on resume this node re-runs from its top, and a reference resolved again then could name another run than the
    question showed.
    """
    calls = state.get("pending_calls", [])
    if state.get("dry_run"):
        return Command(goto="__end__", update={"stop_reason": "dry_run"})
    # Ask only about calls the request's budgets allow: the tools node ends the request at the first call they
    # refuse (with the budget message), so asking about it would be a question whose yes changes nothing.
    asked = _asked(affordable_calls(calls, state, deps), deps)
    if not asked:
        return Command(goto="tools")
    if pinned := _pinned(calls, asked, deps):
        return Command(goto="approval", update={"pending_calls": pinned})
    questions = [_question(call, args, reason) for _, call, args, _, reason in asked]
    tracer = get_tracer(deps.settings)
    if state.get("auto_approve"):
        record = {"questions": questions, "approved": True, "by": "--yes", "comment": ""}
        tracer.event("approval", input={"questions": questions}, output={"approved": True}, metadata={"by": "--yes"})
        _audit(deps, questions, record)
        return Command(goto="tools", update={"approvals": [*state.get("approvals", []), record]})
    # Nothing is traced or written before interrupt(): on resume this node re-runs from its top.
    answer = _normalise(interrupt({"kind": "approval", "questions": questions}))
    tracer.event(
        "approval",
        input={"questions": questions},
        output=answer,
        metadata={"approved": answer["approved"], "by": answer["by"]},
        level=None if answer["approved"] else "WARNING",
    )
    record = {"questions": questions, **answer}
    _audit(deps, questions, record)
    approvals = [*state.get("approvals", []), record]
    if answer["approved"]:
        return Command(goto="tools", update={"approvals": approvals})
    reason = answer["comment"] or "the user declined"
    rejected = [tool_message(c, f"REJECTED: {reason}") for c in calls]
    worker_name = state.get("active_worker") or "experimenter"
    return Command(goto=worker_name, update={"messages": rejected, "pending_calls": [], "approvals": approvals})


def _audit(deps: AgentDeps, questions: list[dict[str, Any]], answer: dict[str, Any]) -> None:
    """One audit entry per question answered: who decided, what, and why (the trail fails loudly, never silently)."""
    from minivess.observability import current_trace_id
    from minivess.pipelines.governance import audit

    by = str(answer.get("by") or "user")
    for question in questions:
        audit.append(
            deps.settings,
            "approval" if answer["approved"] else "rejection",
            f"{question['tool']}: {question['reason']}",
            reason=answer.get("comment") or None,
            details={"tool": question["tool"], "arguments": question["arguments"], "answered_by": by},
            actor=None if by in {"user", "--yes"} else by,
            trace_id=current_trace_id(),
        )


def affordable_calls(calls: list[dict[str, Any]], state: ChatState, deps: AgentDeps) -> list[dict[str, Any]]:
    """The pending calls before the first one the tool or compute budget would refuse, as the tools node counts."""
    spent = {"tool_calls": state.get("tool_calls", 0), "compute_minutes": state.get("compute_minutes", 0.0)}
    for index, call in enumerate(calls):
        minutes = _estimated_minutes(call, deps)
        if limits.tool_budget_problem(spent, deps.settings, minutes):
            return calls[:index]
        spent["tool_calls"] += 1
        spent["compute_minutes"] += minutes
    return calls


def _estimated_minutes(call: dict[str, Any], deps: AgentDeps) -> float:
    """The call's compute estimate; an unknown or invalid call costs nothing (the tools node answers it)."""
    name = call["function"]["name"]
    if name not in deps.tools:
        return 0.0
    tool = deps.tools.get(name)
    try:
        return float(tool.compute_minutes(tool.parse(call["function"].get("arguments"))))
    except ToolInputError:
        return 0.0


Asked = tuple[int, dict[str, Any], BaseModel, Tool[Any, Any], str]  # position, call, its args, its tool, the reason


def _asked(calls: list[dict[str, Any]], deps: AgentDeps) -> list[Asked]:
    """The calls that need a human yes, each with its position, parsed arguments, tool and the reason to ask."""
    asked = []
    ctx = ToolContext(settings=deps.settings)
    for index, call in enumerate(calls):
        name = call["function"]["name"]
        if name not in deps.tools:
            continue
        tool = deps.tools.get(name)
        try:
            args = tool.parse(call["function"].get("arguments"))
        except ToolInputError:
            continue  # the tools node sends the error back to the model
        if reason := tool.needs_approval(args, ctx):
            asked.append((index, call, args, tool, reason))
    return asked


def _pinned(calls: list[dict[str, Any]], asked: list[Asked], deps: AgentDeps) -> list[dict[str, Any]] | None:
    """`calls` with each asked call's moving references replaced by the run they name now; None if nothing is new.

    Each call with a moving reference is looked at once: it then carries ``"pinned"`` (field → what was written,
    for the references replaced) and, for the ones kept as written, a ``"pin_note"`` saying why — a reference
    that names no run yet, or one after a call of the batch that makes runs (it means the run that call makes).
    A resumed node finds the marks and pins nothing again.
    """
    ctx = ToolContext(settings=deps.settings)
    out = list(calls)
    for index, call, args, tool, _ in asked:
        if "pinned" in call:
            continue
        moving = tool.pin(args, ctx)
        if not moving:
            continue
        if any(_makes_runs(earlier, deps) for earlier in calls[:index]):
            changes: dict[str, str] = {}
            note = "resolved when it runs: an earlier step makes runs"
        else:
            changes = {k: v for k, v in moving.items() if v is not None and v != getattr(args, k, None)}
            note = "names no run yet; resolved when it runs" if any(v is None for v in moving.values()) else ""
        raw = call["function"].get("arguments")
        data = dict(json.loads(raw) if isinstance(raw, str) else (raw or {}))
        data.update(changes)
        kept = [k for k in moving if k not in changes]
        out[index] = {
            **call,
            "function": {**call["function"], "arguments": json.dumps(data)},
            "pinned": {k: getattr(args, k) for k in changes},
            **({"pin_note": f"{_written({k: getattr(args, k) for k in kept})} {note}"} if note and kept else {}),
        }
    return out if out != calls else None


def _makes_runs(call: dict[str, Any], deps: AgentDeps) -> bool:
    name = call["function"]["name"]
    return name in deps.tools and deps.tools.get(name).makes_runs


def _written(refs: dict[str, Any]) -> str:
    """ "run_id 'last'": fields with the references as written."""
    return ", ".join(f"{field} {ref!r}" for field, ref in refs.items())


def _question(call: dict[str, Any], args: BaseModel, reason: str) -> dict[str, Any]:
    """What the approval shows: tool, arguments (references pinned), why it asks and what was pinned or not."""
    question = {"tool": call["function"]["name"], "arguments": args.model_dump(exclude_none=True), "reason": reason}
    notes = []
    if pinned := call.get("pinned"):
        notes.append(f"{_written(pinned)} pinned to the id shown, when asked")
        question["pinned"] = dict(pinned)
    if note := call.get("pin_note"):
        notes.append(str(note))
    if notes:
        question["reason"] = f"{reason} ({'; '.join(notes)})"
    return question


def _normalise(answer: Any) -> dict[str, Any]:
    if isinstance(answer, bool):
        return {"approved": answer, "by": "user", "comment": ""}
    if isinstance(answer, dict):
        return {
            "approved": bool(answer.get("approved")),
            "by": str(answer.get("by") or "user"),
            "comment": str(answer.get("comment") or ""),
        }
    return {"approved": False, "by": "user", "comment": f"unrecognised answer {answer!r}"}
