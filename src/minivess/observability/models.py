"""Records of the local trace store: observations, scores, trace summaries and trees."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ObservationType = Literal[
    "span", "generation", "tool", "agent", "event", "chain", "retriever", "evaluator", "embedding", "guardrail"
]
Level = Literal["DEBUG", "DEFAULT", "WARNING", "ERROR"]
ScoreSource = Literal["user", "eval"]
ScoreDelivery = Literal["local", "pending", "sent", "failed"]


def parse_json(text: str | None) -> Any:
    """A stored JSON string as data; text that is not JSON stays text."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return text


class ObservationRecord(BaseModel):
    """One observation (OTel span) as the local store keeps it; input/output are JSON text as exported."""

    model_config = ConfigDict(extra="forbid")

    trace_id: str
    span_id: str
    parent_id: str | None = None
    name: str
    type: str = "span"
    start_ns: int
    end_ns: int
    level: str = "DEFAULT"
    status_message: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    trace_name: str | None = None
    model: str | None = None
    input: str | None = None
    output: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    usage: dict[str, int] = Field(default_factory=dict)
    cost_usd: float | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    events: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    @property
    def input_tokens(self) -> int | None:
        return self.usage.get("input")

    @property
    def output_tokens(self) -> int | None:
        return self.usage.get("output")

    def as_json(self) -> dict[str, Any]:
        """The record with input/output parsed back into data, plus duration and tokens."""
        data = self.model_dump()
        data.update(
            input=parse_json(self.input),
            output=parse_json(self.output),
            duration_ms=round(self.duration_ms, 3),
        )
        return data


class ScoreRecord(BaseModel):
    """A score on a trace (or one observation of it): user feedback (/good, /bad) or an eval result."""

    model_config = ConfigDict(extra="forbid")

    id: str
    trace_id: str
    observation_id: str | None = None
    name: str
    value: float | str
    comment: str | None = None
    source: ScoreSource = "user"
    created_ns: int
    langfuse: ScoreDelivery = "local"


class TraceSummary(BaseModel):
    """One line of `minivess traces list`."""

    trace_id: str
    name: str
    session_id: str | None
    start_ns: int
    end_ns: int
    observations: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    errors: int

    @property
    def duration_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6


class ObservationNode(BaseModel):
    """An observation with its children, in start order."""

    record: ObservationRecord
    children: list[ObservationNode] = Field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {**self.record.as_json(), "children": [c.as_json() for c in self.children]}


class TraceDetail(BaseModel):
    """A whole trace: its summary, observation tree(s) and scores."""

    summary: TraceSummary
    roots: list[ObservationNode]
    scores: list[ScoreRecord]

    def as_json(self) -> dict[str, Any]:
        """JSON-ready export (what `minivess traces export` writes)."""
        return {
            **self.summary.model_dump(),
            "duration_ms": round(self.summary.duration_ms, 3),
            "observations": [r.as_json() for r in self.roots],
            "scores": [s.model_dump() for s in self.scores],
        }


def build_tree(records: list[ObservationRecord]) -> list[ObservationNode]:
    """Nest observations under their parents; those whose parent is not stored become roots.

    Args:
        records: Observations of one trace, any order.

    Returns:
        Root nodes in start order, each with children in start order.
    """
    ordered = sorted(records, key=lambda r: (r.start_ns, r.end_ns))
    nodes = {r.span_id: ObservationNode(record=r) for r in ordered}
    roots: list[ObservationNode] = []
    for record in ordered:
        parent = nodes.get(record.parent_id) if record.parent_id else None
        (parent.children if parent is not None else roots).append(nodes[record.span_id])
    return roots
