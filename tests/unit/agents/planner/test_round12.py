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
        ("evaluate run 3c3c3c3c3c on val, then gate it", ["evaluate_run", "quality_gate"], ["3c3c3c3c3c"] * 2),
        (
            "temperature-scale the champion first, afterwards conformal calibration with alpha 0.05",
            ["calibrate_run", "conformal_calibrate"],
            ["champion"] * 2,
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


@pytest.mark.parametrize(
    "request_text",
    [
        "gate the last run, then promote it",  # an approval may wait for hours while "last" moves on
        "calibrate best:dynunet and then predict mv07.nii.gz with it",
        "gate the champion, then launch a 3-trial search, then promote it",  # the search makes runs in between
    ],
)
def test_it_after_last_or_best_or_a_search_is_the_run_the_step_resolved(request_text: str) -> None:
    plan = build_plan(request_text, [])
    assert plan.steps[-1].args["run_id"] == StepOutput(0, "run_id"), plan.steps


def test_a_repeated_step_without_a_run_is_kept() -> None:
    plan = build_plan("find label issues with 10 folds, then find label issues again", [])
    assert [(s.tool, s.args) for s in plan.steps] == [("find_label_issues", {"folds": 10}), ("find_label_issues", {})]


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


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        # datasets by name: the review tools look a name up under the data dir
        ("find label issues in noisy_demo", [("find_label_issues", {"dataset": "noisy_demo"})]),
        ("find label issues in nowhere_7", [("find_label_issues", {"dataset": "nowhere_7"})]),  # not a person
        ("find label issues in batch_a", [("find_label_issues", {"dataset": "batch_a"})]),
        ("send a hundred slices from noisy_demo to label studio",
         [("queue_for_review", {"dataset": "noisy_demo", "top_k": 100})]),
        ("check review progress on batch3 and import whatever's done",
         [("review_status", {"dataset": "batch3"}), ("import_reviews", {"dataset": "batch3"})]),
        ("queue 15 slices with predictions from abc123def0",
         [("queue_for_review", {"top_k": 15, "run_id": "abc123def0"})]),
        # phrasings
        ("fit a softmax temperature for whatever ran most recently", [("calibrate_run", {"run_id": "last"})]),
        ("my annotators have been at it all week; how many slices are still waiting?", [("review_status", {})]),
        ("grab the annotators' fixes for noisy_demo", [("import_reviews", {"dataset": "noisy_demo"})]),
        ("break val_cldice down by optim.lr value", [("param_effect", {"param": "optim.lr", "metric": "val_cldice"})]),
        ("dump everything about my latest run", [("get_run", {"run_id": "last"})]),
        ("sanity-check the newest run's layer weights (power-law gate)", [("quality_gate", {"run_id": "last"})]),
        ("fit a segresnet for twenty epochs but stop it after 15 minutes regardless",
         [("train_model", {"model": "segresnet", "epochs": 20, "max_minutes": 15.0})]),
        ("send 20 slices from /data/x to the annotators", [("queue_for_review", {"dataset": "/data/x", "top_k": 20})]),
        ("any pending review tasks left on noisy_demo", [("review_status", {"dataset": "noisy_demo"})]),
        ("draft the Mitchell-style card documenting our challenger", [("model_card", {"model": "challenger"})]),
        ("summarise failures, and also show me the lr effect on val_dice",
         [("failure_summary", {}), ("param_effect", {"param": "optim.lr", "metric": "val_dice"})]),
        ("leaderboard by val_dice per run, top 5",
         [("leaderboard", {"metric": "val_dice", "by_family": False, "limit": 5})]),
        ("trian segresnet w/ the topology-aware loss pls",
         [("train_model", {"model": "segresnet", "loss": "dice_ce_cldice"})]),
    ],
)  # fmt: skip
def test_round12_phrasings(request_text: str, expected: list[tuple[str, dict[str, object]]]) -> None:
    plan = build_plan(request_text, [])
    assert [(s.tool, s.args) for s in plan.steps] == expected, (plan.text_kind, plan.text)


@pytest.mark.parametrize(
    ("request_text", "kind"),
    [
        ("stop the training", "cannot"),  # a stop is still no tool
        ("email the results to my PI", "cannot"),
        ("send 900 slices to the annotators", "clarify"),  # over the queue's limit: asked, not "can't send messages"
        ("send the predicted masks to my supervisor", "cannot"),
        ("stop it in 5 minutes", "cannot"),  # no training asked for: a stop, not a budget
        ("kill training in an hour", "cannot"),
        ("take a look at the annotators' corrections", "unknown"),  # a look is no import (a write)
        ("get me a count of the reviewers' annotations", "unknown"),
    ],
)
def test_what_round12_must_not_change(request_text: str, kind: str) -> None:
    assert build_plan(request_text, []).text_kind == kind


@pytest.mark.parametrize(
    "request_text",
    [
        "queue 20 slices from mv07.nii.gz for review",
        "queue 20 slices from mv07 for review",
        "queue the worst slices on hd95 for review",
        "import the reviews from label_studio",
        "queue 20 slices for maria_k to review",
        "find label issues for dice_ce",
    ],
)
def test_words_that_are_no_dataset_name_are_not_taken_for_one(request_text: str) -> None:
    plan = build_plan(request_text, [])
    assert plan.steps and all("dataset" not in s.args for s in plan.steps), (plan.steps, plan.text)


def test_a_number_in_words_after_an_equals_sign_is_the_number() -> None:
    assert [(s.tool, s.args) for s in build_plan("synth data preset=minivess n=six", []).steps] == [
        ("synthesize_data", {"preset": "minivess", "n": 6})
    ]
