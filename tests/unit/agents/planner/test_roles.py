"""Supervisor routing, worker calls and hand-backs, text mode, and fitting arguments to the offered schema."""

from __future__ import annotations

import json
import subprocess
import sys

from minivess.agents.planner import plan_reply
from minivess.agents.planner.core import Offered
from minivess.agents.planner.fit import fit_arguments
from minivess.catalog import WORKER_TOOLS
from minivess.tools.registry import REGISTRY
from tests.unit.agents.planner.support import (
    ALL_TOOLS,
    ANALYST_TOOLS,
    EXPERIMENTER_TOOLS,
    RUN_A,
    SUPERVISOR_TOOLS,
    SYSTEM,
    leaderboard_result,
    record_call,
    train_history,
    train_result,
    user,
)


def test_role_follows_the_offered_tools() -> None:
    assert Offered.parse(SUPERVISOR_TOOLS).role == "supervisor"
    assert Offered.parse(EXPERIMENTER_TOOLS).role == "worker"
    assert Offered.parse(ALL_TOOLS).role == "worker"
    assert Offered.parse(None).role == "text"
    assert Offered.parse([]).role == "text"
    flat = [{"name": "transfer_to_analyst", "parameters": {}}]  # flat entries are read too
    assert Offered.parse(flat).role == "supervisor"


def test_supervisor_routes_experimenter_steps() -> None:
    reply = plan_reply([SYSTEM, user("train segresnet for 3 epochs with lr 1e-3")], SUPERVISOR_TOOLS)
    assert reply.content is None
    call = reply.tool_calls[0]
    assert call.name == "transfer_to_experimenter"
    task = json.loads(call.arguments)["task"]
    assert "segresnet" in task and "3 epochs" in task and "0.001" in task


def test_supervisor_routes_analyst_steps() -> None:
    for request in ("show the leaderboard by clDice", "which runs failed?", "how many runs are there?"):
        reply = plan_reply([SYSTEM, user(request)], SUPERVISOR_TOOLS)
        assert reply.tool_calls[0].name == "transfer_to_analyst", request


def test_supervisor_answers_text_requests_itself() -> None:
    for request, phrase in (("help", "I can"), ("delete all runs", "can't"), ("train a model", "Which model family")):
        reply = plan_reply([SYSTEM, user(request)], SUPERVISOR_TOOLS)
        assert not reply.tool_calls
        assert reply.content is not None and phrase in reply.content


def test_supervisor_final_summary_has_the_key_numbers() -> None:
    messages = [SYSTEM, user("train segresnet for 2 epochs, then show the leaderboard by clDice")]
    record_call(messages, plan_reply(messages, SUPERVISOR_TOOLS), "Transferred to experimenter")
    record_call(messages, plan_reply(messages, EXPERIMENTER_TOOLS), train_result())
    messages.append({"role": "assistant", "content": plan_reply(messages, EXPERIMENTER_TOOLS).content})
    reply = plan_reply(messages, SUPERVISOR_TOOLS)
    assert reply.tool_calls[0].name == "transfer_to_analyst"
    record_call(messages, reply, "Transferred to analyst")
    record_call(messages, plan_reply(messages, ANALYST_TOOLS), leaderboard_result())
    final = plan_reply(messages, SUPERVISOR_TOOLS)
    assert not final.tool_calls and final.content is not None
    for needle in (RUN_A, "0.5213", "epoch 2", "val_cldice", "0.6123", "segresnet"):
        assert needle in final.content, needle


def test_worker_calls_its_tool_with_valid_arguments() -> None:
    reply = plan_reply(
        [SYSTEM, user("train swinunetr for 1 epoch with clDice loss, patch 64x64x32")], EXPERIMENTER_TOOLS
    )
    call = reply.tool_calls[0]
    assert call.name == "train_model"
    args = REGISTRY.get("train_model").parse(call.arguments)
    assert (args.model, args.epochs, args.loss, args.patch_size) == ("swinunetr", 1, "dice_ce_cldice", [64, 64, 32])


def test_worker_hands_back_when_the_step_is_not_its_own() -> None:
    reply = plan_reply([SYSTEM, user("show the leaderboard")], EXPERIMENTER_TOOLS)
    assert not reply.tool_calls
    assert reply.content is not None and "leaderboard" in reply.content


def test_worker_hand_back_summarises_its_work() -> None:
    messages = [SYSTEM, user("train segresnet for 2 epochs and compare it with the best swinunetr")]
    record_call(messages, plan_reply(messages, EXPERIMENTER_TOOLS), train_result(best=0.52))
    reply = plan_reply(messages, EXPERIMENTER_TOOLS)
    assert not reply.tool_calls and reply.content is not None
    assert "segresnet" in reply.content and "0.5200" in reply.content and RUN_A[:8] in reply.content
    assert f"compare run {RUN_A}" in reply.content  # the next step, resolved, for the other worker


def test_text_mode_answers_without_tools() -> None:
    reply = plan_reply([SYSTEM, user("what can you do?")], None)
    assert not reply.tool_calls and reply.content is not None and "train" in reply.content
    pending = plan_reply([SYSTEM, user("train segresnet for 2 epochs")], [])
    assert pending.content is not None and "Not done yet" in pending.content and "train segresnet" in pending.content


def test_text_mode_summarises_finished_steps() -> None:
    messages = [*train_history(), user("thanks, show the leaderboard")]
    record_call(messages, plan_reply(messages, ALL_TOOLS), leaderboard_result())
    reply = plan_reply(messages, None)
    assert reply.content is not None and "Leaderboard by val_cldice" in reply.content


def test_arguments_are_fitted_to_the_offered_schema() -> None:
    narrow = {
        "type": "function",
        "function": {
            "name": "train_model",
            "parameters": {
                "type": "object",
                "properties": {"model": {"type": "string", "enum": ["segresnet", "dynunet"]}, "epochs": {}},
                "required": ["model"],
            },
        },
    }
    reply = plan_reply([SYSTEM, user("train segresnet for 4 epochs with lr 1e-3 and seed 3")], [narrow])
    assert json.loads(reply.tool_calls[0].arguments) == {"model": "segresnet", "epochs": 4}
    refused = plan_reply([SYSTEM, user("train swinunetr")], [narrow])  # enum excludes swinunetr
    assert not refused.tool_calls and refused.content is not None and "model" in refused.content


def test_fit_arguments_reports_missing_required() -> None:
    schema = {
        "properties": {"a": {"enum": ["x"]}, "b": {"anyOf": [{"enum": ["y"]}, {"type": "null"}]}},
        "required": ["a"],
    }
    assert fit_arguments({"a": "x", "b": None, "c": 1}, schema) == ({"a": "x", "b": None}, [], [])
    assert fit_arguments({"b": "y"}, schema) == ({"b": "y"}, ["a"], [])
    kept, missing, problems = fit_arguments({"a": "z", "b": "q"}, schema)  # refused values are reported, not dropped
    assert kept == {} and missing == []
    assert problems == ["a 'z' must be one of x", "b 'q' must be one of y"]


def test_supervisor_learns_worker_ownership_from_the_transfer_descriptions() -> None:
    offered = Offered.parse(SUPERVISOR_TOOLS)
    for worker, tools in WORKER_TOOLS.items():
        assert all(offered.transfer_for(tool) == f"transfer_to_{worker}" for tool in tools)
    assert (
        Offered.parse([{"name": "transfer_to_analyst", "description": "no list"}]).transfer_for("leaderboard") is None
    )


def test_the_planner_imports_no_heavy_or_pipeline_module() -> None:
    code = (
        "import sys, minivess.agents.planner; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'mlflow', 'litellm', 'langgraph', 'langchain', 'duckdb', 'numpy') "
        "or m.startswith(('minivess.pipelines', 'minivess.tools'))]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"
