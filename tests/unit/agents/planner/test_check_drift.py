"""The drift check in the planner: which folder is new and which the reference, a model's training data, 'it'
after synthesis, questions for no folder or too many, plan text that maps back, and the summary line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from minivess.agents.planner import plan_reply
from minivess.agents.planner.conversation import outcome_of
from minivess.agents.planner.models import StepOutput
from minivess.agents.planner.plan import build_plan
from minivess.agents.planner.summary import summarize
from minivess.agents.planner.texts import describe_step
from minivess.tools.governance import CheckDriftResult, DriftFeature
from tests.unit.agents.planner.support import ALL_TOOLS, RUN_A, SYSTEM, planned_steps, user


@pytest.mark.parametrize(
    ("text", "args"),
    [("has data/new drifted from data/train?", {"current": "data/new", "reference": "data/train"}),
     ("check data/batch2 for drift against the champion's training data", {"current": "data/batch2"}),
     ("drift between data/old and data/new", {"current": "data/new", "reference": "data/old"}),
     ("compare data/a with data/b for drift", {"current": "data/a", "reference": "data/b"}),
     ("is data/shifted out of distribution compared to data/default",
      {"current": "data/shifted", "reference": "data/default"}),
     ("is there any dataset shift in ~/scans/new/ relative to data/ref",
      {"current": "~/scans/new/", "reference": "data/ref"}),
     ("run a drift report on /data/batch7", {"current": "/data/batch7"}),
     ("check drift of data/new against the challenger's training data", {"current": "data/new", "model": "challenger"}),
     ("drift check on data/new vs run abc123's training data", {"current": "data/new", "model": "abc123"}),
     ("has data/new drifted from the training data of the best segresnet",
      {"current": "data/new", "model": "best:segresnet"}),
     ("check_drift current=data/x reference=data/y", {"current": "data/x", "reference": "data/y"}),
     ("check data/new for drift against data/old using the champion's predictions",
      {"current": "data/new", "reference": "data/old"}),
     ("compare data/new with data/old for drift using run abc123",
      {"current": "data/new", "reference": "data/old", "model": "abc123"})],
)  # fmt: skip
def test_phrasings_plan_the_drift_check(text: str, args: dict[str, Any]) -> None:
    assert planned_steps(text) == [("check_drift", args)]


def test_it_after_synthesis_is_the_new_dataset() -> None:
    steps = build_plan("generate 6 shifted volumes called sh, then check it for drift against data/default", []).steps
    assert [s.tool for s in steps] == ["synthesize_data", "check_drift"]
    assert steps[1].args == {"current": StepOutput(0, "path"), "reference": "data/default"}


@pytest.mark.parametrize(
    ("text", "words"),
    [("check for drift", "Which dataset"),
     ("check data/a data/b data/c for drift", "3 folders (data/a, data/b, data/c)"),
     ("check data/new for drift with 5 volumes", "'5'")],
)  # fmt: skip
def test_what_it_cannot_place_gets_a_question(text: str, words: str) -> None:
    plan = build_plan(text, [])
    assert plan.is_text and words in plan.text


@pytest.mark.parametrize(
    "args",
    [{"current": "data/new"}, {"current": "data/new", "reference": "data/old"},
     {"current": "data/new", "model": "challenger"}, {"current": "data/new", "model": RUN_A},
     {"current": "data/new", "reference": "data/old", "model": "challenger"}],
)  # fmt: skip
def test_the_plan_text_maps_back_to_the_same_step(args: dict[str, Any]) -> None:
    text = describe_step(build_plan("check_drift " + " ".join(f"{k}={v}" for k, v in args.items()), []).steps[0])
    assert text.startswith("check data/new for drift against")
    assert [(s.tool, s.args) for s in build_plan(text, []).steps] == [("check_drift", args)]


def test_the_tool_is_offered_and_planned() -> None:
    reply = plan_reply([SYSTEM, user("has data/new drifted from data/train?")], ALL_TOOLS)
    call = reply.tool_calls[0]
    assert (call.name, json.loads(call.arguments)) == (
        "check_drift",
        {"current": "data/new", "reference": "data/train"},
    )


def _result(**over: Any) -> CheckDriftResult:
    values: dict[str, Any] = dict(
        reference="/d/ref", current="/d/new", n_reference=6, n_current=6, sufficient=True, drifted=True,
        drifted_features=["intensity_p99"], threshold=0.005, report_html="/h/drift/report.html",
        features=[DriftFeature(name="intensity_p99", p_value=0.001, drifted=True)],
    )  # fmt: skip
    return CheckDriftResult(**(values | over))


def test_the_summary_says_what_drifted_and_when_there_is_no_verdict() -> None:
    drifted = summarize(outcome_of("check_drift", _result().model_dump_json()))
    assert "Drift in intensity_p99" in drifted and "/d/new (6 volumes) vs /d/ref (6)" in drifted
    assert "/h/drift/report.html" in drifted
    few = _result(sufficient=False, drifted=False, drifted_features=[], n_current=3, report_html=None)
    assert summarize(outcome_of("check_drift", few.model_dump_json())).startswith("No verdict: too few volumes")
    same = summarize(outcome_of("check_drift", _result(drifted=False, drifted_features=[]).model_dump_json()))
    assert same.startswith("No drift detected")


@pytest.mark.parametrize(
    ("text", "tool"),
    [("train segresnet on data/drift-2024", "train_model"), ("start a search on data/drift-batch", "start_search"),
     ("find label issues in data/drift", "find_label_issues"), ("what is in data/drift?", "dataset_info"),
     ("predict data/drift/raw/v1.nii.gz with the champion", "predict_volume"),
     ("synthesize a dataset with domain shift", "synthesize_data"),
     ("generate 8 volumes with intensity drift called d1", "synthesize_data"),
     ("compare runs abc123 and def456, did dice drift", "compare_runs"),
     ("show the learning curves of run abc123, did the loss drift?", "learning_curves")],
)  # fmt: skip
def test_drift_words_do_not_steal_other_requests(text: str, tool: str) -> None:
    assert planned_steps(text)[0][0] == tool


def test_vs_with_a_period_does_not_split_the_request() -> None:
    assert planned_steps("check data/new vs. data/old for drift") == [
        ("check_drift", {"current": "data/new", "reference": "data/old"})
    ]
