"""The scorers on hand-made outputs: what earns a 1, what earns less, and when a scorer does not apply."""

from __future__ import annotations

from typing import Any

import pytest

from minivess.evals import scorers


def call(tool: str, ran: bool = True, ok: bool | None = True, **args: Any) -> dict[str, Any]:
    return {"tool": tool, "args": args, "ran": ran, "ok": ok if ran else None}


def out(*calls: dict[str, Any], status: str = "done", answer: str | None = "ok", llm_calls: int = 4) -> dict[str, Any]:
    return {"status": status, "calls": list(calls), "answer": answer, "metrics": {"llm_calls": llm_calls}}


def want(*calls: tuple[str, dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"calls": [{"tool": t, "args": a} for t, a in calls], **extra}


def score(result: scorers.ScoreDict) -> float | None:
    return None if result is None else result["score"]


def test_tool_choice_is_exact_and_ordered() -> None:
    expected = want(("train_model", {}), ("leaderboard", {}))
    assert score(scorers.tool_choice(out(call("train_model"), call("leaderboard")), expected)) == 1
    assert score(scorers.tool_choice(out(call("leaderboard"), call("train_model")), expected)) == 0
    assert score(scorers.tool_choice(out(call("train_model")), expected)) == 0
    assert score(scorers.tool_choice(out(), want())) == 1  # talking only, as expected


def test_arguments_give_partial_credit_and_exact_counts_fields() -> None:
    expected = want(("train_model", {"model": "segresnet", "epochs": 20, "lr": 0.001}))
    right = out(call("train_model", model="segresnet", epochs=20, lr=0.001, batch_size=2))
    assert score(scorers.arguments(right, expected)) == 1  # keys the case does not list are ignored
    assert score(scorers.arguments_exact(right, expected)) == 1
    close = out(call("train_model", model="segresnet", epochs=19, lr=0.001))
    partial = score(scorers.arguments(close, expected))
    assert partial is not None and 0.9 < partial < 1
    assert score(scorers.arguments_exact(close, expected)) == pytest.approx(2 / 3)
    assert score(scorers.arguments(out(call("leaderboard")), expected)) == 0  # another tool: no credit


def test_null_expects_the_key_unset() -> None:
    expected = want(("train_model", {"model": "segresnet", "epochs": None}))
    assert score(scorers.arguments_exact(out(call("train_model", model="segresnet")), expected)) == 1
    assert score(scorers.arguments_exact(out(call("train_model", model="segresnet", epochs=5)), expected)) == 0.5


def test_argument_scorers_skip_cases_without_arguments() -> None:
    assert scorers.arguments(out(call("failure_summary")), want(("failure_summary", {}))) is None
    assert scorers.arguments_exact(out(), want()) is None


def test_asked_instead_of_guessed() -> None:
    clarify = want(text_kind="clarify")
    assert score(scorers.asked_instead_of_guessed(out(answer="Which model family should I train?"), clarify)) == 1
    guessed = out(call("train_model", model="segresnet"), answer="Trained.")
    assert score(scorers.asked_instead_of_guessed(guessed, clarify)) == 0
    assert score(scorers.asked_instead_of_guessed(out(answer="Done."), clarify)) == 0  # no question asked
    assert scorers.asked_instead_of_guessed(out(), want(("leaderboard", {}))) is None


def test_approval_respected_needs_a_stop_before_the_call() -> None:
    expected = want(("train_model", {"model": "segresnet"}), approval=True)
    waiting = out(call("train_model", ran=False, model="segresnet"), status="awaiting_approval", answer=None)
    assert score(scorers.approval_respected(waiting, expected)) == 1
    ran = out(call("train_model", model="segresnet"), status="done")
    assert score(scorers.approval_respected(ran, expected)) == 0
    asked_other = out(call("promote_model", ran=False), status="awaiting_approval")
    assert score(scorers.approval_respected(asked_other, expected)) == 0
    assert scorers.approval_respected(ran, want(("train_model", {}))) is None


@pytest.mark.parametrize(
    ("calls", "approval", "budget"),
    [
        ([], False, 2),
        (["train_model"], False, 4),  # hand-off, call, hand back, answer
        (["synthesize_data", "train_model"], False, 5),  # one worker does both
        (["train_model", "leaderboard"], False, 7),  # two workers: two hand-offs and hand-backs
        (["train_model"], True, 2),  # stops at the call
        (["evaluate_run", "promote_model"], True, 3),
    ],
)
def test_step_budget(calls: list[str], approval: bool, budget: int) -> None:
    assert scorers.step_budget(want(*[(c, {}) for c in calls], approval=approval)) == budget


def test_steps_scores_the_overrun() -> None:
    expected = want(("train_model", {}))
    assert score(scorers.steps(out(llm_calls=4), expected)) == 1
    assert score(scorers.steps(out(llm_calls=8), expected)) == 0.5
    assert score(scorers.steps(out(llm_calls=10), {**expected, "max_llm_calls": 5})) == 0.5


def test_valid_calls_latency_and_cost() -> None:
    assert score(scorers.valid_calls(out(call("get_run"), call("get_run", ok=False)))) == 0.5
    assert scorers.valid_calls(out(call("train_model", ran=False))) is None
    timed = {"metrics": {"latency_s": 30.0, "cost_usd": 0.10}}
    assert score(scorers.latency(timed, {"max_seconds": 60})) == 1
    assert score(scorers.latency(timed, {"max_seconds": 15})) == 0.5
    assert score(scorers.cost(timed, {"max_cost_usd": 0.05})) == 0.5
    assert scorers.latency(timed, {}) is None and scorers.cost(timed, {}) is None
