"""The suites end to end on the embedded planner: approval stops, analytics answers, real training, traces."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from minivess.evals import build_suite, e2e
from minivess.evals.harness import Conversation, case_settings, stub_registry
from minivess.evals.history import mean_scores, read_records
from minivess.evals.holdouts import HOLDOUTS, Holdout
from minivess.evals.suite import run_suite
from minivess.observability import TraceStore
from minivess.settings import get_settings

REPO = Path(__file__).resolve().parents[3]


def test_training_request_stops_at_approval_and_runs_nothing(tmp_path: Path) -> None:
    ran: list[str] = []
    chat = Conversation(case_settings(get_settings(), tmp_path / "home"), stub_registry(ran))
    output = chat.send("train segresnet for 2 epochs")
    assert output["status"] == "awaiting_approval"
    assert ran == []  # the stub of train_model was never called
    assert [(c["tool"], c["ran"]) for c in output["calls"]] == [("train_model", False)]
    assert output["calls"][0]["args"] == {"model": "segresnet", "epochs": 2}


def test_history_seeds_the_thread(tmp_path: Path) -> None:
    history = [
        {"role": "user", "content": "train segresnet for 2 epochs"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
            "name": "train_model", "arguments": '{"model": "segresnet", "epochs": 2}'}}]},
        {"role": "tool", "tool_call_id": "c1", "name": "train_model", "content": '{"run_id": "' + "ab" * 16 + '"}'},
        {"role": "assistant", "content": "Trained segresnet."},
    ]  # fmt: skip
    chat = Conversation(case_settings(get_settings(), tmp_path / "home"), stub_registry([]))
    output = chat.send("evaluate it on the test set", history=history, auto_approve=True)
    assert [(c["tool"], c["args"]) for c in output["calls"]] == [
        ("evaluate_run", {"run_id": "ab" * 16, "split": "test"})
    ]


def test_planner_cases_are_linked_to_their_traces() -> None:
    settings = get_settings()
    run = run_suite(build_suite("planner", settings, limit=3), settings)
    trace_ids = [r.trace_id for r in run.records]
    assert all(trace_ids) and len(set(trace_ids)) == 3
    store = TraceStore(settings.home_dir / "traces.db")
    for record in run.records:
        assert store.observations(str(record.trace_id)), "the turn's trace was copied into this home"
        names = {s.name for s in store.scores(str(record.trace_id))}
        assert "eval.planner.tool_choice" in names


@pytest.mark.parametrize("holdout", list(HOLDOUTS.values()), ids=lambda h: h.name)
def test_planner_holdout_suite_is_recorded_under_its_own_name(
    holdout: Holdout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINIVESS_TRACING", "off")
    settings = get_settings()
    suite = build_suite(holdout.name, settings, limit=2)
    assert suite.project == f"minivess-{holdout.name}"
    run = run_suite(suite, settings)
    assert [r.suite for r in run.records] == [holdout.name] * 2
    assert {r.case_id for r in run.records} <= {c.id for c in holdout.load_cases()}
    assert {r.suite for r in read_records(settings.home_dir / "evals" / "history.jsonl")} == {holdout.name}


def test_tracing_off_leaves_no_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIVESS_TRACING", "off")
    settings = get_settings()
    run = run_suite(build_suite("planner", settings, limit=2), settings)
    assert [r.trace_id for r in run.records] == [None, None]
    assert not (settings.home_dir / "traces.db").exists()


@pytest.mark.slow
def test_analytics_suite_answers_from_the_fixture_warehouse() -> None:
    settings = get_settings()
    run = run_suite(build_suite("analytics", settings, limit=10), settings)
    assert not any(r.error for r in run.records)
    by_case = {r.case_id: r.scores for r in run.records}
    assert by_case["count-all"]["answer_match"] == 1.0
    assert by_case["count-per-family"]["answer_match"] == 1.0
    assert by_case["count-experiments"]["answer_match"] == 0.0  # the embedded planner cannot answer this one
    assert mean_scores(run.records)["tool_ok"] >= 0.8


@pytest.mark.slow
@pytest.mark.integration
def test_e2e_approval_task_trains_only_after_approval(tmp_path: Path) -> None:
    task = next(t for t in e2e.TASKS if t.ask_first)
    output = e2e.run_task(task, get_settings(), tmp_path / "home")
    assert output["paused_without_run"] is True
    (run,) = output["runs"]
    assert run["status"] == "FINISHED"
    assert run["params"]["model.name"] == "segresnet" and run["params"]["trainer.epochs"] == "1"
    expected = e2e.eval_cases((task,))[0].expected
    assert e2e.outcome(output, expected)["score"] == 1.0
    wrong = {**expected, "params": {**expected["params"], "trainer.epochs": "3"}}
    assert e2e.outcome(output, wrong)["score"] == 0.0


@pytest.mark.slow
@pytest.mark.integration
def test_e2e_suite_records_outcome_steps_latency_and_cost() -> None:
    settings = get_settings()
    run = run_suite(build_suite("e2e", settings, limit=1), settings)
    (record,) = run.records
    assert record.error is None
    assert record.scores["outcome"] == 1.0 and record.scores["params"] == 1.0
    assert record.metrics["llm_calls"] >= 2 and record.metrics["latency_s"] > 0
    assert record.metrics["cost_usd"] == 0.0  # the embedded planner is free


@pytest.mark.slow
def test_braintrust_cli_discovers_the_eval_files(tmp_path: Path) -> None:
    home = tmp_path / "bt-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINTRUST_")}
    env.update(MINIVESS_HOME=str(home), MINIVESS_TRACING="off")
    braintrust = Path(sys.executable).with_name("braintrust")
    result = subprocess.run(
        [str(braintrust), "eval", str(REPO / "src/minivess/evals/eval_planner.py"), "--no-send-logs"],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "tool_choice" in result.stdout
    records = read_records(home / "evals" / "history.jsonl")
    assert {r.suite for r in records} == {"planner"} and len(records) > 80
