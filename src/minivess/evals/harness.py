"""Run chat turns through the real graph for evals: temp homes, optional stub tools, one output shape."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import time
from pathlib import Path
from typing import Any

from braintrust import EvalHooks
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel, ConfigDict

from minivess.errors import ToolInputError
from minivess.evals.tracing import turn_trace_id
from minivess.graphs.chat import build_chat_graph
from minivess.graphs.session import ChatSession, TurnOutcome
from minivess.settings import Settings
from minivess.tools.base import Tool, ToolContext, ToolRegistry
from minivess.tools.registry import REGISTRY

logger = logging.getLogger(__name__)

# Where a case's settings must not follow the caller's: everything the agent writes goes to the temp home.
_LOCATION_FIELDS = ("home", "data_dir", "mlflow_tracking_uri", "duckdb_path")
_RUN_ID = re.compile(r"[0-9a-f]{32}")


def case_settings(base: Settings, home: Path) -> Settings:
    """The caller's settings (model, fallbacks, budgets, keys) with every location inside ``home``."""
    values = base.model_dump()
    values.update(dict.fromkeys(_LOCATION_FIELDS))
    values["home"] = home
    return Settings(**values)


class StubResult(BaseModel):
    """What a stub tool answers: a run id (the run it was asked about, or a new one) and a note that nothing ran."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    status: str = "FINISHED"
    note: str = "stub result: the planner eval scores decisions and does not run tools"


def stub_registry(ran: list[str], seed: str = "") -> ToolRegistry:
    """Every real tool (same schema, description, approval policy and budget) with a function that runs nothing
    and no reference pins (`Tool.pin`).

    Args:
        ran: Receives the name of each stub that was called, in order.
        seed: Makes the stub run ids differ between cases.

    Returns:
        A registry for `build_chat_graph(tools=...)`.
    """

    def stub(name: str) -> Any:
        def run(args: BaseModel, ctx: ToolContext) -> StubResult:
            ran.append(name)
            run_id = _stub_run_id(getattr(args, "run_id", None), f"{seed}:{len(ran)}")
            if name == "synthesize_data":  # the folder it would write, so "…, then check it for drift" can chain
                return StubResult(run_id=run_id, path=str(getattr(args, "name", "synthetic")))
            return StubResult(run_id=run_id)

        return run

    # No pins either: resolving 'last' would read a tracking store the planner eval never fills.
    tools: list[Tool[Any, Any]] = [
        dataclasses.replace(REGISTRY.get(n), func=stub(n), pin=lambda args, ctx: {}) for n in REGISTRY.names()
    ]
    return ToolRegistry(tools)


def _stub_run_id(reference: Any, fresh: str) -> str:
    """The id a real tool would report: the referenced run (a reference like 'best:segresnet' resolves to a stable
    fake id), or a new run's id for tools that create one."""
    if isinstance(reference, str) and _RUN_ID.fullmatch(reference):
        return reference
    key = f"ref:{reference}" if isinstance(reference, str) else f"new:{fresh}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class Conversation:
    """One chat thread on the real graph (in-memory checkpoints), with the model the settings name.

    Args:
        settings: Settings for this conversation (use `case_settings` for a temp home).
        tools: The tool registry; default the real tools.
        keep_results: Put each tool's result in the output (``calls[i]["result"]``).
    """

    def __init__(self, settings: Settings, tools: ToolRegistry | None = None, *, keep_results: bool = False) -> None:
        self.settings = settings
        self.tools = tools or REGISTRY
        self.keep_results = keep_results
        graph = build_chat_graph(settings, InMemorySaver(), tools=self.tools)
        self.session = ChatSession(settings, graph=graph)

    def send(
        self, text: str, *, history: list[dict[str, Any]] | None = None, auto_approve: bool = False
    ) -> dict[str, Any]:
        """Send one request through `ChatSession.send`; ``history`` (earlier OpenAI messages) seeds a fresh thread
        first. Returns the `turn_output` shape."""
        if history:
            # Recorded as the supervisor's update: the thread then has nothing pending and the request starts anew.
            self.session.graph.update_state(self.session.config, {"messages": history}, as_node="supervisor")
        tic = time.perf_counter()
        outcome = self.session.send(text, auto_approve=auto_approve)
        return turn_output(outcome, time.perf_counter() - tic, self.tools, keep_results=self.keep_results)

    def decide(self, approved: bool) -> dict[str, Any]:
        """Answer the pending approval and run on; `turn_output` shape."""
        tic = time.perf_counter()
        outcome = self.session.decide(approved, by="eval")
        return turn_output(outcome, time.perf_counter() - tic, self.tools, keep_results=self.keep_results)


def normalised_args(tools: ToolRegistry, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Arguments as the tool understands them (validated, JSON types, unset fields dropped); raw when invalid."""
    if name not in tools:
        return arguments
    try:
        parsed = tools.get(name).parse(arguments)
    except ToolInputError:
        return arguments
    return dict(parsed.model_dump(mode="json", exclude_none=True))


def turn_output(
    outcome: TurnOutcome, seconds: float, tools: ToolRegistry, *, keep_results: bool = False
) -> dict[str, Any]:
    """The JSON output every task returns: status, calls (ran, then waiting for approval), answer, metrics."""
    calls: list[dict[str, Any]] = []
    for record in outcome.tools:
        call = {"tool": record.name, "args": normalised_args(tools, record.name, record.arguments), "ran": True}
        call["ok"] = record.ok
        if keep_results:
            call["result"] = record.result()
        calls.append(call)
    calls += [
        {"tool": q["tool"], "args": normalised_args(tools, q["tool"], q["arguments"]), "ran": False, "ok": None}
        for q in outcome.questions
    ]
    usage = outcome.usage
    return {
        "status": outcome.status,
        "calls": calls,
        "answer": outcome.answer,
        "stop_reason": outcome.stop_reason,
        "trace_id": turn_trace_id(outcome),
        "metrics": {
            "latency_s": round(seconds, 4),
            "llm_calls": int(usage.get("llm_calls", 0)),
            "prompt_tokens": int(usage.get("prompt_tokens", 0)),
            "completion_tokens": int(usage.get("completion_tokens", 0)),
            "cost_usd": float(usage.get("cost_usd", 0.0)),
        },
    }


def record_trace(hooks: EvalHooks[Any], output: dict[str, Any], home: Path) -> None:
    """Put the turn's trace id (and the home its trace was written in) into the Braintrust case's metadata."""
    trace_id, metadata = output.get("trace_id"), hooks.metadata
    if trace_id and isinstance(metadata, dict):
        metadata["trace_id"] = trace_id
        metadata["trace_home"] = str(home)


def case_id(hooks: EvalHooks[Any], default: str = "case") -> str:
    """The case id the suites put in each case's metadata."""
    metadata = hooks.metadata
    return str(metadata.get("case_id", default)) if isinstance(metadata, dict) else default
