"""The embedded search strategy: what it keeps, drops, warm-starts and how it moves the lr range."""

from __future__ import annotations

import math

import optuna
import pytest

from minivess.pipelines.search.planning import DROP_MARGIN, PastRun, plan_search, replan
from minivess.pipelines.search.space import LR_LIMITS, SearchSpace


def run(
    i: int,
    family: str = "segresnet",
    loss: str = "dice_ce",
    lr: float = 1e-3,
    score: float | None = 0.5,
    status: str = "FINISHED",
    error: str = "",
    optimizer: str = "adamw",
) -> PastRun:
    return PastRun(f"run{i:04d}xxxx", family, loss, optimizer, lr, status, score, error)


def test_no_history_plans_the_default_space_with_no_warm_start() -> None:
    plan = plan_search([], ["segresnet", "dynunet"], trials=12)
    assert plan.space.families == ("segresnet", "dynunet")
    assert (plan.space.lr_low, plan.space.lr_high) == (1e-4, 1e-2)
    assert plan.warm_starts == []
    assert plan.rounds == [6, 6]
    assert "plain TPE" in plan.reasoning[0]


def test_a_family_whose_every_run_failed_is_dropped_with_its_error() -> None:
    history = [
        run(0, score=0.8),
        run(1, family="dynunet", score=None, status="FAILED", error="OOM: too big"),
        run(2, family="dynunet", score=None, status="FAILED", error="OOM: too big"),
    ]
    plan = plan_search(history, ["segresnet", "dynunet"], trials=8)
    assert plan.space.families == ("segresnet",)
    assert any("dynunet" in line and "OOM" in line for line in plan.reasoning)


def test_a_family_far_behind_after_a_fair_try_is_dropped_but_not_after_one_run() -> None:
    behind = 0.9 - DROP_MARGIN - 0.05
    one_try = [run(0, score=0.9), run(1, family="dynunet", score=behind)]
    assert plan_search(one_try, ["segresnet", "dynunet"], 8).space.families == ("segresnet", "dynunet")
    fair = [*one_try, run(2, family="dynunet", score=behind)]
    assert plan_search(fair, ["segresnet", "dynunet"], 8).space.families == ("segresnet",)


def test_families_outside_the_request_are_ignored() -> None:
    plan = plan_search([run(0, family="swinunetr", score=0.99)], ["segresnet"], 8)
    assert plan.space.families == ("segresnet",)
    assert plan.warm_starts == []


def test_lr_range_is_three_times_around_the_three_best_runs_and_warm_starts_are_the_best_inside() -> None:
    history = [
        run(i, lr=lr, score=s) for i, (lr, s) in enumerate([(1e-3, 0.9), (2e-3, 0.85), (4e-3, 0.8), (1e-5, 0.1)])
    ]
    plan = plan_search(history, ["segresnet"], trials=12)
    assert plan.space.lr_low == pytest.approx(1e-3 / 3)
    assert plan.space.lr_high == pytest.approx(4e-3 * 3)
    assert [w["lr"] for w in plan.warm_starts] == [1e-3, 2e-3, 4e-3]  # 12 × 0.25 = 3, best first


def test_warm_starts_never_exceed_a_quarter_of_the_trials() -> None:
    history = [run(i, lr=1e-3 * (1 + i / 10), score=0.9 - i / 100) for i in range(10)]
    assert len(plan_search(history, ["segresnet"], trials=4).warm_starts) == 1
    assert plan_search(history, ["segresnet"], trials=3).warm_starts == []


def test_replan_narrows_around_the_top_trials() -> None:
    space = SearchSpace(families=("segresnet",), lr_low=1e-4, lr_high=1e-2)
    results = [({"lr": lr}, score) for lr, score in [(1e-3, 0.9), (1.5e-3, 0.88), (1e-4 * 1.1, 0.2), (9e-3, 0.3)]]
    new, why = replan(space, results)
    assert new.lr_low == pytest.approx(1e-3 / 2) and new.lr_high == pytest.approx(1.5e-3 * 2)
    assert "narrowing" in why


def test_replan_widens_when_the_best_sits_at_an_edge_within_the_limits() -> None:
    space = SearchSpace(families=("segresnet",), lr_low=1e-4, lr_high=1e-2)
    at_top = [({"lr": 9.9e-3}, 0.9), ({"lr": 1e-3}, 0.5), ({"lr": 3e-4}, 0.3)]
    new, why = replan(space, at_top)
    assert new.lr_high == pytest.approx(min(LR_LIMITS[1], 3e-2)) and "widening up" in why
    at_bottom = [({"lr": 1.01e-4}, 0.9), ({"lr": 1e-3}, 0.5), ({"lr": 3e-3}, 0.3)]
    new, why = replan(space, at_bottom)
    assert new.lr_low == pytest.approx(1e-4 / 3) and "widening down" in why


def test_replan_keeps_the_space_with_too_few_results() -> None:
    space = SearchSpace(families=("segresnet",))
    assert replan(space, [({"lr": 1e-3}, 0.5)])[0] == space


def test_space_suggests_inside_itself_and_keeps_a_factor_of_two() -> None:
    space = SearchSpace(families=("segresnet", "dynunet"), losses=("dice_ce",), lr_low=2e-4, lr_high=3e-3)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        trial = study.ask()
        config = space.suggest(trial)
        assert space.contains(config)
        study.tell(trial, 0.0)
    assert not space.contains({"family": "swinunetr", "loss": "dice_ce", "optimizer": "sgd", "lr": 1e-3})
    narrow = space.with_lr(1e-3, 1.1e-3)
    assert math.isclose(narrow.lr_high / narrow.lr_low, 2.0)
    with pytest.raises(ValueError, match="below"):
        SearchSpace(families=("segresnet",), lr_low=1e-2, lr_high=1e-3)
