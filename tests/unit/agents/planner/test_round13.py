"""Round 13 (misses of the fresh planner_holdout13): values that were silently dropped, and phrasings not understood.

The silent drops first: "lr 0.0.1" trained with the default lr, "train segresnet on quick8" and "review progress
on dataset lab_v3" used the default data, "masks deliberately corrupted" generated clean labels, "soup the last
run and put the soup through the weight gate" only gated, and an entropy map in the same clause as a conformal
risk lost the risk.
"""

from __future__ import annotations

from typing import Any

import pytest

from minivess.agents.planner.models import StepOutput
from minivess.agents.planner.plan import build_plan
from tests.unit.agents.planner.support import answered, planned_after


def _plan(text: str) -> list[tuple[str, dict[str, Any]]]:
    plan = build_plan(text, [])
    assert plan.steps, (plan.text_kind, plan.text)
    return [(step.tool, step.args) for step in plan.steps]


@pytest.mark.parametrize(
    ("request_text", "field"),
    [("train segresnet lr 0.0.1", "learning rate"), ("train segresnet epochs 3.5.1", "number of epochs")],
)
def test_a_number_with_two_decimal_points_is_asked_about(request_text: str, field: str) -> None:
    plan = build_plan(request_text, [])
    assert not plan.steps and plan.text_kind == "clarify"
    assert plan.text is not None and field in plan.text.lower() and request_text.split()[-1] in plan.text


@pytest.mark.parametrize(
    "request_text",
    ["train segresnet on data/v1.2.3 for 2 epochs", "segment scans/vol_1.2.3.nii.gz with the champion"],
)
def test_dotted_numbers_inside_paths_are_names(request_text: str) -> None:
    assert _plan(request_text)


@pytest.mark.parametrize(
    ("request_text", "tool", "dataset"),
    [
        ("train segresnet on quick8 for 2 epochs", "train_model", "quick8"),
        ("train segresnet for 2 epochs on the noisy_labels dataset", "train_model", "noisy_labels"),
        ("review progress on dataset lab_v3", "review_status", "lab_v3"),
        ("dataset info for nowhere_7", "dataset_info", "nowhere_7"),
    ],
)
def test_a_dataset_name_is_passed_on(request_text: str, tool: str, dataset: str) -> None:
    ((planned, args),) = _plan(request_text)
    assert planned == tool and args["path" if tool == "dataset_info" else "dataset"] == dataset


def test_a_model_family_or_loss_after_on_is_no_dataset() -> None:
    ((_, args),) = _plan("train segresnet with dice_ce_cldice for 3 epochs")
    assert "dataset" not in args and args["loss"] == "dice_ce_cldice"


def test_corrupted_masks_mean_label_noise() -> None:
    ((tool, args),) = _plan("synthesise ten volumes where some masks are deliberately corrupted")
    assert tool == "synthesize_data" and args["label_noise"] is True and args["n"] == 10


def test_soup_then_gate_the_soup_is_two_steps() -> None:
    (soup, gate) = _plan("soup the last run and put the resulting soup through the weight gate")
    assert soup == ("greedy_soup", {"run_id": "last"})
    assert gate[0] == "quality_gate" and isinstance(gate[1]["run_id"], StepOutput)


def test_conformal_risk_and_entropy_map_in_one_clause_are_both_kept() -> None:
    ((tool, args),) = _plan(
        "predict stack_0042.nii.gz using the last run; I want the conformal mask that misses at most 10% of vessels, "
        "and an entropy map saved to out/stack_0042_entropy.nii.gz"
    )
    assert tool == "predict_volume" and args["risk_fnr"] == 0.1
    assert args["uncertainty_path"] == "out/stack_0042_entropy.nii.gz"


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        (
            "I'd like a segresnet trained on ~/data/minivess_v2 for twelve epochs, and please register the best "
            "checkpoint as vessel-seg-lab so Priya can pull it.",
            [("train_model", {"model": "segresnet", "epochs": 12, "dataset": "~/data/minivess_v2",
                              "register_as": "vessel-seg-lab"})],
        ),
        (
            "Show me the 5 best runs overall by val_hd95 - not one per family, just the raw top five.",
            [("leaderboard", {"metric": "val_hd95", "by_family": False, "limit": 5})],
        ),
        (
            "dynunet, plain dice + cross-entropy loss, 1.5 h wall-clock budget",
            [("train_model", {"model": "dynunet", "loss": "dice_ce", "max_minutes": 90.0})],
        ),
        ("preset=minivess n=24", [("synthesize_data", {"n": 24, "preset": "minivess"})]),
        (
            "weight-gate both the champion and the challenger",
            [("quality_gate", {"run_id": "champion"}), ("quality_gate", {"run_id": "challenger"})],
        ),
        (
            "Show me how val_dice evolved epoch by epoch for the champion.",
            [("learning_curves", {"run_ids": ["champion"], "metrics": ["val_dice"]})],
        ),
        (
            "trainer.batch_size vs val_dice - is there any pattern?",
            [("param_effect", {"param": "trainer.batch_size", "metric": "val_dice"})],
        ),
    ],
)  # fmt: skip
def test_phrasings_of_round_13(request_text: str, expected: list[tuple[str, dict[str, Any]]]) -> None:
    assert _plan(request_text) == expected


def test_register_the_best_checkpoint_without_training_is_still_a_promotion() -> None:
    ((tool, args),) = _plan("register the best checkpoint as vessel-seg-lab")
    assert tool == "promote_model" and args["model_name"] == "vessel-seg-lab"


@pytest.mark.parametrize("request_text", ["train segresnet with cross-entropy loss", "train segresnet, focal loss"])
def test_a_loss_the_tool_lacks_is_still_asked_about(request_text: str) -> None:
    plan = build_plan(request_text, [])
    assert not plan.steps and plan.text_kind == "clarify" and "dice_ce" in (plan.text or "")


def test_the_first_one_of_a_query_is_its_first_row() -> None:
    ids = ["fb27c618331ecd16bfd77342ac731723", "c18c6d7d05f8c0fa5db261c168949912", "5d207320898b42d5d002f64fe6bf889c"]
    sql = "SELECT run_id, duration_s FROM runs ORDER BY duration_s DESC LIMIT 3"
    result = {"sql": sql, "columns": ["run_id", "duration_s"], "types": ["VARCHAR", "DOUBLE"],
              "rows": [[ids[0], 5123.4], [ids[1], 4410.0], [ids[2], 3988.7]], "truncated": False}  # fmt: skip
    messages = answered("query_runs", {"sql": sql}, result, "which three runs took longest?")
    assert planned_after(messages, "show me the details of the first one") == [("get_run", {"run_id": ids[0]})]


def test_hows_it_doing_after_a_search_is_its_status() -> None:
    result = {"search_id": "20261204-223011-7be2", "status": "running", "trials_finished": 3}
    messages = answered("start_search", {"budget_minutes": 60.0}, result, "start a one hour search")
    assert planned_after(messages, "how's it doing now?") == [("search_status", {"search_id": "20261204-223011-7be2"})]
