"""The morning report, the traced search observer, the search tools' contract and the CLI's refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from minivess.cli.app import app
from minivess.errors import ToolInputError
from minivess.observability import TraceStore, get_tracer
from minivess.observability.search import TracedSearchObserver
from minivess.pipelines.search import engine
from minivess.pipelines.search.engine import NullSearchObserver
from minivess.pipelines.search.planning import plan_search
from minivess.pipelines.search.record import SearchRecord, SearchSpec
from minivess.pipelines.search.report import best_so_far, write_report
from minivess.pipelines.search.space import SearchSpace
from minivess.pipelines.search.trial_state import TrialRow
from minivess.settings import get_settings
from minivess.tools.base import ToolContext
from minivess.tools.registry import REGISTRY


def _row(number: int, state: str, score: float | None, **extra: object) -> TrialRow:
    values = {
        "number": number, "state": state, "config": {"family": "segresnet", "loss": "dice_ce", "optimizer": "adamw",
        "lr": 1e-3}, "score": score, "round": 0, "run_id": f"run{number:04d}", "run_status": "FINISHED", "epochs": 2,
        "stop_reason": "max_epochs", "error": "", "interrupted": False,
    }  # fmt: skip
    return TrialRow(**{**values, **extra})  # type: ignore[arg-type]


def test_best_so_far_skips_interrupted_trials_and_carries_the_best_over_failures() -> None:
    rows = [_row(0, "COMPLETE", 0.5), _row(1, "FAIL", None), _row(2, "FAIL", None, interrupted=True),
            _row(3, "COMPLETE", 0.4), _row(4, "COMPLETE", 0.7), _row(5, "RUNNING", None)]  # fmt: skip
    assert best_so_far(rows) == [0.5, 0.5, 0.5, 0.7]


def test_report_shows_the_decision_reasoning_every_trial_and_what_failed(tmp_path: Path) -> None:
    spec = SearchSpec(budget_minutes=10, trials=3, families=("segresnet",), epochs=2, max_trial_minutes=5)
    record = SearchRecord(
        search_id="20261202-000000-abcd", created_at=0.0, spec=spec, reasoning=["Dropping family dynunet: <OOM>."],
        status="finished", spent_seconds=120.0, promotion={"outcome": "challenger", "reason": "no champion yet"},
    )  # fmt: skip
    rows = [_row(0, "COMPLETE", 0.61), _row(1, "FAIL", None, error="TrainingError: out of memory")]
    page = write_report(tmp_path / "r.html", record, rows).read_text()
    assert "challenger" in page and "no champion yet" in page
    assert "Dropping family dynunet: &lt;OOM&gt;." in page  # escaped
    assert "0.610" in page and "TrainingError: out of memory" in page
    assert "What failed (1)" in page and "data:image/png;base64," in page


def test_the_traced_observer_records_reasoning_and_trial_outcomes_in_the_trace() -> None:
    settings = get_settings()
    tracer = get_tracer(settings)
    observer = TracedSearchObserver(NullSearchObserver(), tracer)
    with tracer.trace("search start") as root:
        observer.note("Warm start: re-running 2 configurations")
        observer.round_started(0, 3, SearchSpace(families=("segresnet",)))
        observer.trial_started(0, {"family": "segresnet"})
        observer.trial_epoch(0, 1, 0.4)
        observer.trial_finished(0, "COMPLETE", 0.4, "")
        observer.trial_finished(1, "FAIL", None, "boom")
        trace_id = root.trace_id
    tracer.flush()
    detail = TraceStore(settings.home_dir / "traces.db").trace(trace_id)
    names = [node.record.name for node in detail.roots[0].children]
    assert names == ["search reasoning", "search round", "trial started", "trial finished", "trial finished"]
    failed = detail.roots[0].children[-1].record
    assert failed.level == "WARNING"


def test_search_tools_are_offered_with_typed_schemas_and_approval() -> None:
    start = REGISTRY.get("start_search")
    props = start.schema()["function"]["parameters"]["properties"]
    assert set(props) == {"budget_minutes", "trials", "families", "epochs", "dataset"}
    assert props["families"]["anyOf"][0]["items"]["enum"] == ["segresnet", "swinunetr", "dynunet"]
    args = start.parse({"budget_minutes": 20, "trials": 4})
    assert start.compute_minutes(args) == 20
    assert "20" in (start.needs_approval(args, ToolContext(settings=get_settings())) or "")
    with pytest.raises(ToolInputError, match="families"):
        start.parse({"families": ["unet9000"]})
    with pytest.raises(ToolInputError, match="budget_minutes"):
        start.parse({"budget_minutes": -1})


def test_search_status_of_an_unknown_search_is_a_tool_input_error() -> None:
    status = REGISTRY.get("search_status")
    with pytest.raises(ToolInputError, match="no searches yet"):
        status.run(status.parse({}), ToolContext(settings=get_settings()))


def test_search_status_summarises_a_planned_search() -> None:
    settings = get_settings()
    spec = SearchSpec(budget_minutes=5, trials=4, families=("segresnet",), epochs=2, max_trial_minutes=2)
    record = engine.create_search(spec, plan_search([], ("segresnet",), 4), settings)
    status = REGISTRY.get("search_status")
    result = status.run(status.parse({"search_id": record.search_id}), ToolContext(settings=settings))
    assert result.status == "planned" and result.trials_planned == 4 and result.best_run_id is None
    assert json.loads(result.model_dump_json())["reasoning"] == record.reasoning


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["search", "start", "-f", "unet9000"], "unknown model family unet9000"),
        (["search", "start", "--set", "trainer.epoch=3"], "unknown config key 'trainer.epoch'"),
        (["search", "start", "-n", "0"], "Invalid value for '--trials'"),
        (["search", "status", "nope"], "no search 'nope'"),
    ],
)
def test_search_cli_refuses_bad_input_before_any_work(argv: list[str], message: str) -> None:
    result = CliRunner().invoke(app, argv)
    assert result.exit_code != 0
    assert message in (result.output + str(result.exception))
    assert not (get_settings().home_path / "searches").exists() or argv[1] == "status"
