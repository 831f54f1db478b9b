"""The approval gate: which pending calls need a human yes, asked with LangGraph `interrupt()`."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.types import Command, interrupt

from minivess.agents import limits
from minivess.agents.nodes import AgentDeps
from minivess.agents.state import ChatState, tool_message
from minivess.errors import ToolInputError
from minivess.observability import get_tracer
from minivess.tools.base import ToolContext


def approval(state: ChatState, deps: AgentDeps) -> Command[Literal["tools", "experimenter", "analyst", "__end__"]]:
    """Ask a human before costly, promoting or overwriting calls (LangGraph interrupt; nothing runs before it)."""
    calls = state.get("pending_calls", [])
    if state.get("dry_run"):
        return Command(goto="__end__", update={"stop_reason": "dry_run"})
    # Ask only about calls the request's budgets allow: the tools node ends the request at the first call they
    # refuse (with the budget message), so asking about it would be a question whose yes changes nothing.
    questions = _approval_questions(affordable_calls(calls, state, deps), deps)
    if not questions:
        return Command(goto="tools")
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


def _approval_questions(calls: list[dict[str, Any]], deps: AgentDeps) -> list[dict[str, Any]]:
    questions = []
    ctx = ToolContext(settings=deps.settings)
    for call in calls:
        name = call["function"]["name"]
        if name not in deps.tools:
            continue
        tool = deps.tools.get(name)
        try:
            args = tool.parse(call["function"].get("arguments"))
        except ToolInputError:
            continue  # the tools node sends the error back to the model
        if reason := tool.needs_approval(args, ctx):
            questions.append({"tool": name, "arguments": args.model_dump(exclude_none=True), "reason": reason})
    return questions


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
