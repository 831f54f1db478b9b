"""Round 10: values that were dropped or replaced by a default, and steps or phrasings that were not understood.

Each case here was a silent wrong plan before (a value ignored, a step left out, a name cut short) or a question
where the request was clear; the tests pin the plan or the question.
"""

from __future__ import annotations

from typing import Any

import pytest

from minivess.agents.planner import plan_reply
from minivess.agents.planner.conversation import run_labels_of
from minivess.agents.planner.models import History, StepOutput, ToolOutcome
from minivess.agents.planner.plan import build_plan
from minivess.tools.registry import REGISTRY
from tests.unit.agents.planner.support import RUN_A, RUN_B, SYSTEM, planned_steps, user

RUN_C = "0123456789abcdef0123456789abcdef"


def _question(text: str, history: History | list[str] | None = None) -> str:
    plan = build_plan(text, history or [])
    assert plan.text_kind == "clarify", (plan.steps, plan.text)
    return plan.text or ""


@pytest.mark.parametrize(
    ("request_text", "named"),
    [
        ("train segresnet for minus five epochs", "between 1 and 1000, not '-5'"),
        ("train segresnet with lr negative 0.001", "not '-0.001'"),
        ("eval my last run on the external cohort split", "no 'external cohort' split"),
        ("move the staging alias to the best run", "no 'staging' alias"),
        ("make 30 synthetic volumes like 'warmup30'", "'warmup30'"),
        ("train segresnet for eight epohcs", "'eight'"),
        ("SELECT run_id, status FROM runs -- give me up to 5000 rows", "between 1 and 1000, not 5000"),
        ("generate a foggy-preset set with 4 volumes", "no 'foggy' preset"),
        ("calibrate the last run, zap it, and evaluate it on test", 'did not understand "zap it"'),
    ],
)
def test_a_value_or_step_it_cannot_use_is_asked_about_never_dropped(request_text: str, named: str) -> None:
    plan = build_plan(request_text, [])
    assert plan.is_text and plan.text_kind in ("clarify", "unknown"), plan.steps
    assert named in (plan.text or "")


def test_a_name_with_a_slash_is_taken_whole_and_asked_about_not_cut_short() -> None:
    """ "call the dataset lab/batch2" planned name "lab" before; the schema's pattern refuses the whole name."""
    assert planned_steps("synthesize 8 volumes and call the dataset lab/batch2") == [
        ("synthesize_data", {"n": 8, "name": "lab/batch2"})
    ]
    worker = plan_reply([SYSTEM, user("synthesize 8 volumes and call the dataset lab/batch2")],
                        [REGISTRY.get("synthesize_data").schema()])  # fmt: skip
    assert not worker.tool_calls and "'lab/batch2' may only hold letters" in (worker.content or "")


def test_runs_that_are_not_there_are_asked_about() -> None:
    """ "curves for those runs" with no runs in the conversation, or row four of a three-row table."""
    assert "Which run" in _question("curves for those runs please")
    shown = History([RUN_A], last_tool="leaderboard", group=[RUN_A, RUN_B, RUN_C])
    assert "Which run" in _question("weight gate on number four in that list", shown)
    ((_, args),) = planned_steps("weight gate on number three in that list", shown)
    assert args == {"run_id": RUN_C}


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("make 30 synthetic volumes as 'warmup30'", [("synthesize_data", {"n": 30, "name": "warmup30"})]),
        ("synthesize -n 16 --shape 64 64 32 --name tiny16",
         [("synthesize_data", {"n": 16, "shape": [64, 64, 32], "name": "tiny16"})]),
        ("model card of the run with the best val dice", [("model_card", {"model": "best"})]),
        ("val-split evaluation for both champion and challenger",
         [("evaluate_run", {"run_id": "champion", "split": "val"}),
          ("evaluate_run", {"run_id": "challenger", "split": "val"})]),
        ("overlay val_dice + val_cldice per epoch: champion and challenger side by side",
         [("learning_curves", {"run_ids": ["champion", "challenger"], "metrics": ["val_dice", "val_cldice"]})]),
        ("run conformal risk control on the challenger at a ten percent false-negative rate",
         [("conformal_calibrate", {"run_id": "challenger", "alpha": 0.1})]),
        ("push a dozen of the most suspicious ./data/minivess slices into Label Studio",
         [("queue_for_review", {"dataset": "./data/minivess", "top_k": 12})]),
        ("./data/minivess review: how many done vs pending so far?",
         [("review_status", {"dataset": "./data/minivess"})]),
        ("cap it at 20 rows: SELECT run_id FROM runs", [("query_runs", {"sql": "SELECT run_id FROM runs",
                                                                         "max_rows": 20})]),
        ("can u train a dynunet w/ dice_ce_cldice and register the best ckpt as vessel-dyn-v2",
         [("train_model", {"model": "dynunet", "loss": "dice_ce_cldice", "register_as": "vessel-dyn-v2"})]),
        ("effect of loss.name on val_cldice and of optim.lr on val_dice",
         [("param_effect", {"param": "loss.name", "metric": "val_cldice"}),
          ("param_effect", {"param": "optim.lr", "metric": "val_dice"})]),
        ("mask ./tp_stack_b.nii.gz w/ the challenger, fnr budget 0.1",
         [("predict_volume", {"run_id": "challenger", "input_path": "./tp_stack_b.nii.gz", "risk_fnr": 0.1})]),
        ("run the best dynunet on ./incoming/stack_a.nii, and it must not miss more than 5% of vessel voxels",
         [("predict_volume", {"run_id": "best:dynunet", "input_path": "./incoming/stack_a.nii", "risk_fnr": 0.05})]),
        ("guarantee at most ten percent missed vessels for the challenger — calibrate that",
         [("conformal_calibrate", {"run_id": "challenger", "alpha": 0.1})]),
        ("take our three strongest runs and average them into one ensemble",
         [("build_ensemble", {"top_k": 3, "strategy": "mean"})]),
        ("top-4 dynunet ensemble pls", [("build_ensemble", {"top_k": 4, "family": "dynunet", "strategy": "mean"})]),
        ("which model family gives the best hd95 on average",
         [("param_effect", {"param": "model.name", "metric": "val_hd95"})]),
        ("does mixed precision (trainer.amp) change val_dice at all?",
         [("param_effect", {"param": "trainer.amp", "metric": "val_dice"})]),
        ("compare shift_test against pilot40 for distribution shift",
         [("check_drift", {"current": "shift_test", "reference": "pilot40"})]),
        ("has the drift_test dataset drifted relative to the synthetic one?",
         [("check_drift", {"current": "drift_test", "reference": "synthetic"})]),
        ("card for registered version 2 of minivess-segmenter (minivess-segmenter@2)",
         [("model_card", {"model": "minivess-segmenter@2"})]),
        ("search start -b 60 -n 20 -f segresnet -f dynunet --epochs 8 (agent, please)",
         [("start_search", {"budget_minutes": 60, "trials": 20, "families": ["segresnet", "dynunet"], "epochs": 8})]),
        ("minivess evaluate last --split val  # need val numbers for the slides",
         [("evaluate_run", {"run_id": "last", "split": "val"})]),
        ("conformal_calibrate  run=last  alpha=0.1  (FNR control)",
         [("conformal_calibrate", {"run_id": "last", "alpha": 0.1})]),
        ("Maria has time this afternoon, give her the ten slices most likely mislabelled",
         [("queue_for_review", {"top_k": 10})]),
        ("calibrate the last run, gate it, and evaluate it on test",
         [("calibrate_run", {"run_id": "last"}), ("quality_gate", {}), ("evaluate_run", {"split": "test"})]),
    ],
)  # fmt: skip
def test_what_the_request_says_is_planned(request_text: str, expected: list[tuple[str, dict[str, Any]]]) -> None:
    steps = planned_steps(request_text)
    assert [tool for tool, _ in steps] == [tool for tool, _ in expected]
    for (_, args), (_, wanted) in zip(steps, expected, strict=True):
        assert {key: args.get(key) for key in wanted} == wanted


def test_a_backticked_command_with_a_value_after_it_is_not_read_as_the_command_alone() -> None:
    """ "`minivess train` for 5 epochs": the words after the command still count (no model named: asked)."""
    assert "Which model family" in _question("`minivess train` for 5 epochs")


def test_follow_ups_keep_the_setup_and_change_what_is_named() -> None:
    trained = History([RUN_A], last_train={"model": "dynunet", "epochs": 25}, last_tool="train_model")
    ((_, args),) = planned_steps("do the same for segresnet", trained)
    assert args == {"model": "segresnet", "epochs": 25}
    effect = History(
        [], last_tool="param_effect", last_args={"param_effect": {"param": "loss.name", "metric": "val_dice"}}
    )
    ((_, args),) = planned_steps("and what about on cldice?", effect)
    assert args == {"param": "loss.name", "metric": "val_cldice"}
    search = History([], last_tool="start_search", search_id="20261206-081500-c3d2")
    ((tool, args),) = planned_steps("check again", search)
    assert (tool, args) == ("search_status", {"search_id": "20261206-081500-c3d2"})


def _outcome(name: str, data: dict[str, Any]) -> ToolOutcome:
    return ToolOutcome(name=name, status="ok", text="", data=data)


def test_a_run_is_named_by_what_an_earlier_answer_showed_of_it() -> None:
    """ "the OOM one", "the NaN-loss run", "the dynunet from that list": the run whose record says so."""
    failures = _outcome(
        "failure_summary",
        {"groups": [
            {"error_type": "RuntimeError", "runs": [{"run": {"run_id": RUN_A, "error": "CUDA out of memory"}}]},
            {"error_type": "ValueError", "runs": [{"run": {"run_id": RUN_B, "error": "patch size 96 not divisible"}}]},
            {"error_type": "RuntimeError", "runs": [{"run": {"run_id": RUN_C, "error": "NaN loss at epoch 2"}}]},
        ]},
    )  # fmt: skip
    shown = History([RUN_A, RUN_B, RUN_C], group=[RUN_A, RUN_B, RUN_C], run_labels=run_labels_of([failures]))
    ((_, args),) = planned_steps("show details of the OOM one", shown)
    assert args == {"run_id": RUN_A}
    ((_, args),) = planned_steps("compare the NaN-loss run with the patch-size one", shown)
    assert args["run_ids"] == [RUN_C, RUN_B]
    board = _outcome(
        "leaderboard",
        {
            "rows": [
                {"run": {"run_id": RUN_A, "model_family": "dynunet"}},
                {"run": {"run_id": RUN_B, "model_family": "segresnet"}},
            ]
        },
    )
    listed = History([RUN_A], group=[RUN_A, RUN_B], run_labels=run_labels_of([board]))
    ((_, args),) = planned_steps("ensemble the dynunet and the segresnet from that list", listed)
    assert args["run_ids"] == [RUN_A, RUN_B]
    trained = _outcome("train_model", {"run_id": RUN_B, "model": "segresnet"})
    later = History([RUN_B, RUN_A], run_labels=run_labels_of([trained]))
    ((_, args),) = planned_steps("val-split eval of the segresnet one you trained first", later)
    assert args == {"run_id": RUN_B, "split": "val"}


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("query: SELECT run_name, duration_s FROM runs ORDER BY duration_s DESC  (max 5 rows)",
         ("query_runs", {"sql": "SELECT run_name, duration_s FROM runs ORDER BY duration_s DESC", "max_rows": 5})),
        ("execute `SELECT run_id FROM runs` with max_rows=50", ("query_runs", {"sql": "SELECT run_id FROM runs",
                                                                              "max_rows": 50})),
        ("any news from the running hparam sweep?", ("search_status", {"search_id": "last"})),
    ],
)  # fmt: skip
def test_a_cap_or_a_status_is_not_replaced_by_a_default_or_a_new_search(
    request_text: str, expected: tuple[str, dict[str, Any]]
) -> None:
    assert planned_steps(request_text) == [expected]


def test_out_of_range_counts_around_a_query_or_a_synthesis_are_asked_about() -> None:
    assert "not 5000" in _question("run query_runs with max_rows 5000: SELECT * FROM runs")
    assert "not 0" in _question("synthetic set please, with an n of zero")


def test_comparing_with_the_challenger_promotes_nothing_and_key_values_change_a_follow_up() -> None:
    trained = History([RUN_A], last_tool="train_model")
    ((tool, args),) = planned_steps("and compare it to the challenger on val_cldice", trained)
    assert (tool, args["run_ids"], args["metrics"]) == ("compare_runs", [RUN_A, "challenger"], ["val_cldice"])
    evaluated = History(
        [RUN_A], last_tool="evaluate_run", last_args={"evaluate_run": {"run_id": "challenger", "split": "test"}}
    )
    ((_, args),) = planned_steps("ok and run that challenger eval again but with split=train", evaluated)
    assert args == {"run_id": "challenger", "split": "train"}


def test_training_on_them_uses_the_data_just_made_or_asks() -> None:
    """ "… and train segresnet on them" trained on the default dataset before: the words named no dataset then."""
    steps = build_plan("synthesize 6 volumes named tiny6 and train segresnet on them", []).steps
    assert [step.tool for step in steps] == ["synthesize_data", "train_model"]
    assert steps[1].args["dataset"] == StepOutput(0, "path")
    assert "Which dataset folder" in _question("train segresnet on them")


@pytest.mark.parametrize(
    "request_text",
    [
        "I am only interested in cldice, show the leaderboard",
        "we are on the val split, evaluate the last run",
        "we have three GPUs free, train segresnet",
        "we have four hours of GPU time, train segresnet",
        "Maria is working on siteC, queue 60 slices for review",
        "we have 'fast' and 'slow' configs, train segresnet",
        "I have a new folder called siteD, check it for drift",
    ],
)
def test_a_statement_with_a_value_in_it_is_not_dropped_as_context(request_text: str) -> None:
    plan = build_plan(request_text, [])
    assert plan.is_text and plan.text_kind in ("unknown", "clarify"), plan.steps


@pytest.mark.parametrize(
    ("request_text", "tools"),
    [
        ("minivess train --model segresnet --epochs 5 # then promote it to challenger",
         ["train_model", "promote_model"]),
        ("train --model segresnet --epochs 20 --lr 1e-3 (then evaluate it)", ["train_model", "evaluate_run"]),
        ("`minivess train --model segresnet --epochs 5` - do that and then evaluate it on val",
         ["train_model", "evaluate_run"]),
    ],
)  # fmt: skip
def test_words_after_a_command_line_are_read_not_dropped(request_text: str, tools: list[str]) -> None:
    assert [tool for tool, _ in planned_steps(request_text)] == tools


def test_words_after_a_command_line_set_its_values() -> None:
    ((_, args),) = planned_steps("minivess train --model segresnet --epochs 5 # with cldice loss")
    assert args["loss"] == "dice_ce_cldice"
    ((_, args),) = planned_steps("minivess evaluate --run last (on the val split)")
    assert args == {"run_id": "last", "split": "val"}


def test_a_family_names_a_listed_row_only_when_the_request_points_at_the_list() -> None:
    failed = History([RUN_A, RUN_B], group=[RUN_A, RUN_B], run_labels={RUN_A: "swinunetr oom", RUN_B: "segresnet nan"})
    ((_, args),) = planned_steps("evaluate segresnet on the test split", failed)
    assert args["run_id"] == "best:segresnet"  # not the crashed row
    board = History([RUN_A, RUN_C], group=[RUN_A, RUN_C], run_labels={RUN_A: "swinunetr", RUN_C: "dynunet"})
    assert "Which run" in _question("evaluate the unet one", board)  # "unet" is no word of "swinunetr"
    assert "Which run" in _question("evaluate the worst one", board)  # no row shows it: asked, not the latest
    ((_, args),) = planned_steps("sort it by hd95", History([RUN_A], group=[RUN_A, RUN_C], last_tool="leaderboard"))
    assert args["metric"] == "val_hd95"


def test_number_words_are_checked_by_value_and_counts_of_things_are_no_values() -> None:
    assert "I did not use 'three'" in _question("train segresnet with three folds")  # 3 is in range: unused
    assert "I did not use 'five'" in _question("train segresnet with five-fold cross validation")
    ((_, args),) = planned_steps("compare the last run with the champion, two things matter: dice and hd95")
    assert args["metrics"] == ["val_dice", "val_hd95"]


def test_numbered_steps_a_finish_clause_and_a_times_count_are_read() -> None:
    assert planned_steps("1) dataset info for ~/data/cortex_v3 2) train dynunet on it for 10 epochs") == [
        ("dataset_info", {"path": "~/data/cortex_v3"}),
        ("train_model", {"model": "dynunet", "epochs": 10, "dataset": "~/data/cortex_v3"}),
    ]
    steps = planned_steps("segresnet x5 epochs; when that finishes, test-split metrics for the new run")
    assert [(tool, args.get("epochs", args.get("split"))) for tool, args in steps] == [
        ("train_model", 5),
        ("evaluate_run", "test"),
    ]


def test_a_number_beside_a_typed_query_is_used_or_asked_about() -> None:
    assert "I did not use '5'" in _question("limit (5) rows please: SELECT run_id FROM runs")
    assert planned_steps("SELECT run_id FROM runs WHERE duration_s > 60 LIMIT 5") == [
        ("query_runs", {"sql": "SELECT run_id FROM runs WHERE duration_s > 60 LIMIT 5"})
    ]
