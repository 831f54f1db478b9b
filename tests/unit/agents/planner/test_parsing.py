"""Value extractors, clause splitting, run references, and step descriptions that parse back to the step."""

from __future__ import annotations

import re

import pytest

from minivess.agents.planner import slots
from minivess.agents.planner.clauses import split_clauses
from minivess.agents.planner.lexicon import param_in, parse_number
from minivess.agents.planner.models import Step
from minivess.agents.planner.plan import build_plan
from minivess.agents.planner.refs import run_refs
from minivess.agents.planner.resolve import resolve_args
from minivess.agents.planner.texts import EXAMPLES, HELP_TEXT, describe_step
from tests.unit.agents.planner.support import RUN_A, load_cases


@pytest.mark.parametrize(
    ("text", "value"),
    [("1e-3", 0.001), ("twenty five", 25), ("twenty-five", 25), ("a hundred", 100), ("a dozen", 12),
     ("half an", 0.5), ("one", 1), ("seven", 7), ("banana", None)],
)  # fmt: skip
def test_parse_number(text: str, value: float | None) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("for 10 minutes", 10), ("within 2 hours", 120), ("at most 30 min", 30), ("half an hour", 30),
     ("90 seconds", 1.5), ("a 15-minute budget", 15), ("register it as vessel-seg", None), ("for 5 epochs", None)],
)  # fmt: skip
def test_budget(text: str, minutes: float | None) -> None:
    assert slots.budget_minutes(text) == minutes


@pytest.mark.parametrize(
    ("text", "lr"),
    [("lr 1e-3", 1e-3), ("learning rate of 0.0005", 5e-4), ("lr=3e-4", 3e-4), ("a learning rate of 1e-4", 1e-4),
     ("with a 2e-4 learning rate", 2e-4), ("lr 10^-3", 1e-3), ("LR: .01", 0.01), ("train for 5 epochs", None)],
)  # fmt: skip
def test_learning_rate(text: str, lr: float | None) -> None:
    assert slots.learning_rate(text) == (pytest.approx(lr) if lr else None)


def test_other_slots() -> None:
    assert slots.epochs("for 5 ep") == 5 and slots.epochs("one epoch") == 1 and slots.epochs("epochs=12") == 12
    assert slots.patch_size("patch size 96 96 32") == [96, 96, 32] and slots.patch_size("64^3 patches") == [64] * 3
    assert slots.batch_size("bs=2") == 2 and slots.batch_size("4 volumes per batch") == 4
    assert slots.nii_paths("predict IN.nii.gz, save to /tmp/out.nii.gz") == ("IN.nii.gz", "/tmp/out.nii.gz")
    assert slots.directory("train on data/minivess and/or more") == "data/minivess"
    assert slots.directory("use dice/cldice and/or ce") is None
    assert slots.split("on the validation set") == "val" and slots.split("on the training set") == "train"
    assert slots.loss("without clDice") == "dice_ce" and slots.loss("topology-aware loss") == "dice_ce_cldice"


def test_param_mentioned_first_wins() -> None:
    assert param_in("does the learning rate matter for clDice?") == ("optim.lr", "learning rate")
    assert param_in("did clDice loss help?") == ("loss.name", "clDice loss")
    assert param_in("no parameter here") is None


def test_run_references() -> None:
    refs = run_refs("compare that with our best segresnet by clDice and run 3fa2b1…")
    assert [(r.kind, r.value) for r in refs] == [
        ("pronoun", ""), ("best", "best:segresnet:val_cldice"), ("id", "3fa2b1"),
    ]  # fmt: skip
    assert [r.kind for r in run_refs("the last two runs")] == ["lastn"]
    assert run_refs("segment data/abc123def456.nii.gz") == []  # a hex-looking file name is not a run


@pytest.mark.parametrize(
    ("text", "count"),
    [("train segresnet, then show the leaderboard", 2), ("compare run a1b2c3 and run d4e5f6", 1),
     ("train x. After that, plot the curves", 2), ("evaluate run 3fa2... on val", 1),
     ("train segresnet and compare it with the best swinunetr", 2), ("train segresnet and swinunetr", 1),
     ("lr 1e-3. Then show the leaderboard", 2)],
)  # fmt: skip
def test_split_clauses(text: str, count: int) -> None:
    assert len(split_clauses(text)) == count


def _first_steps() -> list[Step]:
    steps: list[Step] = []
    for case in load_cases():
        plan = build_plan(case["request"], [RUN_A])
        steps.extend(Step(s.tool, resolve_args(s, [])) for s in plan.steps[:1])
    return steps


@pytest.mark.parametrize("step", _first_steps(), ids=lambda s: s.tool)
def test_descriptions_parse_back_to_the_same_step(step: Step) -> None:
    """The supervisor's `task` text is itself a request the planner understands (for workers given only it)."""
    plan = build_plan(describe_step(step), [])
    assert len(plan.steps) == 1, describe_step(step)
    assert (plan.steps[0].tool, plan.steps[0].args) == (step.tool, step.args), describe_step(step)


def test_every_example_we_show_users_works() -> None:
    examples = {e.strip('"') for e in EXAMPLES} | set(re.findall(r'"([^"]+)"', HELP_TEXT)) - {"help"}
    assert len(examples) >= 15
    for example in examples:
        plan = build_plan(example, [RUN_A])
        assert not plan.is_text, (example, plan.text)
