"""Round 12: "it" after a step that works on a run it was given is that run as the user named it.

"evaluate the champion on test, then calibrate it" calibrates "champion" (the approval panel and the trace show
what the user said), not the hex id the evaluation returned. A step that makes a run (training, an ensemble, a
soup) still hands its output on.
"""

from __future__ import annotations

import pytest

from minivess.agents.planner.models import StepOutput
from minivess.agents.planner.plan import build_plan


@pytest.mark.parametrize(
    ("request_text", "tools", "run_ids"),
    [
        ("evaluate the champion on test, then calibrate it", ["evaluate_run", "calibrate_run"], ["champion"] * 2),
        ("gate the last run, then promote it", ["quality_gate", "promote_model"], ["last"] * 2),
        (
            "temperature-scale the champion first, afterwards conformal calibration with alpha 0.05",
            ["calibrate_run", "conformal_calibrate"],
            ["champion"] * 2,
        ),
        (
            "calibrate best:dynunet and then predict mv07.nii.gz with it",
            ["calibrate_run", "predict_volume"],
            ["best:dynunet"] * 2,
        ),
        (
            "evaluate the champion on val, calibrate it and run the weight gate",
            ["evaluate_run", "calibrate_run", "quality_gate"],
            ["champion"] * 3,
        ),
    ],
)
def test_it_after_a_step_on_a_named_run_is_that_run(request_text: str, tools: list[str], run_ids: list[str]) -> None:
    plan = build_plan(request_text, [])
    assert [s.tool for s in plan.steps] == tools, (plan.text_kind, plan.text)
    assert [s.args["run_id"] for s in plan.steps] == run_ids


def test_it_after_a_step_that_makes_a_run_is_its_output() -> None:
    plan = build_plan("train a segresnet for 3 epochs, then evaluate it on val", [])
    assert [s.tool for s in plan.steps] == ["train_model", "evaluate_run"]
    assert plan.steps[1].args["run_id"] == StepOutput(0, "run_id")


def test_one_run_worked_on_twice_is_no_pair_to_compare() -> None:
    plan = build_plan("evaluate the champion on test, then evaluate it on val, and compare the two", [])
    assert plan.text_kind == "clarify"


def test_asking_the_same_run_twice_is_one_call() -> None:
    plan = build_plan("which run is the champion and what were its settings", [])
    assert [(s.tool, s.args) for s in plan.steps] == [("get_run", {"run_id": "champion"})]
