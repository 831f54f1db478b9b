"""The real Langfuse export path (OTLP/HTTP + score REST) against a fake server, redaction end to end,
an unreachable host and the keyless (offline) mode."""

from __future__ import annotations

import base64
import json
import logging
import warnings
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr

from minivess.observability import TraceStore, get_tracer
from minivess.observability.tracer import LangfuseTracer
from minivess.settings import get_settings
from tests.unit.observability.conftest import OTLP_PATH, SCORES_PATH, FakeLangfuse

PUBLIC, SECRET = "pk-lf-test-0123456789", "sk-lf-test-secret-9876543210abcdef"


def _turn(tracer: object) -> str:
    assert isinstance(tracer, LangfuseTracer)
    with tracer.trace("chat turn", session_id="thread-7", input={"text": "hello-marker"}, as_type="agent") as turn:
        with tracer.observe("llm", as_type="generation", model="openai/gpt-4o-mini", input=[{"role": "user"}]) as g:
            g.update(output={"content": "ok"}, usage={"input": 11, "output": 7}, cost_usd=0.0005)
        with tracer.observe("dataset_info", as_type="tool", input={"path": "data/x"}) as tool:
            tool.update(output={"volumes": 3})
    assert turn.trace_id is not None
    return turn.trace_id


def test_spans_reach_langfuse_with_basic_auth_and_langfuse_attributes(fake_langfuse: FakeLangfuse) -> None:
    tracer = get_tracer(get_settings())
    trace_id = _turn(tracer)
    assert tracer.flush()

    requests = fake_langfuse.at(OTLP_PATH)
    assert requests, "no OTLP request reached the fake Langfuse"
    expected_auth = "Basic " + base64.b64encode(f"{PUBLIC}:{SECRET}".encode()).decode()
    assert {r.headers["authorization"] for r in requests} == {expected_auth}
    assert {r.headers.get("content-encoding") for r in requests} == {"gzip"}
    spans = {s.name: s for s in fake_langfuse.spans()}
    assert set(spans) == {"chat turn", "llm", "dataset_info"}
    assert {s.trace_id for s in spans.values()} == {trace_id}
    root, llm, tool = spans["chat turn"], spans["llm"], spans["dataset_info"]
    assert llm.parent_id == tool.parent_id == root.span_id and root.parent_id == ""
    assert root.attributes["langfuse.observation.type"] == "agent"
    assert json.loads(root.attributes["langfuse.observation.input"]) == {"text": "hello-marker"}
    assert root.attributes["session.id"] == "thread-7"
    assert root.attributes["langfuse.trace.name"] == "chat turn"
    assert llm.attributes["langfuse.observation.type"] == "generation"
    assert llm.attributes["langfuse.observation.model.name"] == "openai/gpt-4o-mini"
    assert json.loads(llm.attributes["langfuse.observation.usage_details"]) == {"input": 11, "output": 7, "total": 18}
    assert json.loads(llm.attributes["langfuse.observation.cost_details"]) == {"total": 0.0005}
    assert json.loads(llm.attributes["langfuse.observation.output"]) == {"content": "ok"}
    assert tool.attributes["langfuse.observation.type"] == "tool"
    assert llm.scope_attributes["public_key"] == PUBLIC  # Langfuse scopes spans to the project by it
    # the same trace is in the local store
    assert TraceStore(get_settings().home_dir / "traces.db").trace(trace_id).summary.observations == 3


def test_scores_are_stored_locally_and_posted_to_langfuse(fake_langfuse: FakeLangfuse) -> None:
    tracer = get_tracer(get_settings())
    trace_id = _turn(tracer)
    score_id = tracer.score(trace_id, "user_feedback", False, comment="wrong dataset")
    assert tracer.flush()

    (request,) = fake_langfuse.at(SCORES_PATH)
    (sent,) = json.loads(request.body)
    assert (sent["traceId"], sent["id"], sent["name"], sent["value"]) == (trace_id, score_id, "user_feedback", 0.0)
    assert sent["comment"] == "wrong dataset" and sent["metadata"] == {"source": "user"}
    (stored,) = TraceStore(get_settings().home_dir / "traces.db").scores(trace_id)
    assert (stored.id, stored.value, stored.langfuse) == (score_id, 0.0, "sent")


def test_scores_without_langfuse_stay_local(minivess_home: Path) -> None:
    tracer = get_tracer(get_settings())
    trace_id = _turn(tracer)
    tracer.score(trace_id, "quality", "great", source="eval")
    tracer.flush()
    (stored,) = TraceStore(minivess_home / "traces.db").scores(trace_id)
    assert (stored.value, stored.source, stored.langfuse) == ("great", "eval", "local")
    with pytest.raises(ValueError, match="32 hex"):
        tracer.score("abc", "quality", 1)


class ToolArgs(BaseModel):
    dataset: str
    api_key: str
    hf_password: SecretStr


def test_no_secret_reaches_the_store_or_langfuse(fake_langfuse: FakeLangfuse, monkeypatch: pytest.MonkeyPatch) -> None:
    planted = {
        "braintrust": "bt-plant-7f3a9c1e55d2",  # no recognisable pattern: only known-value masking catches it
        "label_studio": "ls-token-0b1c2d3e4f5a6b7c",
        "openai": "sk-proj-PLANTEDopenaiKEY1234567890",
        "hf": "hf-password-plant-42xx",
    }
    monkeypatch.setenv("BRAINTRUST_API_KEY", planted["braintrust"])
    monkeypatch.setenv("LABEL_STUDIO_TOKEN", planted["label_studio"])
    monkeypatch.setenv("OPENAI_API_KEY", planted["openai"])
    tracer = get_tracer(get_settings())
    prompt = [
        {"role": "system", "content": f"Langfuse secret {SECRET}; label studio {planted['label_studio']}"},
        {"role": "user", "content": f"use braintrust key {planted['braintrust']} and marker-visible"},
    ]
    args = ToolArgs(dataset="d1", api_key=planted["openai"], hf_password=SecretStr(planted["hf"]))
    with tracer.trace("turn", input={"text": "marker-visible"}) as turn:
        with tracer.observe("llm", as_type="generation", model="m", input=prompt) as gen:
            gen.update(output={"tool_calls": [{"arguments": json.dumps({"api_key": planted["openai"]})}]})
        with pytest.raises(RuntimeError), tracer.observe("train_model", as_type="tool", input=args):
            raise RuntimeError(f"auth failed for {planted['braintrust']}")
        tracer.event("note", metadata={"Authorization": f"Bearer {planted['openai']}"})
    assert turn.trace_id is not None
    tracer.score(turn.trace_id, "user_feedback", 1, comment=f"leaked {planted['label_studio']}?")
    assert tracer.flush()

    store_bytes = b"".join(p.read_bytes() for p in get_settings().home_dir.glob("traces.db*"))
    payloads = [r.body for r in fake_langfuse.requests] + [r.raw for r in fake_langfuse.requests]
    assert b"marker-visible" in store_bytes and any(b"marker-visible" in p for p in payloads)  # scanning works
    assert fake_langfuse.at(SCORES_PATH)
    for secret in [SECRET, *planted.values()]:
        assert store_bytes.count(secret.encode()) == 0, f"{secret} in the local store"
        assert all(secret.encode() not in p for p in payloads), f"{secret} sent to Langfuse"
    assert store_bytes.count(PUBLIC.encode()) == 0


def test_unreachable_langfuse_costs_one_warning_and_the_work_completes(
    monkeypatch: pytest.MonkeyPatch, closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", PUBLIC)
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", SECRET)
    monkeypatch.setenv("LANGFUSE_HOST", f"http://127.0.0.1:{closed_port}")
    caplog.set_level(logging.DEBUG)
    tracer = get_tracer(get_settings())
    trace_ids = [_turn(tracer) for _ in range(3)]
    first = tracer.flush()
    tracer.score(trace_ids[0], "user_feedback", 1)
    second = tracer.flush()
    assert isinstance(first, bool) and isinstance(second, bool)  # returned (bounded), whatever the network did

    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(loud) == 1, [r.getMessage() for r in loud]
    assert loud[0].name.startswith("minivess.observability") and "Langfuse" in loud[0].getMessage()
    store = TraceStore(get_settings().home_dir / "traces.db")
    assert {s.trace_id for s in store.list_traces()} == set(trace_ids)  # the local store has everything
    assert [s.langfuse for s in store.scores(trace_ids[0])] == ["failed"]


def test_without_keys_nothing_warns_and_nothing_is_sent(
    minivess_home: Path, caplog: pytest.LogCaptureFixture, fake_langfuse: FakeLangfuse, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LANGFUSE_PUBLIC_KEY")
    monkeypatch.delenv("LANGFUSE_SECRET_KEY")
    monkeypatch.delenv("LANGFUSE_HOST")
    caplog.set_level(logging.INFO)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any Python warning fails the test
        tracer = get_tracer(get_settings())
        for _ in range(5):
            trace_id = _turn(tracer)
            tracer.event("loose event")  # outside any trace: a trace of its own
            tracer.update_trace(metadata={"x": 1})  # outside any trace: ignored
        tracer.score(trace_id, "user_feedback", 1)
        assert tracer.flush()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert not isinstance(tracer, LangfuseTracer) or not tracer.langfuse_configured
    assert fake_langfuse.requests == []
    names = [s.name for s in TraceStore(minivess_home / "traces.db").list_traces()]
    assert sorted(names) == ["chat turn"] * 5 + ["loose event"] * 5


def test_the_offline_sdk_client_cannot_reach_the_network(
    minivess_home: Path, fake_langfuse: FakeLangfuse, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    monkeypatch.delenv("LANGFUSE_PUBLIC_KEY")
    monkeypatch.delenv("LANGFUSE_SECRET_KEY")
    tracer = get_tracer(get_settings())
    assert isinstance(tracer, LangfuseTracer) and not tracer.langfuse_configured
    sdk_http = tracer._pipeline.langfuse._resources.httpx_client  # what the SDK's REST API calls go through
    with pytest.raises(httpx.ConnectError, match="offline"):
        sdk_http.get(f"{fake_langfuse.url}/api/public/health")  # a live server, and still nothing is sent
    assert fake_langfuse.requests == []


def test_half_configured_langfuse_warns_once(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from minivess.observability import api

    monkeypatch.setattr(api, "_WARNED", set())  # once per process: start this test from a clean slate
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-only-public-key-1")
    caplog.set_level(logging.WARNING)
    tracer = get_tracer(get_settings())
    for _ in range(3):
        _turn(tracer)
        get_tracer(get_settings())
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(messages) == 1 and "LANGFUSE_SECRET_KEY" in messages[0]
    assert isinstance(tracer, LangfuseTracer) and not tracer.langfuse_configured


def test_same_keys_in_another_home_get_their_own_client(
    fake_langfuse: FakeLangfuse, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = get_tracer(get_settings())
    _turn(first)
    first.flush()
    monkeypatch.setenv("MINIVESS_HOME", str(tmp_path / "other-home"))
    second = get_tracer(get_settings())
    assert second is not first
    trace_id = _turn(second)
    second.flush()
    assert TraceStore(tmp_path / "other-home" / "traces.db").trace(trace_id).summary.observations == 3
