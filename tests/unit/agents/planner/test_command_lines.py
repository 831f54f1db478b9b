"""Requests typed as command lines, context clauses, a second training, a request before typed SQL, and positions
in the table just shown ("the top one", "the first and the third of those", "the first failed run")."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer

from minivess.agents.planner import plan_reply
from minivess.agents.planner.cliline import COMMANDS, CONFIG_KEYS, rewrite_command_line
from minivess.agents.planner.keyvalue import TOOL_ARGS
from minivess.agents.planner.models import StepOutput
from minivess.agents.planner.plan import build_plan
from minivess.cli.app import app
from minivess.tools.training import TrainModelArgs, train_values
from tests.unit.agents.planner.support import (
    ALL_TOOLS,
    RUN_A,
    RUN_B,
    SYSTEM,
    leaderboard_result,
    planned_steps,
    record_call,
    user,
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("minivess search start -b 45 -n 10 --epochs 3 -f dynunet",
         ("start_search", {"budget_minutes": 45, "trials": 10, "epochs": 3, "families": ["dynunet"]})),
        ("$ minivess search start -b 45 -f dynunet -f segresnet",
         ("start_search", {"budget_minutes": 45, "families": ["dynunet", "segresnet"]})),
        ("minivess train --model swinunetr --epochs 8 --batch-size 2",
         ("train_model", {"model": "swinunetr", "epochs": 8, "batch_size": 2})),
        ("minivess evaluate 3f2a1b9c --split val", ("evaluate_run", {"run_id": "3f2a1b9c", "split": "val"})),
        ("minivess predict champion data/v1.nii.gz -o out/m.nii.gz --risk-fnr 0.05",
         ("predict_volume", {"run_id": "champion", "input_path": "data/v1.nii.gz", "output_path": "out/m.nii.gz",
                             "risk_fnr": 0.05})),
        ("minivess runs leaderboard -m val_cldice -n 5 --format csv", ("leaderboard", {"metric": "val_cldice",
                                                                                        "limit": 5})),
        ('minivess runs sql "SELECT status, count(*) FROM runs GROUP BY status" -n 20',
         ("query_runs", {"sql": "SELECT status, count(*) FROM runs GROUP BY status", "max_rows": 20})),
        ("minivess runs compare 3f2a1b9c 4e5d6c7b -m val_dice -m val_cldice",
         ("compare_runs", {"run_ids": ["3f2a1b9c", "4e5d6c7b"], "metrics": ["val_dice", "val_cldice"]})),
        ("minivess data synth --n 4 --shape 64x64x32 --preset shifted -o shifted4",
         ("synthesize_data", {"n": 4, "shape": [64, 64, 32], "preset": "shifted", "name": "shifted4"})),
        ("minivess data drift data/a data/b", ("check_drift", {"reference": "data/a", "current": "data/b"})),
        ("minivess labels queue data/minivess -k 20 --run champion",
         ("queue_for_review", {"dataset": "data/minivess", "top_k": 20, "run_id": "champion"})),
        ("minivess search status 20261207-0915-ab12", ("search_status", {"search_id": "20261207-0915-ab12"})),
    ],
)  # fmt: skip
def test_a_command_line_is_that_tools_call(line: str, expected: tuple[str, dict[str, Any]]) -> None:
    assert planned_steps(line) == [expected]


def test_a_flag_the_tool_cannot_take_is_asked_about_by_name() -> None:
    plan = build_plan("minivess search start -b 45 --margin 0.02", [])
    assert plan.text_kind == "clarify" and "margin=0.02" in (plan.text or "")


def test_lines_that_are_no_tool_or_no_command_line_stay_as_written() -> None:
    for text in ("minivess nightly -b 60", "minivess serve --port 8000", "train minivess models", "minivess"):
        assert rewrite_command_line(text) == text
    assert rewrite_command_line('minivess runs sql "SELECT 1') == 'minivess runs sql "SELECT 1'  # unclosed quote


def _cli_commands() -> dict[str, Any]:
    root = typer.main.get_group(app)
    found: dict[str, Any] = {}
    for name, command in root.commands.items():
        found[name] = command
        for sub, leaf in getattr(command, "commands", {}).items():
            found[f"{name} {sub}"] = leaf
    return found


def test_the_command_table_restates_the_cli_and_the_tool_schemas() -> None:
    cli = _cli_commands()
    for name, command in COMMANDS.items():
        assert name in cli, name
        options = {opt for param in cli[name].params for opt in getattr(param, "opts", [])}
        assert set(command.flags) <= options, (name, set(command.flags) - options)
        arguments = TOOL_ARGS[command.tool][0]
        assert set(command.flags.values()) - {"set"} | set(command.positional) <= arguments, name


def test_set_overrides_name_the_config_keys_train_model_sets() -> None:
    args = TrainModelArgs(
        model="dynunet", epochs=3, lr=1e-3, loss="dice_ce", batch_size=2, max_minutes=5, dataset="d", seed=1,
        register_as="m", patch_size=[32, 32, 16], device="cpu",
    )  # fmt: skip
    assert set(CONFIG_KEYS.values()) == set(TrainModelArgs.model_fields)  # a new argument needs its config key
    values = train_values(args)
    assert set(CONFIG_KEYS) == set(values)
    assert {CONFIG_KEYS[key]: value for key, value in values.items()} == args.model_dump(exclude_none=True)
    assert planned_steps("minivess train --set model.name=segresnet -s trainer.epochs=25 --set optim.lr=3e-4") == [
        ("train_model", {"model": "segresnet", "epochs": 25, "lr": 0.0003})
    ]
    assert planned_steps("minivess runs leaderboard -m val_cldice --by none -n 15") == [
        ("leaderboard", {"metric": "val_cldice", "by_family": False, "limit": 15})
    ]


def test_what_the_user_will_do_next_is_context_and_names_what_it_means() -> None:
    assert planned_steps("before I predict on ~/2p/batch9, check whether it drifted from ~/2p/batch1") == [
        ("check_drift", {"current": "~/2p/batch9", "reference": "~/2p/batch1"})
    ]
    # the only clause is still the request
    assert planned_steps("before I leave tonight start a search for 2 hours") == [
        ("start_search", {"budget_minutes": 120.0})
    ]


def test_another_training_keeps_the_family_and_takes_its_own_options() -> None:
    steps = planned_steps(
        "train one segresnet for 5 epochs with dice_ce and another for 5 epochs with dice_ce_cldice, then compare "
        "the two"
    )
    assert steps == [
        ("train_model", {"model": "segresnet", "epochs": 5, "loss": "dice_ce"}),
        ("train_model", {"model": "segresnet", "epochs": 5, "loss": "dice_ce_cldice"}),
        ("compare_runs", {"run_ids": [StepOutput(0), StepOutput(1)]}),
    ]
    # "a second one" is not a budget of one second
    assert planned_steps("train a dynunet for 4 epochs, and a second one for 8 epochs") == [
        ("train_model", {"model": "dynunet", "epochs": 4}),
        ("train_model", {"model": "dynunet", "epochs": 8}),
    ]
    assert build_plan("train a dynunet and another for 10^9 epochs", []).text_kind == "clarify"


def test_a_request_before_typed_sql_runs_first() -> None:
    assert planned_steps("which tables do we have? and then run SELECT status, count(*) FROM runs GROUP BY status") == [
        ("describe_warehouse", {}),
        ("query_runs", {"sql": "SELECT status, count(*) FROM runs GROUP BY status"}),
    ]
    assert planned_steps("hi! SELECT count(*) FROM runs") == [("query_runs", {"sql": "SELECT count(*) FROM runs"})]


def _after_leaderboard(request: str) -> tuple[str, dict[str, Any]]:
    messages = [SYSTEM, user("rank the families by clDice")]
    record_call(messages, plan_reply(messages, ALL_TOOLS), leaderboard_result())
    messages.append(user(request))
    call = plan_reply(messages, ALL_TOOLS).tool_calls[0]
    return call.name, json.loads(call.arguments)


def test_positions_in_the_table_just_shown_are_its_rows() -> None:
    assert _after_leaderboard("make the top one the challenger") == (
        "promote_model",
        {"run_id": RUN_B, "alias": "challenger"},
    )
    assert _after_leaderboard("ensemble the first and the second of those with majority voting") == (
        "build_ensemble",
        {"run_ids": [RUN_B, RUN_A], "strategy": "vote"},
    )
    assert planned_steps("promote the top one to champion") == [
        ("promote_model", {"run_id": "best", "alias": "champion"})
    ]  # no table shown: the best run


def test_the_first_failed_run_is_the_first_run_of_the_failures_shown() -> None:
    failures = {
        "total": 2,
        "groups": [
            {"error_type": "ConfigError", "count": 1, "runs": [{"run": {"run_id": RUN_A}, "message": "bad patch"}]},
            {"error_type": "RuntimeError", "count": 1, "runs": [{"run": {"run_id": RUN_B}, "message": "OOM"}]},
        ],
    }
    messages = [SYSTEM, user("what failed recently?")]
    record_call(messages, plan_reply(messages, ALL_TOOLS), failures)
    messages.append(user("show me everything about the first failed run"))
    call = plan_reply(messages, ALL_TOOLS).tool_calls[0]
    assert (call.name, json.loads(call.arguments)) == ("get_run", {"run_id": RUN_A})


def test_how_is_it_going_asks_about_the_search_this_thread_started() -> None:
    messages = [SYSTEM, user("start a 30 minute search")]
    record_call(messages, plan_reply(messages, ALL_TOOLS), {"search_id": "20261208-093011-7be2", "status": "running"})
    messages.append(user("how is it going now?"))
    call = plan_reply(messages, ALL_TOOLS).tool_calls[0]
    assert (call.name, json.loads(call.arguments)) == ("search_status", {"search_id": "20261208-093011-7be2"})


def test_words_after_a_command_are_not_taken_as_its_arguments() -> None:
    text = "minivess evaluate the champion on test"
    assert rewrite_command_line(text) == text
    assert planned_steps(text) == [("evaluate_run", {"run_id": "champion", "split": "test"})]
    assert rewrite_command_line("minivess runs compare the two best") == "minivess runs compare the two best"
