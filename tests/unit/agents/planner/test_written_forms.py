"""Values as people type them: verbless commands, numbers and durations in words, sizes "by", key=value lists,
bare "last", ordinals, three-run comparisons, model names, options in a sentence of their own, earlier answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from minivess.agents.planner.clauses import normalize
from minivess.agents.planner.conversation import Conversation
from minivess.agents.planner.models import History, StepOutput
from minivess.agents.planner.plan import build_plan
from tests.unit.agents.planner.support import RUN_A, RUN_B, planned_steps

RUN_C = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("segresnet, 3 ep", {"model": "segresnet", "epochs": 3}),
        ("segresnet seed 123 epochs 4", {"model": "segresnet", "seed": 123, "epochs": 4}),
        ("swin unetr, patches of 64 by 64 by 32, batch of 1", {"model": "swinunetr", "patch_size": [64, 64, 32],
                                                                "batch_size": 1}),
        ("model=swinunetr max_minutes=20 loss=dice_ce_cldice", {"model": "swinunetr", "max_minutes": 20,
                                                                 "loss": "dice_ce_cldice"}),
        ("train segresnet with batch_size=2 and patch_size=64,64,64", {"batch_size": 2, "patch_size": [64, 64, 64]}),
        ("Train DynUNet: forty epochs, plain dice-ce loss, seed 7.", {"epochs": 40, "loss": "dice_ce", "seed": 7}),
        ("train the nnU-Net style model for an hour and a half", {"model": "dynunet", "max_minutes": 90}),
        ("train segresnet for a quarter of an hour", {"max_minutes": 15}),
        ("train segresnet for 1h30", {"max_minutes": 90}),
        ("train segresnet for 2 hours and 15 minutes", {"max_minutes": 135}),
        ("kick off segresnet with a 45 min budget and register as seg-nightly", {"max_minutes": 45,
                                                                                 "register_as": "seg-nightly"}),
        ("Could you please train a SwinUNETR for me? I think twelve epochs should be plenty for a first look, and "
         "use a learning rate of 2e-4.", {"model": "swinunetr", "epochs": 12, "lr": 0.0002}),
    ],
)  # fmt: skip
def test_training_values_as_typed(request_text: str, expected: dict[str, Any]) -> None:
    ((tool, args),) = planned_steps(request_text)
    assert tool == "train_model"
    assert {key: args.get(key) for key in expected} == expected


@pytest.mark.parametrize(
    ("request_text", "limit"),
    [
        ("segresnet, five thousand epochs", "between 1 and 1000"),
        ("train segresnet. I think 5000 epochs.", "between 1 and 1000"),
        ("train segresnet. Use 8 epochs and lr -1.", "between 0 and 1"),
    ],
)
def test_out_of_range_values_in_words_or_their_own_sentence_are_asked_about(request_text: str, limit: str) -> None:
    plan = build_plan(request_text, [])
    assert plan.text_kind == "clarify"
    assert limit in (plan.text or "")


def test_rewrites_are_idempotent_and_leave_other_numbers_alone() -> None:
    for text in ("an hour and a half", "1 hour 30 minutes", "64 by 64 by 32", "train for 2 hours 5 epochs"):
        assert normalize(normalize(text)) == normalize(text)
    assert normalize("train for 2 hours 5 epochs") == "train for 2 hours 5 epochs"
    assert normalize("run 5 by hand") == "run 5 by hand"


@pytest.mark.parametrize(
    ("request_text", "tool", "expected"),
    [
        ("eval last on val", "evaluate_run", {"run_id": "last", "split": "val"}),
        ("evaluate run_id=last split=train", "evaluate_run", {"run_id": "last", "split": "train"}),
        ("Evaluate, on the test set, whichever segresnet scores best on clDice", "evaluate_run",
         {"run_id": "best:segresnet:val_cldice", "split": "test"}),
        ("evaluate the dynunet with the highest nsd", "evaluate_run", {"run_id": "best:dynunet:val_nsd"}),
        ("compare last and champion", "compare_runs", {"run_ids": ["last", "champion"]}),
        ("how do runs a1b2c3, d4e5f6 and 0a0b0c differ?", "compare_runs", {"run_ids": ["a1b2c3", "d4e5f6", "0a0b0c"]}),
        ("make run 5e6f7a the challenger for model vessel-seg", "promote_model",
         {"run_id": "5e6f7a", "alias": "challenger", "model_name": "vessel-seg"}),
        ("promote run 8e8e8e to champion of vessels-v2", "promote_model",
         {"run_id": "8e8e8e", "alias": "champion", "model_name": "vessels-v2"}),
        ("promote the challenger to champion", "promote_model", {"run_id": "challenger", "alias": "champion"}),
        ("synth n=6 shape=48,48,24 preset=small", "synthesize_data", {"n": 6, "shape": [48, 48, 24],
                                                                       "preset": "small"}),
        ("generate a dataset of twenty-four volumes, 64x64x32, seed 5", "synthesize_data", {"n": 24, "seed": 5}),
        ("I'd love a synthetic set with label noise, just ten volumes please", "synthesize_data",
         {"n": 10, "label_noise": True}),
        ("leaderboard metric=val_cldice limit=20 by_family=false", "leaderboard",
         {"metric": "val_cldice", "limit": 20, "by_family": False}),
        ("I'd love to know whether the model family makes a difference to NSD", "param_effect",
         {"param": "model.name", "metric": "val_nsd"}),
    ],
)  # fmt: skip
def test_other_tools_values_as_typed(request_text: str, tool: str, expected: dict[str, Any]) -> None:
    ((planned, args),) = planned_steps(request_text)
    assert planned == tool
    assert {key: args.get(key) for key in expected} == expected


def test_sql_questions_about_durations_folders_and_row_caps() -> None:
    ((_, longer),) = planned_steps("list every run that took longer than an hour")
    assert "r.duration_s > 1 * 3600" in longer["sql"]
    ((_, shorter),) = planned_steps("which runs took less than 30 seconds?")
    assert "r.duration_s < 30 * 1" in shorter["sql"]
    ((_, capped),) = planned_steps("list every finished run, up to 500 rows")
    assert capped["max_rows"] == 500 and "LIMIT 500" in capped["sql"] and "FINISHED" in capped["sql"]
    ((_, folder),) = planned_steps("which runs were trained on data/minivess? list them")
    assert "p.key = 'data.dir'" in folder["sql"] and "'%/data/minivess'" in folder["sql"]


def test_a_second_question_after_and_did_is_its_own_step() -> None:
    steps = planned_steps("what failed recently, and did the loss choice matter?")
    assert [tool for tool, _ in steps] == ["failure_summary", "param_effect"]
    assert steps[1][1]["param"] == "loss.name"


def test_an_unknown_split_is_asked_about() -> None:
    plan = build_plan("evaluate last on the holdout split", [])
    assert plan.text_kind == "clarify" and "holdout" in (plan.text or "")


def test_ordinals_and_both_refer_to_the_latest_list() -> None:
    listed = History(run_ids=[RUN_A], group=[RUN_B, RUN_C, RUN_A])
    ((_, first_two),) = planned_steps_with("compare the first two", listed)
    assert first_two["run_ids"] == [RUN_B, RUN_C]
    ((_, second),) = planned_steps_with("evaluate the second one on val", listed)
    assert second["run_id"] == RUN_C
    ((_, both),) = planned_steps_with("plot both", History(run_ids=[], group=[RUN_A, RUN_B]))
    assert both["run_ids"] == [RUN_A, RUN_B]
    conversation_order = History(run_ids=[RUN_A, RUN_B])
    ((_, ordered),) = planned_steps_with("compare the first run with the second", conversation_order)
    assert ordered["run_ids"] == [RUN_A, RUN_B]


def test_on_that_trains_on_the_folder_an_earlier_turn_made() -> None:
    ((_, args),) = planned_steps_with("train segresnet on that for 3 epochs", History(dataset="data/drift_c"))
    assert args == {"model": "segresnet", "epochs": 3, "dataset": "data/drift_c"}


def test_the_conversation_remembers_the_latest_list_and_folder() -> None:
    def answered(tool: str, result: dict[str, Any], number: int) -> list[dict[str, Any]]:
        call = {"id": f"c{number}", "type": "function", "function": {"name": tool, "arguments": "{}"}}
        return [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"c{number}", "name": tool, "content": json.dumps(result)},
        ]

    rows = {"rows": [{"run": {"run_id": RUN_B}}, {"run": {"run_id": RUN_A}}]}
    messages = [
        {"role": "user", "content": "make data"},
        *answered("synthesize_data", {"path": "data/x"}, 1),
        {"role": "user", "content": "top 2"},
        *answered("leaderboard", rows, 2),
        {"role": "user", "content": "compare the first two"},
    ]
    history = Conversation.parse(messages).history_before(len(messages) - 1)
    assert history.group == [RUN_B, RUN_A]
    assert history.dataset == "data/x"
    one_run = [*messages[:-1], *answered("get_run", {"run_id": RUN_A}, 3)]
    assert Conversation.parse(one_run).history_before(len(one_run)).group == []  # an answer about one run ends it


def planned_steps_with(text: str, history: History) -> list[tuple[str, dict[str, Any]]]:
    plan = build_plan(text, history)
    assert not plan.is_text, plan.text
    return [(step.tool, step.args) for step in plan.steps]


def _schema_enums() -> dict[tuple[str, str], frozenset[str]]:
    """Every string enum of the tool schemas, inline or one level into anyOf / items."""
    from minivess.tools.registry import REGISTRY

    found: dict[tuple[str, str], frozenset[str]] = {}
    for tool in REGISTRY.names():
        for key, spec in REGISTRY.get(tool).schema()["function"]["parameters"].get("properties", {}).items():
            options = [spec, *spec.get("anyOf", []), spec.get("items") or {}]
            enums = [value for option in options for value in option.get("enum", [])]
            if enums:
                found[(tool, key)] = frozenset(enums)
    return found


def test_the_key_value_choices_are_the_schemas_enums() -> None:
    from minivess.agents.planner.keyvalue import CHOICES

    assert _schema_enums() == CHOICES


@pytest.mark.parametrize(
    ("request_text", "named"),
    [
        ("evaluate run_id=last split=holdout", "'holdout'"),
        ("train dynunet loss=tversky epochs=5", "'tversky"),
        ("promote_model run_id=last alias=staging", "'staging'"),
        ("synth n=4 preset=foggy", "'foggy'"),
    ],
)
def test_a_key_value_its_schema_does_not_allow_is_asked_about(request_text: str, named: str) -> None:
    plan = build_plan(request_text, [])
    assert plan.text_kind == "clarify"
    assert named in (plan.text or "")


def test_which_run_is_the_champion_is_one_get_run_with_its_details() -> None:
    assert planned_steps("which run is the champion and what were its settings?") == [
        ("get_run", {"run_id": "champion"})
    ]
    assert planned_steps("who is the champion?")[0][0] == "query_runs"  # the registry: every alias


@pytest.mark.parametrize(
    ("request_text", "tool", "expected"),
    [
        ("train a single epoch of segresnet", "train_model", {"model": "segresnet", "epochs": 1}),
        ("synthesize 4 volumes and call the dataset probe_a", "synthesize_data", {"n": 4, "name": "probe_a"}),
        ("show the top 7 rows of the leaderboard", "leaderboard", {"limit": 7}),
        ("status of search 20261202-0915", "search_status", {"search_id": "20261202-0915"}),
        ("scan data/vessels for label issues", "find_label_issues", {"dataset": "data/vessels"}),
        ("conformal threshold for the champion, losing at most 5% of vessels", "conformal_calibrate",
         {"run_id": "champion", "alpha": 0.05}),
        ("conformal threshold for the champion, missing at most a tenth of the vessels", "conformal_calibrate",
         {"alpha": 0.1}),
        ("conformal threshold for the champion so that we lose no more than one in twenty vessels",
         "conformal_calibrate", {"alpha": 0.05}),
    ],
)  # fmt: skip
def test_round_four_forms(request_text: str, tool: str, expected: dict[str, Any]) -> None:
    ((planned, args),) = planned_steps(request_text)
    assert planned == tool
    assert {key: args.get(key) for key in expected} == expected


def test_a_budget_in_days_is_converted_and_checked_against_the_limit() -> None:
    plan = build_plan("search over segresnet and dynunet for 2 days", [])
    assert plan.text_kind == "clarify"
    assert "2880" in (plan.text or "") and "1440" in (plan.text or "")


@pytest.mark.parametrize(
    ("request_text", "steps"),
    [
        ("start training dynunet using dice+clDice loss, patch size 128 128 32, two hundred epochs",
         [("train_model",
           {"model": "dynunet", "epochs": 200, "loss": "dice_ce_cldice", "patch_size": [128, 128, 32]})]),
        ("is the folder layout of /mnt/nas/vessels/session_2024 ok? list the volumes and vessel %",
         [("dataset_info", {"path": "/mnt/nas/vessels/session_2024"})]),
        ("check whether the best dynunet has healthy weights", [("quality_gate", {"run_id": "best:dynunet"})]),
        ("any progress from the annotators?", [("review_status", {})]),
        ("tune segresnet and dynunet: fifteen trials within forty minutes",
         [("start_search", {"budget_minutes": 40.0, "trials": 15, "families": ["segresnet", "dynunet"]})]),
        ("how's the search going?", [("search_status", {"search_id": "last"})]),
        ("is the hyperparameter search finished yet? how many trials are done?",
         [("search_status", {"search_id": "last"})]),
        (f"tell me everything about {RUN_C}", [("get_run", {"run_id": RUN_C})]),
        ("so many of my runs have been crashing, what's going on?", [("failure_summary", {})]),
        ("generate the card for minivess-segmenter version 7", [("model_card", {"model": "minivess-segmenter@7"})]),
        ("make me a quick synthetic set: n=8, shape 64 64 32", [("synthesize_data", {"shape": [64, 64, 32], "n": 8})]),
        ("I need per-volume Dice/clDice/HD95 on test for the most recent run",
         [("evaluate_run", {"run_id": "last", "split": "test"})]),
        ("who has the lowest HD95? leaderboard please", [("leaderboard", {"metric": "val_hd95"})]),
        # a clause that only names where the prediction's files go, or whose predictions a queue shows
        ("apply model 2e4f6a8c to ./in/b.nii.gz; mask -> ./in/b_mask.nii.gz, uncertainty -> ./in/b_unc.nii.gz",
         [("predict_volume", {"run_id": "2e4f6a8c", "input_path": "./in/b.nii.gz", "output_path": "./in/b_mask.nii.gz",
                              "uncertainty_path": "./in/b_unc.nii.gz"})]),
        ("queue 25 slices for the annotators and show the last run's prediction next to each",
         [("queue_for_review", {"top_k": 25, "run_id": "last"})]),
        # several steps: "its", "the two", "each", a dataset name as the reference
        ("run the weight gate on the challenger and write its model card",
         [("quality_gate", {"run_id": "challenger"}), ("model_card", {"model": "challenger"})]),
        ("leaderboard by val_hd95, and the effect of loss.name on val_hd95",
         [("leaderboard", {"metric": "val_hd95"}), ("param_effect", {"param": "loss.name", "metric": "val_hd95"})]),
        ("evaluate the champion on test, evaluate the challenger on test, then compare the two",
         [("evaluate_run", {"run_id": "champion", "split": "test"}),
          ("evaluate_run", {"run_id": "challenger", "split": "test"}),
          ("compare_runs", {"run_ids": ["champion", "challenger"]})]),
        ("train dynunet with lr 1e-3 and a second one with lr 3e-4, 25 epochs each",
         [("train_model", {"model": "dynunet", "lr": 0.001, "epochs": 25}),
          ("train_model", {"model": "dynunet", "epochs": 25, "lr": 0.0003})]),
        ("synthesize a shifted dataset named shift_dec and then check it for drift against synthetic",
         [("synthesize_data", {"preset": "shifted", "name": "shift_dec"}),
          ("check_drift", {"current": StepOutput(0, "path"), "reference": "synthetic"})]),
    ],
)  # fmt: skip
def test_round_eight_forms(request_text: str, steps: list[tuple[str, dict[str, Any]]]) -> None:
    assert planned_steps(request_text) == steps


def test_round_eight_follow_ups_keep_what_the_last_call_was_given() -> None:
    trained = History([RUN_A], last_train={"model": "dynunet", "batch_size": 4, "epochs": 30})
    assert planned_steps("retry that with bs=1", trained) == [
        ("train_model", {"model": "dynunet", "epochs": 30, "batch_size": 1})
    ]
    cldice = History([RUN_A], last_train={"model": "segresnet", "epochs": 10, "loss": "dice_ce_cldice"})
    assert planned_steps("same thing but with swinunetr", cldice) == [
        ("train_model", {"model": "swinunetr", "epochs": 10, "loss": "dice_ce_cldice"})
    ]
    segmented = History(
        [RUN_A],
        last_tool="predict_volume",
        last_args={"predict_volume": {"run_id": "champion", "input_path": "a.nii.gz"}},
    )
    assert planned_steps("do the same for /data/b.nii.gz", segmented) == [
        ("predict_volume", {"run_id": "champion", "input_path": "/data/b.nii.gz"})
    ]
    carded = History([RUN_A], last_tool="model_card", last_args={"model_card": {"model": "champion"}})
    assert planned_steps("now the challenger's", carded) == [("model_card", {"model": "challenger"})]
    queued = History([], last_tool="queue_for_review", review_dataset="data/cortex")
    assert planned_steps("how is that going?", queued) == [("review_status", {"dataset": "data/cortex"})]
    plotted = History([RUN_A], last_tool="learning_curves", last_args={"learning_curves": {"run_ids": [RUN_B]}})
    assert planned_steps("now just the hd95 curve", plotted) == [
        ("learning_curves", {"run_ids": [RUN_B], "metrics": ["val_hd95"]})
    ]


@pytest.mark.parametrize(
    ("request_text", "steps"),
    [
        ("generate 20 vols named tr20; afterwards a 15-epoch segresnet on them",
         [("synthesize_data", {"n": 20, "name": "tr20"}),
          ("train_model", {"model": "segresnet", "epochs": 15, "dataset": StepOutput(0, "path")})]),  # on them
        ("hows the hyperparam search coming along", [("search_status", {"search_id": "last"})]),
        ("I need forty fake vessel volumes for a smoke test", [("synthesize_data", {"n": 40})]),
        ("spend 45 min hunting for a better model", [("start_search", {"budget_minutes": 45.0})]),
        ("one segresnet and one dynunet please, fifteen epochs apiece",
         [("train_model", {"model": "segresnet", "epochs": 15}), ("train_model", {"model": "dynunet", "epochs": 15})]),
        ("the challenger becomes the new champion", [("promote_model", {"run_id": "challenger", "alias": "champion"})]),
        # a reaction before the request asks for nothing
        ("passes, good. document the champion in a model card", [("model_card", {"model": "champion"})]),
        ("looks solid. make run 0f0f0f0f champion", [("promote_model", {"run_id": "0f0f0f0f", "alias": "champion"})]),
    ],
)  # fmt: skip
def test_round_nine_forms(request_text: str, steps: list[tuple[str, dict[str, Any]]]) -> None:
    assert planned_steps(request_text) == steps


def test_rows_by_place_and_number_are_rows_of_the_table_shown() -> None:
    shown = History([RUN_A, RUN_B, RUN_C], group=[RUN_A, RUN_B, RUN_C])
    assert planned_steps("#2 becomes challenger", shown) == [
        ("promote_model", {"run_id": RUN_B, "alias": "challenger"})
    ]
    assert planned_steps("how do first and second place differ?", shown) == [
        ("compare_runs", {"run_ids": [RUN_A, RUN_B]})
    ]
    assert planned_steps("ensemble all three of those", shown)[0][1]["run_ids"] == [RUN_A, RUN_B, RUN_C]
    assert planned_steps("evaluate the first one on the test split", shown) == [
        ("evaluate_run", {"run_id": RUN_A, "split": "test"})
    ]
    assert planned_steps("show me everything about the first one", shown) == [("get_run", {"run_id": RUN_A})]
    assert normalize("segment data/vols/a.nii.gz") == "segment data/vols/a.nii.gz"  # a folder keeps its name


def test_a_leaderboard_answer_with_flat_rows_names_its_runs() -> None:
    rows = {"metric": "val_dice", "rows": [{"rank": 1, "run_id": RUN_A}, {"rank": 2, "run_id": RUN_B}]}
    history = [
        {"role": "user", "content": "leaderboard please"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "leaderboard", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "name": "leaderboard", "content": json.dumps(rows)},
        {"role": "assistant", "content": "1. A, 2. B"},
        {"role": "user", "content": "#2 becomes challenger"},
    ]  # fmt: skip
    conversation = Conversation.parse(history)
    assert conversation.history_before(len(history) - 1).group == [RUN_A, RUN_B]


def test_what_rounds_eight_and_nine_must_not_change() -> None:
    """Reviewed regressions: each request planned as before round 8 (or asked about), not rewritten or dropped."""
    sql = planned_steps("select run_id from runs where tags like '%vol%'")
    assert sql == [("query_runs", {"sql": "select run_id from runs where tags like '%vol%'"})]  # SQL keeps "vol"
    assert planned_steps('generate 10 volumes and name it "vols"')[0][1]["name"] == "vols"  # so does a quoted name
    assert planned_steps("check drift data/old -> data/new") == [
        ("check_drift", {"current": "data/new", "reference": "data/old"})
    ]  # an arrow between folders is no output path
    assert planned_steps("train segresnet with a mini-batch of 4")[0][1]["batch_size"] == 4
    assert planned_steps("leaderboard by cldice, and then the leaderboard overall, top 5") == [
        ("leaderboard", {"metric": "val_cldice"}),
        ("leaderboard", {"metric": "val_dice", "by_family": False, "limit": 5}),
    ]  # only a bare "leaderboard please" repeats the ranking already planned
    queued = build_plan("queue 20 slices for review, then run predictions with the champion on data/new", [])
    assert queued.text_kind == "clarify" and "data/new" in (queued.text or "")  # the folder is asked about
    assert build_plan("check data/new for drift against it", []).steps[0].args == {"current": "data/new"}
    seg = History([RUN_A], last_train={"model": "segresnet", "epochs": 20, "lr": 0.003}, last_tool="train_model")
    assert planned_steps("train dynunet again", seg) == [("train_model", {"model": "dynunet"})]
    plotted_then_trained = History(
        [RUN_A, RUN_B], last_tool="train_model", last_args={"learning_curves": {"run_ids": [RUN_A]}}
    )
    assert planned_steps("show the training curves", plotted_then_trained) == [
        ("learning_curves", {"run_ids": [RUN_B]})
    ]  # the newest run, not the runs plotted two turns ago
    evaluated = History(
        [RUN_A], last_tool="evaluate_run", last_args={"evaluate_run": {"run_id": "champion", "split": "test"}}
    )
    assert build_plan("everyone's", evaluated).is_text  # a possessive that names no run repeats nothing
    assert (
        build_plan(
            "compare all three of those",
            History(
                [RUN_A, RUN_B, RUN_C, RUN_A[::-1], RUN_B[::-1]], group=[RUN_A, RUN_B, RUN_C, RUN_A[::-1], RUN_B[::-1]]
            ),
        ).text_kind
        == "clarify"
    )
    twice = build_plan("evaluate the champion on test, then evaluate it on val, and compare the two", [])
    assert twice.text_kind == "clarify"  # one run evaluated twice is no pair to compare
    each = planned_steps(
        "train dynunet with seed 1, then train segresnet with seed 1 and another with seed 2, 25 epochs each"
    )
    assert each[0] == ("train_model", {"model": "dynunet", "seed": 1})  # "each" is about the segresnets
