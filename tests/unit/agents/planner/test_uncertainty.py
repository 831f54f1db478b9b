"""The uncertainty tools in the planner: rates as fractions, bad values asked about, one run per soup, summaries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from minivess.agents.planner import current_plan, plan_reply
from minivess.agents.planner.conversation import outcome_of
from minivess.agents.planner.keyvalue import TOOL_ARGS
from minivess.agents.planner.plan import build_plan
from minivess.agents.planner.risk import fnr_fraction
from minivess.agents.planner.summary import summarize
from minivess.agents.planner.uncertainty import _K_LIMITS
from minivess.tools.registry import REGISTRY
from minivess.tools.training import PredictVolumeResult
from minivess.tools.uncertainty import (
    BuildEnsembleResult,
    CalibrateRunResult,
    CalibrationNumbers,
    ConformalCalibrateResult,
    EnsembleMember,
    GreedySoupResult,
    QualityGateResult,
)
from tests.unit.agents.planner.support import (
    ALL_TOOLS,
    RUN_A,
    RUN_B,
    SYSTEM,
    follow_up,
    planned_steps,
    record_call,
    user,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [("a mask that misses at most 5 % of vessels", 0.05), ("guarantee a false negative rate of 10%", 0.1),
     ("fnr at most 0.05", 0.05), ("at alpha 0.1", 0.1), ("alpha=0.2", 0.2), ("a 2 % miss rate", 0.02),
     ("miss no more than five percent of the vessels", 0.05), ("so that at most 3% of vessels are missed", 0.03),
     ("misses at most 150 % of vessels", 1.5), ("alpha 0", 0.0), ("fnr -0.1", -0.1),
     ("misses at most a few vessels", None), ("often fnr", None), ("train for 5 epochs", None)],
)  # fmt: skip
def test_a_false_negative_rate_is_read_as_a_fraction(text: str, value: float | None) -> None:
    found = fnr_fraction(text)
    assert (found.value if found else None) == (pytest.approx(value) if value is not None else None)


def test_a_percentage_is_accounted_for_by_the_fraction_it_became() -> None:
    assert planned_steps("fnr at most 5 % for the champion") == [
        ("conformal_calibrate", {"run_id": "champion", "alpha": 0.05})
    ]
    assert planned_steps("segment v.nii.gz with the champion, missing at most 5 % of vessels") == [
        ("predict_volume", {"run_id": "champion", "input_path": "v.nii.gz", "risk_fnr": 0.05})
    ]


@pytest.mark.parametrize(
    ("request_text", "named"),
    [("conformal threshold for the last run, at most 150 %", ["between 0 and 1", "150 %"]),
     ("conformal mask for the champion at alpha 0", ["between 0 and 1", "'0'"]),
     ("fnr at most 5 for the champion", ["between 0 and 1", "'5'"]),
     ("segment v.nii.gz with it, missing at most 150 % of vessels", ["risk_fnr", "150 %"]),
     ("ensemble the 12 best runs", ["2 to 10", "'12'"]), ("majority vote of the top 1 segresnet", ["2 to 10", "'1'"]),
     ("ensemble the best run", ["at least 2"]), ("ensemble the 3 best runs by clDice", ["validation Dice"]),
     ("soup runs 3fa2b1c9 and 9c8d7e6f", ["one run", "ensemble"]),
     ("segment v.nii.gz with the champion and write an uncertainty map", ["uncertainty map", ".nii.gz"]),
     ("calibrate the champion on the training split", ["no split", "training split"])],
)  # fmt: skip
def test_bad_or_missing_values_get_a_question_never_a_clamp(request_text: str, named: list[str]) -> None:
    plan = build_plan(request_text, [RUN_A])
    assert plan.text_kind == "clarify" and not plan.steps, plan
    assert plan.text is not None and "?" in plan.text
    for part in named:
        assert part in plan.text


@pytest.mark.parametrize(
    ("turns", "expected"),
    [(("conformal threshold for the last run, at most 150 %", "5 %"),
      ("conformal_calibrate", {"run_id": "last", "alpha": 0.05})),
     (("conformal mask for the champion at alpha 0", "0.1"),
      ("conformal_calibrate", {"run_id": "champion", "alpha": 0.1})),
     (("a mask that misses at most 5 % of vessels", "the champion"),
      ("conformal_calibrate", {"run_id": "champion", "alpha": 0.05})),
     (("ensemble the 12 best runs", "4"), ("build_ensemble", {"top_k": 4, "strategy": "mean"})),
     (("soup runs 3fa2b1c9 and 9c8d7e6f", "3fa2b1c9"), ("greedy_soup", {"run_id": "3fa2b1c9"})),
     (("segment v.nii.gz with the champion and write an uncertainty map", "out/u.nii.gz"),
      ("predict_volume", {"run_id": "champion", "input_path": "v.nii.gz", "uncertainty_path": "out/u.nii.gz"}))],
)  # fmt: skip
def test_the_answer_fills_the_value_asked_about(turns: tuple[str, ...], expected: tuple[str, dict[str, Any]]) -> None:
    plan = current_plan(follow_up(*turns))
    assert [(step.tool, step.args) for step in plan.steps] == [expected]


def test_new_words_do_not_steal_existing_intents() -> None:
    assert planned_steps("show the best run")[0][0] == "leaderboard"
    assert planned_steps("average val dice per model family")[0][0] == "query_runs"
    assert planned_steps("average run duration per model family")[0][0] == "query_runs"
    assert planned_steps("predict a mask for test.nii.gz with run 9c8d7e6f5a4b")[0][0] == "predict_volume"
    assert build_plan("evaluate the last run on the calibration split", []).text_kind == "clarify"
    # a new tool's word that only names an earlier result ("the ensemble") leaves the request to the other verb
    assert planned_steps("compare the ensemble with the best segresnet", [RUN_A]) == [
        ("compare_runs", {"run_ids": [RUN_A, "best:segresnet"]})
    ]
    assert planned_steps("promote the soup to challenger", [RUN_A]) == [
        ("promote_model", {"run_id": RUN_A, "alias": "challenger"})
    ]
    assert planned_steps("evaluate the calibrated run on val", [RUN_A]) == [
        ("evaluate_run", {"run_id": RUN_A, "split": "val"})
    ]
    assert planned_steps("make the ensemble of the 3 best runs") == [
        ("build_ensemble", {"top_k": 3, "strategy": "mean"})
    ]


def test_a_verbless_follow_up_and_a_second_clause_keep_the_new_tools() -> None:
    assert planned_steps("calibrate run 3fa2b1c9, then run 9c8d7e6f") == [
        ("calibrate_run", {"run_id": "3fa2b1c9"}), ("calibrate_run", {"run_id": "9c8d7e6f"})
    ]  # fmt: skip
    assert planned_steps("segment a.nii.gz with it and make an uncertainty map to u.nii.gz", [RUN_A]) == [
        ("predict_volume", {"run_id": RUN_A, "input_path": "a.nii.gz", "uncertainty_path": "u.nii.gz"})
    ]


def test_the_ensemble_run_is_what_it_refers_to_next() -> None:
    messages = [SYSTEM, user("ensemble runs 3fa2b1c9 and 9c8d7e6f, then promote it to challenger")]
    reply = plan_reply(messages, ALL_TOOLS)
    assert reply.tool_calls[0].name == "build_ensemble"
    record_call(messages, reply, {"run_id": RUN_B, "strategy": "mean", "members": []})
    promote = plan_reply(messages, ALL_TOOLS).tool_calls[0]
    assert (promote.name, json.loads(promote.arguments)) == ("promote_model", {"run_id": RUN_B, "alias": "challenger"})


def test_key_value_names_are_the_tool_schemas() -> None:
    assert set(TOOL_ARGS) == set(REGISTRY.names())
    for tool, (names, required) in TOOL_ARGS.items():
        parameters = REGISTRY.get(tool).schema()["function"]["parameters"]
        assert names == set(parameters.get("properties", {})), tool
        assert required == set(parameters.get("required", [])), tool


def test_the_ensemble_limits_are_the_schemas() -> None:
    properties = REGISTRY.get("build_ensemble").schema()["function"]["parameters"]["properties"]
    top_k = next(o for o in properties["top_k"]["anyOf"] if o.get("type") == "integer")
    run_ids = next(o for o in properties["run_ids"]["anyOf"] if o.get("type") == "array")
    assert _K_LIMITS == (top_k["minimum"], top_k["maximum"]) == (run_ids["minItems"], run_ids["maxItems"])


def _line(name: str, result: Any) -> str:
    return summarize(outcome_of(name, result.model_dump_json()))


def test_summaries_keep_the_numbers_that_matter() -> None:
    numbers = CalibrationNumbers(ece=0.12, mce=0.3, brier=0.05, nll=0.2, n_voxels=100)
    better = CalibrationNumbers(ece=0.03, mce=0.1, brier=0.04, nll=0.15, n_voxels=100)
    calibrated = CalibrateRunResult(
        run_id=RUN_A, temperature=1.7, fit_split="val", eval_split="test", n_fit_voxels=100,
        before={"foreground": numbers}, after={"foreground": better}, reliability_diagram="/h/rel.png",
    )  # fmt: skip
    assert all(part in _line("calibrate_run", calibrated) for part in ("1.7000", "0.1200 → 0.0300", "/h/rel.png"))
    assert "over-confident" in _line("calibrate_run", calibrated)
    sharpened = calibrated.model_copy(update={"temperature": 0.4})
    assert "too soft" in _line("calibrate_run", sharpened) and "over-confident" not in _line("calibrate_run", sharpened)
    conformal = ConformalCalibrateResult(
        run_id=RUN_A, alpha=0.05, threshold=0.31, calibration_split="val", n_calibration=20, calibration_fnr=0.04,
        test_fnr_mean=0.045, test_fnr_per_volume={}, guarantee="On average at most 5 % of vessel voxels are missed.",
    )  # fmt: skip
    assert all(part in _line("conformal_calibrate", conformal) for part in ("0.3100", "0.0450", "at most 5 %"))
    ensemble = BuildEnsembleResult(
        run_id=RUN_B, strategy="vote", members=[EnsembleMember(run_id=RUN_A, family="segresnet", weight=1.0,
                                                               val_dice=0.6)],
        test={"dice": 0.71}, best_member=RUN_A, best_member_test={"dice": 0.68}, uncertainty_maps="/h/maps",
    )  # fmt: skip
    assert all(part in _line("build_ensemble", ensemble) for part in (RUN_B, "vote", "0.7100", "0.6800"))
    soup = GreedySoupResult(run_id=RUN_B, source_run=RUN_A, ingredients=[3, 2, 1], kept=[3, 1],
                            val_dice_best_ingredient=0.6, val_dice_soup=0.62, test={})  # fmt: skip
    assert all(part in _line("greedy_soup", soup) for part in (RUN_B, "3, 1", "0.6200"))
    gate = QualityGateResult(
        run_id=RUN_A, passed=False, reasons=["alpha 7.1 > 6"], alpha_weighted=7.1, mean_alpha=6.5, layers_analysed=9,
        layers_total=12, layers_native=2, layers=[],
    )  # fmt: skip
    assert all(part in _line("quality_gate", gate) for part in ("failed", "9/12", "alpha 7.1 > 6"))
    predicted = PredictVolumeResult(run_id=RUN_A, output_path="/h/m.nii.gz", vessel_fraction=0.03, threshold=0.31,
                                    uncertainty_path="/h/u.nii.gz")  # fmt: skip
    assert all(part in _line("predict_volume", predicted) for part in ("0.3100", "/h/u.nii.gz"))
