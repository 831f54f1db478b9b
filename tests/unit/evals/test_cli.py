"""`minivess evals run | gate | report` through the root app (the planner suite on the embedded planner)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from typer.testing import CliRunner

from minivess.cli.app import app
from minivess.evals.gate import load_floors
from minivess.evals.history import CaseRecord, append_records, history_path, read_records
from minivess.evals.planner import load_cases
from minivess.settings import get_settings


def _floors_file(path: Path, **overrides: float) -> Path:
    floors = load_floors()
    floors.suites["planner"].update(overrides)
    path.write_text(floors.model_dump_json(), encoding="utf-8")  # JSON is YAML
    return path


def test_run_prints_the_summary_stores_history_and_gates(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["evals", "run", "planner", "--gate"])
    assert result.exit_code == 0, result.output
    assert "SUMMARY" in result.output  # Braintrust's own summary
    assert re.search(r"\d+\.\d+% 'tool_choice'", result.output)
    assert "gate passed" in result.output
    records = read_records(history_path(get_settings()))
    assert len(records) == len(load_cases())
    assert {r.suite for r in records} == {"planner"} and len({r.run_id for r in records}) == 1
    assert all(r.model == "minivess/planner" and r.commit and r.dataset_version for r in records)
    assert {r.case_id for r in records} == {c.id for c in load_cases()}

    # the shipped floors pass on what was just recorded …
    assert runner.invoke(app, ["evals", "gate"]).exit_code == 0
    # … a floor raised above the measured mean fails (exit 1), and so does a floored scorer nobody measured; one
    # missed case is added to the run, so the mean is below 1 however well the planner does
    miss = records[0].model_copy(
        update={"case_id": "a-missed-case", "scores": {**records[0].scores, "tool_choice": 0.0}}
    )
    append_records(get_settings(), [miss])
    raised = runner.invoke(app, ["evals", "gate", "planner", "--floors", str(_floors_file(tmp_path / "a.yaml",
                                                                                      tool_choice=1.0))])  # fmt: skip
    assert raised.exit_code == 1, raised.output
    assert "BELOW FLOOR" in raised.output and "gate failed" in raised.output
    unmeasured = runner.invoke(
        app, ["evals", "gate", "planner", "--floors", str(_floors_file(tmp_path / "b.yaml", politeness=0.5))]
    )
    assert unmeasured.exit_code == 1 and "NOT MEASURED" in unmeasured.output


def test_gate_fails_without_a_recorded_run(runner: CliRunner) -> None:
    result = runner.invoke(app, ["evals", "gate"])
    assert result.exit_code == 1
    assert "no eval run recorded yet" in result.output
    assert runner.invoke(app, ["evals", "gate", "analytics"]).exit_code == 1


def test_gate_fails_when_a_case_errored(runner: CliRunner) -> None:
    settings = get_settings()
    append_records(settings, [_record("r1", "a", 1.0), _record("r1", "b", 1.0, error="RuntimeError: boom")])
    floors = Path("floors.yaml")
    floors.write_text("suites:\n  planner:\n    tool_choice: 0.5\n", encoding="utf-8")
    result = runner.invoke(app, ["evals", "gate", "--floors", str(floors)])
    assert result.exit_code == 1
    assert "1 of 2 cases raised an error" in result.output


def _record(run_id: str, case_id: str, tool_choice: float, *, day: int = 1, error: str | None = None) -> CaseRecord:
    return CaseRecord(
        run_id=run_id, suite="planner", case_id=case_id, scores={"tool_choice": tool_choice, "steps": 1.0},
        error=error, commit="abc123", model="minivess/planner", dataset_version="v1",
        timestamp=f"2026-11-{day:02d}T10:00:00+00:00",
    )  # fmt: skip


def test_report_writes_plots_and_the_regressed_cases(runner: CliRunner, tmp_path: Path) -> None:
    settings = get_settings()
    append_records(settings, [_record("run-1", "case-a", 1.0), _record("run-1", "case-b", 1.0)])
    append_records(settings, [_record("run-2", "case-a", 1.0, day=2), _record("run-2", "case-b", 0.0, day=2)])
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["evals", "report", "-o", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert images and base64.b64decode(images[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<h2>planner</h2>" in page
    regressed = page.split("Regressed since the previous run")[1].split("</table>")[0]
    assert "case-b" in regressed and "case-a" not in regressed
    assert "src=" not in page.replace('src="data:', "")  # self-contained: nothing loaded from elsewhere


def test_report_default_location_and_empty_history(runner: CliRunner) -> None:
    result = runner.invoke(app, ["evals", "report"])
    assert result.exit_code == 0
    page = (get_settings().home_dir / "evals" / "report.html").read_text(encoding="utf-8")
    assert "No eval runs recorded yet" in page


def test_unknown_suite_is_refused(runner: CliRunner) -> None:
    result = runner.invoke(app, ["evals", "run", "plannr"])
    assert result.exit_code != 0
    assert "unknown eval suite" in str(result.exception)
