"""Drive the chat graph for one thread: send a request, stream events, pause at approvals, resume later."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command

from minivess.agents.state import new_request
from minivess.cancel import cancel_on_interrupt
from minivess.errors import AgentError
from minivess.graphs.chat import build_chat_graph
from minivess.graphs.checkpoint import open_checkpointer, threads_db
from minivess.graphs.interruption import record_interruption
from minivess.observability import get_tracer
from minivess.settings import Settings

logger = logging.getLogger(__name__)

EventSink = Callable[[str, Any], None]
Status = Literal["done", "failed", "awaiting_approval", "stopped", "dry_run"]


@dataclass
class ToolRecord:
    name: str
    arguments: dict[str, Any]
    content: str

    @property
    def ok(self) -> bool:
        return not self.content.startswith(("ERROR:", "REJECTED:"))

    def result(self) -> Any:
        try:
            return json.loads(self.content)
        except json.JSONDecodeError:
            return self.content


@dataclass
class TurnOutcome:
    """What one request (or one approval decision) led to."""

    thread_id: str
    status: Status
    answer: str | None
    tools: list[ToolRecord] = field(default_factory=list)
    questions: list[dict[str, Any]] = field(default_factory=list)
    planned_calls: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    trace_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "status": self.status,
            "answer": self.answer,
            "tools": [{"name": t.name, "arguments": t.arguments, "result": t.result()} for t in self.tools],
            "questions": self.questions,
            "planned_calls": self.planned_calls,
            "stop_reason": self.stop_reason,
            "usage": self.usage,
            "trace_id": self.trace_id,
        }


class TurnInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a request; the message says what was stopped (the thread and trace record it too)."""


class PendingApprovalError(AgentError):
    """A new request was sent while the thread waits for an approval decision."""


def new_thread_id() -> str:
    return uuid.uuid4().hex[:12]


class ChatSession:
    """One thread of the chat graph, checkpointed in SQLite under the home directory."""

    def __init__(self, settings: Settings, thread_id: str | None = None, graph: Any = None) -> None:
        self.settings = settings
        self.thread_id = thread_id or new_thread_id()
        self.graph = graph or build_chat_graph(settings, open_checkpointer(settings))
        self.last_trace_id: str | None = None  # the latest turn's trace, for feedback scores

    @property
    def config(self) -> RunnableConfig:
        return RunnableConfig(configurable={"thread_id": self.thread_id})

    def pending_questions(self) -> list[dict[str, Any]]:
        return _questions(self.graph.get_state(self.config))

    def send(
        self, text: str, *, auto_approve: bool = False, dry_run: bool = False, on_event: EventSink | None = None
    ) -> TurnOutcome:
        """Start a request on this thread and run it until it ends or needs an approval."""
        snapshot = self.graph.get_state(self.config)
        if _questions(snapshot):
            raise PendingApprovalError(
                f"thread {self.thread_id} is waiting for an approval; run `minivess approve {self.thread_id}` "
                f"or `minivess reject {self.thread_id}` first."
            )
        messages = list(snapshot.values.get("messages", []))
        repairs = dangling_tool_answers(messages)
        inputs = new_request(
            text, message_count=len(messages) + len(repairs), auto_approve=auto_approve, dry_run=dry_run
        )
        inputs["messages"] = [*repairs, *inputs["messages"]]
        return self._run(inputs, on_event)

    def decide(
        self, approved: bool, *, by: str = "user", comment: str = "", on_event: EventSink | None = None
    ) -> TurnOutcome:
        """Answer the pending approval and run on (the interrupted node re-runs from its top)."""
        if not self.pending_questions():
            raise PendingApprovalError(
                f"thread {self.thread_id} has no pending approval; `minivess threads` lists the threads."
            )
        return self._run(Command(resume={"approved": approved, "by": by, "comment": comment}), on_event)

    def _run(self, inputs: Any, on_event: EventSink | None) -> TurnOutcome:
        """Stream the graph inside one trace (thread id = Langfuse session id).

        Raises:
            TurnInterrupted: Ctrl-C; running tools stopped at their next step (a training run is KILLED), and the
                thread and the trace say what was interrupted.
        """
        tracer = get_tracer(self.settings)
        request = inputs["messages"][-1]["content"] if isinstance(inputs, dict) else {"resume": inputs.resume}
        metadata = {"model": self.settings.llm_model}  # the thread id is the trace's session id
        started: list[str] = []  # MLflow runs the tools started in this turn (for the interruption record)
        stopped: str | None = None
        with tracer.trace("chat", session_id=self.thread_id, input=request, as_type="agent", metadata=metadata) as turn:
            try:
                with cancel_on_interrupt():
                    for mode, payload in self.graph.stream(inputs, self.config, stream_mode=["updates", "custom"]):
                        if mode == "custom" and isinstance(payload, dict) and payload.get("event") == "run_started":
                            started.append(str(payload.get("run_id")))
                        if on_event is not None:
                            on_event(mode, payload)
            except KeyboardInterrupt:
                stopped = record_interruption(self.graph, self.config, started)
                turn.update(
                    output={"status": "interrupted", "answer": stopped}, level="WARNING", status_message=stopped
                )
            else:
                outcome = self.outcome()
                turn.update(
                    output={"status": outcome.status, "answer": outcome.answer, "stop_reason": outcome.stop_reason},
                    metadata={"usage": outcome.usage, "tools": [t.name for t in outcome.tools]},
                    level="WARNING" if outcome.status in ("stopped", "failed") else None,
                )
        self.last_trace_id = turn.trace_id
        if stopped is not None:
            tracer.flush()
            raise TurnInterrupted(stopped)
        outcome.trace_id = turn.trace_id
        return outcome

    def outcome(self) -> TurnOutcome:
        """Summarise the thread's current request from its checkpoint."""
        snapshot = self.graph.get_state(self.config)
        values = snapshot.values
        messages = values.get("messages", [])[values.get("request_start", 0) :]
        questions = _questions(snapshot)
        stop = values.get("stop_reason")
        tools = tool_records(messages)
        status: Status = (
            "awaiting_approval"
            if questions
            else "dry_run"
            if stop == "dry_run"
            else "stopped"
            if stop
            else "failed"
            if _unrecovered_failure(tools)
            else "done"
        )
        answer = next(
            (m.get("content") for m in reversed(messages) if m["role"] == "assistant" and not m.get("tool_calls")), None
        )
        return TurnOutcome(
            thread_id=self.thread_id,
            status=status,
            answer=answer if status != "awaiting_approval" else None,
            tools=tools,
            questions=questions,
            planned_calls=_calls(values.get("pending_calls", [])) if stop == "dry_run" else [],
            stop_reason=stop,
            usage=dict(values.get("usage") or {}),
        )


def _unrecovered_failure(tools: list[ToolRecord]) -> bool:
    """A tool whose last call in the request failed or was refused (a retry that worked is not a failure)."""
    last = {record.name: record.ok for record in tools}
    return not all(last.values())


def _questions(snapshot: Any) -> list[dict[str, Any]]:
    """The approval questions a checkpoint's pending interrupts ask."""
    return [q for item in snapshot.interrupts for q in (item.value or {}).get("questions", [])]


def _calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"name": c["function"]["name"], "arguments": _args(c["function"].get("arguments"))} for c in calls]


def _args(raw: Any) -> dict[str, Any]:
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else (raw or {})
    except json.JSONDecodeError:
        return {"_raw": raw}
    return parsed if isinstance(parsed, dict) else {"_raw": parsed}


def tool_records(messages: list[dict[str, Any]]) -> list[ToolRecord]:
    """Domain tool calls (not hand-offs) with their results, in order."""
    calls = {c["id"]: c for m in messages if m["role"] == "assistant" for c in (m.get("tool_calls") or [])}
    records = []
    for message in messages:
        call = calls.get(message.get("tool_call_id", "")) if message["role"] == "tool" else None
        if call and not call["function"]["name"].startswith("transfer_to_"):
            records.append(
                ToolRecord(call["function"]["name"], _args(call["function"].get("arguments")), message["content"])
            )
    return records


def dangling_tool_answers(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool messages for calls a failed or dry-run request left unanswered, so the thread stays well-formed."""
    answered = {m.get("tool_call_id") for m in messages if m["role"] == "tool"}
    return [
        {
            "role": "tool",
            "tool_call_id": c["id"],
            "name": c["function"]["name"],
            "content": "ERROR: not run (the request ended before it).",
        }
        for m in messages
        if m["role"] == "assistant"
        for c in (m.get("tool_calls") or [])
        if c["id"] not in answered
    ]


def list_threads(settings: Settings) -> list[str]:
    """Thread ids in the checkpoint store, most recent first."""
    import sqlite3

    path = threads_db(settings)
    if not path.exists():
        return []
    with sqlite3.connect(path) as conn:
        try:
            rows = conn.execute(
                "SELECT thread_id, MAX(checkpoint_id) AS last FROM checkpoints GROUP BY thread_id ORDER BY last DESC"
            ).fetchall()
        except sqlite3.OperationalError:
            return []
    return [str(r[0]) for r in rows]
