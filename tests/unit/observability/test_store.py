"""The local trace store: what the tracer records comes back as a tree with ids, timings, types, usage and cost."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from minivess.errors import DataError
from minivess.observability import TraceStore, current_trace_id, get_tracer
from minivess.observability.models import ObservationRecord, build_tree
from minivess.settings import get_settings


def _chat_turn(session: str = "thread-1") -> str:
    tracer = get_tracer(get_settings())
    with tracer.trace("chat turn", session_id=session, input={"text": "train a model"}, as_type="agent") as turn:
        with tracer.observe("supervisor", as_type="agent", input={"task": "plan"}) as node:
            with tracer.observe(
                "llm", as_type="generation", model="openai/gpt-4o-mini", input=[{"role": "user", "content": "hi"}]
            ) as gen:
                gen.update(
                    output={"content": "ok"}, usage={"prompt_tokens": 120, "completion_tokens": 30}, cost_usd=0.002
                )
            node.update(output={"goto": "experimenter"})
        with tracer.observe("train_model", as_type="tool", input={"epochs": 2}) as tool:
            tracer.event("epoch", metadata={"epoch": 1, "val_dice": 0.5})
            tracer.event("epoch", metadata={"epoch": 2, "val_dice": 0.6})
            tool.update(output={"run_id": "r1"})
        turn.update(output="trained r1")
        trace_id = turn.trace_id
    assert trace_id is not None
    assert tracer.flush()
    return trace_id


def test_round_trip_builds_the_tree_with_parents_timings_types_usage_and_cost(minivess_home: Path) -> None:
    trace_id = _chat_turn()
    store = TraceStore(minivess_home / "traces.db")
    detail = store.trace(trace_id)

    assert [r.record.name for r in detail.roots] == ["chat turn"]
    root = detail.roots[0]
    assert root.record.parent_id is None and root.record.type == "agent"
    assert root.record.session_id == "thread-1" and root.record.trace_name == "chat turn"
    assert [c.record.name for c in root.children] == ["supervisor", "train_model"]
    supervisor, tool = root.children
    (gen,) = supervisor.children
    assert gen.record.parent_id == supervisor.record.span_id
    assert supervisor.record.parent_id == root.record.span_id
    assert (gen.record.type, gen.record.model) == ("generation", "openai/gpt-4o-mini")
    assert gen.record.usage == {"input": 120, "output": 30, "total": 150}
    assert gen.record.cost_usd == pytest.approx(0.002)
    assert [e.record.type for e in tool.children] == ["event", "event"]
    assert [e.record.metadata["epoch"] for e in tool.children] == [1, 2]
    assert tool.record.type == "tool" and tool.as_json()["output"] == {"run_id": "r1"}
    # timings nest: every child starts and ends within its parent
    for parent in (root, supervisor, tool):
        for child in parent.children:
            assert parent.record.start_ns <= child.record.start_ns <= child.record.end_ns <= parent.record.end_ns
    assert all(r.trace_id == trace_id for r in store.observations(trace_id))
    summary = detail.summary
    assert (summary.observations, summary.input_tokens, summary.output_tokens) == (6, 120, 30)
    assert summary.cost_usd == pytest.approx(0.002) and summary.errors == 0


def test_list_filters_by_session_and_resolves_prefixes(minivess_home: Path) -> None:
    first = _chat_turn("thread-a")
    second = _chat_turn("thread-b")
    store = TraceStore(minivess_home / "traces.db")
    assert [s.trace_id for s in store.list_traces()] == [second, first]  # newest first
    assert [s.trace_id for s in store.list_traces(session_id="thread-a")] == [first]
    assert store.list_traces(limit=1)[0].trace_id == second
    assert store.resolve(first[:10]) == first
    with pytest.raises(DataError, match="no trace"):
        store.resolve("ffffffffffff")
    with pytest.raises(DataError, match="at least 4"):
        store.resolve("ab")


def test_errors_are_recorded_redacted_and_re_raised(minivess_home: Path) -> None:
    tracer = get_tracer(get_settings())
    with pytest.raises(RuntimeError, match="disk full"), tracer.trace("turn") as turn, tracer.observe("tool"):
        raise RuntimeError("disk full, key sk-abcdefghijklmnopqrstuvwx")
    tracer.flush()
    records = {r.name: r for r in TraceStore(minivess_home / "traces.db").observations(str(turn.trace_id))}
    assert records["tool"].level == "ERROR" and records["turn"].level == "ERROR"
    assert records["tool"].status_message == "RuntimeError: disk full, key [REDACTED]"
    assert records["tool"].events == []  # the raw exception never reaches OTel's exception event


def test_control_flow_exceptions_are_not_errors(minivess_home: Path) -> None:
    from langgraph.errors import GraphInterrupt  # what interrupt() raises: a pause, not a failure

    tracer = get_tracer(get_settings())
    with pytest.raises(GraphInterrupt), tracer.trace("turn") as turn, tracer.observe("approval"):
        raise GraphInterrupt(())
    tracer.flush()
    records = TraceStore(minivess_home / "traces.db").observations(str(turn.trace_id))
    assert {r.level for r in records} == {"DEFAULT"}


def test_trace_starts_a_new_root_and_update_trace_reaches_it(minivess_home: Path) -> None:
    tracer = get_tracer(get_settings())
    with tracer.observe("outer") as outer:
        with tracer.trace("turn", metadata={"model": "m"}) as turn:
            assert current_trace_id() == turn.trace_id != outer.trace_id
            with tracer.observe("tool"):
                tracer.update_trace(metadata={"mlflow_run_id": "abc123"})
        assert current_trace_id() == outer.trace_id
    assert current_trace_id() is None
    tracer.flush()
    (root,) = TraceStore(minivess_home / "traces.db").trace(str(turn.trace_id)).roots
    assert root.record.parent_id is None
    assert root.record.metadata == {"model": "m", "mlflow_run_id": "abc123"}


def test_observe_event_records_one_event_with_its_updates(minivess_home: Path) -> None:
    tracer = get_tracer(get_settings())
    with tracer.trace("turn") as turn, tracer.observe("approval", as_type="event", input={"q": "train?"}) as ev:
        ev.update(output={"approved": True}, metadata={"by": "user"})
    tracer.flush()
    records = {r.name: r for r in TraceStore(minivess_home / "traces.db").observations(str(turn.trace_id))}
    assert records["approval"].type == "event"
    assert records["approval"].as_json()["output"] == {"approved": True}
    assert records["approval"].metadata == {"by": "user"}
    assert records["approval"].parent_id == records["turn"].span_id


def test_store_schema_is_plain_sqlite(minivess_home: Path) -> None:
    _chat_turn()
    with sqlite3.connect(minivess_home / "traces.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"observations", "scores"} <= tables
        assert conn.execute("SELECT COUNT(*) FROM observations WHERE type = 'generation'").fetchone()[0] == 1


def test_build_tree_keeps_orphans_as_roots() -> None:
    def rec(span: str, parent: str | None, start: int) -> ObservationRecord:
        return ObservationRecord(trace_id="t" * 32, span_id=span, parent_id=parent, name=span, start_ns=start, end_ns=9)

    roots = build_tree([rec("b", "a", 2), rec("a", None, 1), rec("c", "missing", 3)])
    assert [r.record.span_id for r in roots] == ["a", "c"]
    assert [c.record.span_id for c in roots[0].children] == ["b"]


def test_large_metadata_is_kept_without_warnings(minivess_home: Path, caplog: pytest.LogCaptureFixture) -> None:
    tracer = get_tracer(get_settings())
    metrics = {f"metric_{i}": float(i) for i in range(150)}  # more keys than OTel's default 128 attributes
    with tracer.trace("turn") as turn:
        tracer.event("epoch", metadata=metrics)
    tracer.flush()
    records = {r.name: r for r in TraceStore(minivess_home / "traces.db").observations(str(turn.trace_id))}
    assert records["epoch"].metadata == metrics
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == []
