"""Our observations equal the Langfuse SDK's (`start_as_current_observation` with its span processor), attribute
for attribute, offline and exported."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from minivess.observability import get_tracer, pipeline
from minivess.observability.tracer import LangfuseTracer
from minivess.settings import Settings
from tests.unit.observability.conftest import FakeLangfuse


def _sdk_start(self: LangfuseTracer, name: str, as_type: str, input: Any, metadata: Any, **extra: Any) -> Any:
    """The tracer's observation start as it was, through the SDK's wrapper classes."""
    return self._langfuse.start_as_current_observation(
        name=self.redactor.string(name, 200),
        as_type=cast(Any, as_type),
        input=self.redactor.payload(input),
        metadata=metadata or None,
        **extra,
    )


def _scenario(tracer: LangfuseTracer) -> None:
    """Every observation shape the product makes: a turn, generations, tools, nesting, errors, events."""
    with tracer.trace(
        "chat", session_id="thread-3", input="show the leaderboard", as_type="agent",
        metadata={"turn": 2, "worker": "analyst"}, user_id="ana", tags=["chat"],
    ) as turn:  # fmt: skip
        with tracer.observe(
            "supervisor", as_type="generation", model="minivess/planner", input=[{"role": "user", "content": "hi"}],
            model_parameters={"timeout_s": 60, "retries": 2}, metadata={"step": 1, "tools": ["a", "b"]},
        ) as g:  # fmt: skip
            g.update(output={"role": "assistant", "content": "ok"}, usage={"input": 9, "output": 3}, cost_usd=0.0)
        with tracer.observe("leaderboard", as_type="tool", input='{"metric": "val_dice"}', metadata={"call_id": "c1"}):
            with tracer.observe("query", as_type="chain", input={"sql": "SELECT 1"}) as chain:
                chain.update(output={"rows": 1}, model="duckdb", level="DEFAULT")
            tracer.event("epoch finished", metadata={"epoch": 3}, output={"val_dice": 0.8})
        with pytest.raises(ValueError), tracer.observe("train_model", as_type="tool", input={"epochs": 2}):
            raise ValueError("bad epochs")
        with tracer.observe("judge", as_type="evaluator", input="x") as judge:
            judge.update(level="ERROR", status_message="failed", metadata={"score": None, "why": "empty"})
        with tracer.observe("retry", as_type="span") as span:
            span.update(input={"attempt": 2}, output="done")
        turn.update(output="Here is the board", metadata={"runs": 3})
        tracer.update_trace(metadata={"mlflow_run": "abc"})
    with tracer.observe("lonely", as_type="generation", model="m", input="no trace around me") as lonely:
        lonely.update(output="hi", usage={"prompt_tokens": 2, "completion_tokens": 1})


def _spans(home: Path, start: Any, monkeypatch: pytest.MonkeyPatch, *, sdk: bool) -> list[dict[str, Any]]:
    monkeypatch.setattr(LangfuseTracer, "_start", start)
    if sdk:  # Langfuse's own span processor stays in place offline too
        monkeypatch.setattr(pipeline, "offline_processor", lambda provider: None)
    tracer = get_tracer(Settings(home=home, tracing=True))
    assert isinstance(tracer, LangfuseTracer)
    memory = InMemorySpanExporter()
    tracer._pipeline.provider.add_span_processor(SimpleSpanProcessor(memory))
    _scenario(tracer)
    spans: tuple[ReadableSpan, ...] = memory.get_finished_spans()
    index = {s.context.span_id: i for i, s in enumerate(spans)}
    return [
        {
            "name": s.name,
            "parent": index.get(s.parent.span_id, "outside") if s.parent else None,
            "attributes": dict(s.attributes or {}),
            "status": (s.status.status_code, s.status.description),
            "events": [(e.name, dict(e.attributes or {})) for e in s.events],
            "scope": _scope(s, tracer._pipeline.public_key),
            "kind": s.kind,
        }
        for s in spans
    ]


def _scope(span: ReadableSpan, public_key: str) -> tuple[str, dict[str, Any]] | None:
    """The instrumentation scope, with this tracer's public key (random when offline) as `KEY`."""
    scope = span.instrumentation_scope
    if scope is None:
        return None
    attributes = {k: "KEY" if v == public_key else v for k, v in (scope.attributes or {}).items()}
    return scope.name, attributes


def _compare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    from minivess.observability import reset_tracers

    ours = _spans(tmp_path / "ours", LangfuseTracer._start, monkeypatch, sdk=False)
    reset_tracers()
    sdk = _spans(tmp_path / "sdk", _sdk_start, monkeypatch, sdk=True)
    assert len(ours) == len(sdk) == 9
    for mine, theirs in zip(ours, sdk, strict=True):
        assert mine == theirs
    return ours


def test_offline_spans_equal_the_sdks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANGFUSE_TRACING_ENVIRONMENT", "lab-eu")
    monkeypatch.setenv("LANGFUSE_RELEASE", "v1.2.3")
    spans = _compare(tmp_path, monkeypatch)
    by_name = {s["name"]: s for s in spans}
    # the comparison is not vacuous: the attributes that matter are there
    turn, gen, failed = by_name["chat"]["attributes"], by_name["supervisor"]["attributes"], by_name["train_model"]
    assert turn["session.id"] == "thread-3" and turn["langfuse.environment"] == "lab-eu"
    assert turn["langfuse.release"] == "v1.2.3" and turn["langfuse.observation.metadata.mlflow_run"] == '"abc"'
    assert gen["langfuse.observation.model.name"] == "minivess/planner" and gen["session.id"] == "thread-3"
    assert gen["langfuse.observation.usage_details"] == '{"input": 9, "output": 3, "total": 12}'
    assert failed["attributes"]["langfuse.observation.level"] == "ERROR"
    assert by_name["judge"]["status"][1] == "failed"
    assert by_name["query"]["parent"] == spans.index(by_name["leaderboard"])
    assert "langfuse.internal.is_app_root" not in turn  # offline nothing is exported, so nothing is an app root


def test_exported_spans_equal_the_sdks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_langfuse: FakeLangfuse
) -> None:
    spans = _compare(tmp_path, monkeypatch)
    roots = [s["name"] for s in spans if s["attributes"].get("langfuse.internal.is_app_root")]
    assert sorted(roots) == ["chat", "lonely"]  # each trace's first exported span, as the SDK marks it


def test_offline_the_sdks_processor_is_replaced_and_stopped(tmp_path: Path) -> None:
    from langfuse._client.span_processor import LangfuseSpanProcessor

    tracer = get_tracer(Settings(home=tmp_path, tracing=True))
    assert isinstance(tracer, LangfuseTracer)
    processors = tracer._pipeline.provider._active_span_processor._span_processors
    assert not any(isinstance(p, LangfuseSpanProcessor) for p in processors)
    assert any(isinstance(p, pipeline.PropagatedAttributes) for p in processors)


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


TRICKY = [
    "µm", "", 0, -(2**53) + 1, 2**53 - 1, 2**53, -(2**60), 1.5, float("nan"), float("inf"), True, None,
    [1, "a", None], (1, 2), {"x": {"y": [1.0, "ü"]}}, {1: "int key"}, {"s": {2, 3}} , _nested(18), _nested(19),
    _nested(25), Path("/tmp/x"), b"bytes",
]  # fmt: skip


@pytest.mark.parametrize("value", TRICKY, ids=[f"v{i}" for i in range(len(TRICKY))])
def test_metadata_and_sdk_json_are_the_sdks_text(value: Any) -> None:
    from langfuse._client.attributes import _flatten_and_serialize_metadata, _serialize

    from minivess.observability.langfuse_spans import metadata_attributes, sdk_json

    sdk = {k: v for k, v in _flatten_and_serialize_metadata({"key": value}, "observation").items() if v is not None}
    assert metadata_attributes({"key": value}) == sdk
    assert metadata_attributes(value) == {
        k: v for k, v in _flatten_and_serialize_metadata(value, "observation").items() if v is not None
    }
    encoded = sdk_json({"key": value})
    assert _serialize(encoded) == _serialize({"key": value})
