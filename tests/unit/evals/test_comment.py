"""The CML pull-request comment body: floors table, regressions, benchmark lines (`minivess evals comment`)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from minivess.cli.app import app
from minivess.errors import ConfigError
from minivess.evals.comment import comment_markdown, read_benchmark_lines
from minivess.evals.gate import Floors
from minivess.evals.history import CaseRecord, append_records, summarize_runs
from minivess.settings import get_settings

FLOORS = Floors(suites={"planner": {"tool_choice": 0.9, "args_match": 0.8}})


def _records(run_id: str, timestamp: str, scores: dict[str, dict[str, float | None]]) -> list[CaseRecord]:
    return [
        CaseRecord(
            run_id=run_id,
            suite="planner",
            case_id=case,
            scores=values,
            commit="abcdef1234567",
            model="minivess/planner",
            dataset_version="v1",
            timestamp=timestamp,
        )
        for case, values in scores.items()
    ]


def test_comment_lists_every_floor_with_its_mean_and_the_cases_that_got_worse() -> None:
    before = _records("r1", "2026-12-01T00:00:00+00:00", {"a": {"tool_choice": 1.0, "args_match": 1.0},
                                                          "b": {"tool_choice": 1.0, "args_match": 1.0}})  # fmt: skip
    after = _records("r2", "2026-12-02T00:00:00+00:00", {"a": {"tool_choice": 1.0, "args_match": 0.0},
                                                         "b|x": {"tool_choice": 1.0, "args_match": 1.0}})  # fmt: skip
    body = comment_markdown(summarize_runs(before + after), FLOORS)
    assert "Eval gate **failed** (1 below floor)" in body
    assert "| planner | args_match | 0.500 | 0.800 | below floor |" in body
    assert "| planner | tool_choice | 1.000 | 0.900 | ok |" in body
    assert "1 case score(s) got worse" in body and "`a` args_match: 1 → 0" in body
    assert "Commit abcdef1234" in body


def test_comment_says_when_nothing_was_recorded_and_shows_benchmarks(tmp_path: Path) -> None:
    bench = tmp_path / "bench.jsonl"
    bench.write_text(
        "progress line\n"
        + json.dumps({"benchmark": "cli_latency", "help_s": 0.31, "ok": True, "nested": {"x": 1}, "note": "a|b"})
        + "\n",
        encoding="utf-8",
    )
    lines = read_benchmark_lines([bench])
    assert [line.name for line in lines] == ["cli_latency"]
    assert lines[0].fields == {"help_s": 0.31, "ok": True, "note": "a|b"}  # nested values are left out
    body = comment_markdown({}, FLOORS, lines)
    assert "No eval runs recorded" in body
    assert "| cli_latency | help_s 0.31, ok True, note a\\|b |" in body  # a pipe cannot break the table


def test_cli_writes_the_comment_and_rejects_a_file_without_benchmark_lines(runner: CliRunner, tmp_path: Path) -> None:
    append_records(get_settings(), _records("r1", "2026-12-01T00:00:00+00:00", {"a": {"tool_choice": 1.0,
                                                                                     "args_match": 0.9}}))  # fmt: skip
    out = tmp_path / "comment.md"
    floors = tmp_path / "floors.yaml"
    floors.write_text(FLOORS.model_dump_json(), encoding="utf-8")
    result = runner.invoke(app, ["evals", "comment", "--floors", str(floors), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "Eval gate passed." in out.read_text(encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_text("no json here\n", encoding="utf-8")
    bad = runner.invoke(app, ["evals", "comment", "--bench", str(empty)])
    assert isinstance(bad.exception, ConfigError)  # cli/app.main turns it into one red line and exit 2
    assert "holds no benchmark JSON line" in str(bad.exception)
