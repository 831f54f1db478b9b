"""A remark after a request ("… thanks, you rock") is courtesy, not a request the planner failed to understand;
anything else after it is still asked about."""

from __future__ import annotations

import pytest

from minivess.agents.planner.plan import build_plan


@pytest.mark.parametrize(
    "remark",
    ["you're great", "thanks, you rock", "thanks a lot!", "thank you so much, much appreciated", "thx", "great job"],
)
def test_a_remark_after_a_request_leaves_the_request_as_it_is(remark: str) -> None:
    [step] = build_plan(f"train segresnet for 3 epochs. {remark}", []).steps
    assert (step.tool, step.args) == ("train_model", {"model": "segresnet", "epochs": 3})


def test_a_sentence_that_is_no_remark_is_still_not_understood_out_loud() -> None:
    plan = build_plan("train segresnet for 3 epochs. you are wrong", [])
    assert not plan.steps and plan.text is not None and "you are wrong" in plan.text
