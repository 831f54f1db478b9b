"""`minivess traces …` through the root app with typer's CliRunner, on a store written by the real tracer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from minivess.cli.app import app
from minivess.observability import TraceStore, get_tracer, reset_tracers
from minivess.settings import get_settings


@pytest.fixture(autouse=True)
def _close_tracers() -> Iterator[None]:
    yield
    reset_tracers()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200"})


def _record_turn(session: str, text: str) -> str:
    tracer = get_tracer(get_settings())
    with tracer.trace("chat turn", session_id=session, input={"text": text}, as_type="agent") as turn:
        with tracer.observe("llm", as_type="generation", model="openai/gpt-4o-mini", input=[{"content": text}]) as gen:
            gen.update(output={"content": "on it"}, usage={"input": 40, "output": 9}, cost_usd=0.0123)
        with tracer.observe("train_model", as_type="tool", input={"epochs": 2}) as tool:
            tool.update(output={"run_id": "run-42"})
    tracer.flush()
    assert turn.trace_id is not None
    return turn.trace_id


def test_list_on_an_empty_home(runner: CliRunner) -> None:
    result = runner.invoke(app, ["traces", "list"])
    assert result.exit_code == 0, result.output
    assert "no traces" in result.output


def test_list_show_export_and_score(runner: CliRunner, tmp_path: Path, minivess_home: Path) -> None:
    first = _record_turn("thread-a", "train segresnet")
    second = _record_turn("thread-b", "compare runs")

    listed = runner.invoke(app, ["traces", "list"])
    assert listed.exit_code == 0, listed.output
    assert first in listed.output and second in listed.output
    assert "40/9" in listed.output and "0.0123" in listed.output

    only_a = runner.invoke(app, ["traces", "list", "--session", "thread-a", "--json"])
    assert [t["trace_id"] for t in json.loads(only_a.stdout)] == [first]

    shown = runner.invoke(app, ["traces", "show", first[:8]])
    assert shown.exit_code == 0, shown.output
    for text in ("chat turn", "generation", "model=openai/gpt-4o-mini", "tokens 40→9", "$0.0123", "train_model",
                 "run-42", "train segresnet"):  # fmt: skip
        assert text in shown.output, text

    scored = runner.invoke(app, ["traces", "score", first[:8], "user_feedback", "good", "--comment", "nice"])
    assert scored.exit_code == 0, scored.output
    assert "langfuse: local" in scored.output
    (score,) = TraceStore(minivess_home / "traces.db").scores(first)
    assert (score.name, score.value, score.comment) == ("user_feedback", 1.0, "nice")

    out = tmp_path / "export" / "trace.json"
    exported = runner.invoke(app, ["traces", "export", first, "-o", str(out)])
    assert exported.exit_code == 0, exported.output
    data = json.loads(out.read_text())
    assert data["trace_id"] == first and data["session_id"] == "thread-a"
    (root,) = data["observations"]
    assert root["input"] == {"text": "train segresnet"}
    assert [c["name"] for c in root["children"]] == ["llm", "train_model"]
    assert root["children"][0]["usage"] == {"input": 40, "output": 9, "total": 49}
    assert data["scores"][0]["value"] == 1.0

    to_stdout = runner.invoke(app, ["traces", "export", second])
    assert json.loads(to_stdout.stdout)["trace_id"] == second


def test_unknown_trace_is_a_clear_error(runner: CliRunner) -> None:
    _record_turn("thread-a", "x")
    result = runner.invoke(app, ["traces", "show", "ffffffff"])
    assert result.exit_code != 0
    assert "no trace 'ffffffff'" in str(result.exception)
