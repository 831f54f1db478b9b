"""The tracer API: the no-op tracer, caching per home/keys, no global OTel side effects, cheap import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry import trace as otel_trace

from minivess.observability import NULL_TRACER, Tracer, current_trace_id, get_tracer
from minivess.observability.api import MAX_TRACERS
from minivess.observability.tracer import LangfuseTracer, usage_details
from minivess.settings import get_settings


def test_tracing_off_gives_the_null_tracer(monkeypatch: pytest.MonkeyPatch, minivess_home: Path) -> None:
    monkeypatch.setenv("MINIVESS_TRACING", "off")
    tracer: Tracer = get_tracer(get_settings())
    assert tracer is NULL_TRACER and not tracer.enabled
    with tracer.trace("turn", session_id="s", input={"x": 1}) as turn, tracer.observe("llm", as_type="generation") as g:
        g.update(output="x", usage={"input": 1}, cost_usd=0.1)
        tracer.event("e", metadata={"a": 1})
        tracer.update_trace(output="y")
        assert turn.trace_id is None and current_trace_id() is None
    assert tracer.score("0" * 32, "user_feedback", 1) is None
    assert tracer.flush()
    assert not (minivess_home / "traces.db").exists()


def test_tracers_are_cached_per_home_and_old_ones_closed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = get_tracer(get_settings())
    assert get_tracer(get_settings()) is first
    tracers = [first]
    for index in range(MAX_TRACERS):
        monkeypatch.setenv("MINIVESS_HOME", str(tmp_path / f"home-{index}"))
        tracers.append(get_tracer(get_settings()))
    assert len({id(t) for t in tracers}) == MAX_TRACERS + 1
    assert isinstance(first, LangfuseTracer) and first._closed  # evicted: flushed and its threads stopped
    assert isinstance(tracers[-1], LangfuseTracer) and not tracers[-1]._closed


def test_no_global_tracer_provider_is_set() -> None:
    tracer = get_tracer(get_settings())
    with tracer.trace("turn"):
        pass
    assert isinstance(otel_trace.get_tracer_provider(), otel_trace.ProxyTracerProvider)


def test_importing_the_package_stays_light() -> None:
    code = "import sys, minivess.observability, minivess.cli.traces; print('langfuse' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_usage_details_accepts_openai_names() -> None:
    assert usage_details({"prompt_tokens": 3, "completion_tokens": 4}) == {"input": 3, "output": 4, "total": 7}
    assert usage_details({"input": 1, "output": 2, "total": 5}) == {"input": 1, "output": 2, "total": 5}


def test_non_generation_usage_and_model_go_to_metadata(minivess_home: Path) -> None:
    from minivess.observability import TraceStore

    tracer = get_tracer(get_settings())
    with tracer.trace("turn") as turn:
        turn.update(usage={"input": 5}, cost_usd=0.25, model="m")
    tracer.flush()
    (record,) = TraceStore(minivess_home / "traces.db").observations(str(turn.trace_id))
    assert record.metadata == {"usage": {"input": 5}, "cost_usd": 0.25, "model": "m"}
    assert record.usage == {} and record.cost_usd is None


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def run_started(self, run_id: str, start_epoch: int, epochs: int) -> None:
        self.calls.append("run_started")

    def epoch_started(self, epoch: int, steps: int) -> None:
        self.calls.append("epoch_started")

    def step_finished(self, epoch: int, step: int, loss: float) -> None:
        self.calls.append("step_finished")

    def epoch_finished(self, epoch: int, metrics: dict[str, float]) -> None:
        self.calls.append("epoch_finished")

    def run_finished(self, run_id: str, status: str, reason: str) -> None:
        self.calls.append("run_finished")


def test_training_observer_forwards_and_traces_epochs(minivess_home: Path) -> None:
    from minivess.observability import TraceStore
    from minivess.observability.training import TracedTrainingObserver

    tracer = get_tracer(get_settings())
    inner = _Recorder()
    with tracer.trace("turn") as turn, tracer.observe("train_model", as_type="tool"):
        observer = TracedTrainingObserver(inner, tracer)
        observer.run_started("run-1", 1, 2)
        for epoch in (1, 2):
            observer.epoch_started(epoch, 3)
            observer.step_finished(epoch, 1, 0.5)
            observer.epoch_finished(epoch, {"train_loss": 0.5 / epoch, "val_dice": 0.3 * epoch})
        observer.run_finished("run-1", "FINISHED", "max_epochs")
    tracer.flush()
    assert inner.calls == ["run_started"] + ["epoch_started", "step_finished", "epoch_finished"] * 2 + ["run_finished"]
    (root,) = TraceStore(minivess_home / "traces.db").trace(str(turn.trace_id)).roots
    assert root.record.metadata == {"mlflow_run_id": "run-1"}
    events = root.children[0].children
    assert [e.record.name for e in events] == ["training started", "epoch", "epoch", "training finished"]
    assert events[2].record.metadata == {"epoch": 2, "train_loss": 0.25, "val_dice": pytest.approx(0.6)}


def test_seeding_the_random_module_does_not_repeat_trace_or_span_ids(minivess_home: Path) -> None:
    """Training seeds `random` (seed_everything); OTel's default ids come from it. Two seeded traces in one
    process must keep every observation: before the fix the second replayed the first's ids and lost events."""
    import random

    from minivess.observability import TraceStore

    tracer = get_tracer(get_settings())
    ids = []
    for _ in range(2):
        random.seed(0)
        with tracer.trace("turn") as turn:
            random.seed(0)
            with tracer.observe("train", as_type="chain"):
                random.seed(0)
                tracer.event("epoch")
                random.seed(0)
                tracer.event("training finished")
        ids.append(str(turn.trace_id))
    assert tracer.flush()
    assert ids[0] != ids[1]
    store = TraceStore(minivess_home / "traces.db")
    for trace_id in ids:
        assert sorted(o.name for o in store.observations(trace_id)) == ["epoch", "train", "training finished", "turn"]


def test_get_tracer_shortcut_follows_settings_and_never_returns_a_closed_tracer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from minivess.observability import reset_tracers

    first = get_tracer(get_settings())
    assert get_tracer(get_settings()) is first  # another Settings object, same home and keys
    monkeypatch.setenv("MINIVESS_HOME", str(tmp_path / "other"))
    other = get_tracer(get_settings())
    assert other is not first
    reset_tracers()
    fresh = get_tracer(get_settings())
    assert isinstance(fresh, LangfuseTracer) and not fresh._closed and fresh is not other


def test_sdk_json_is_the_text_the_sdk_would_write() -> None:
    from langfuse._client.attributes import _serialize

    from minivess.observability.langfuse_spans import sdk_json

    for mapping in ({"input": 10, "output": 5, "total": 15}, {"total": 0.0}, {"timeout_s": 30.0, "retries": 2},
                    {"a": "ü", "b": None, "c": True}, {"big": 2**60}, {"nested": [1, {"x": 2}]}):  # fmt: skip
        encoded = sdk_json(mapping)
        assert _serialize(encoded if isinstance(encoded, str) else mapping) == _serialize(mapping)
    assert sdk_json({"big": 2**60}) == {"big": 2**60}  # left to the SDK (it writes it as a string)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_replay_its_parents_ids() -> None:
    import random

    from minivess.observability.pipeline import SecretsIdGenerator

    ids = SecretsIdGenerator()
    random.seed(0)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.write(write, str(ids.generate_span_id()).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = int(os.read(read, 64).decode())
    os.close(read)
    assert child != ids.generate_span_id()
