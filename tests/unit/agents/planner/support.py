"""Shared helpers for planner tests: real tool schemas, message builders, scripted tool results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from minivess.agents.nodes import transfer_schema
from minivess.agents.planner import PlannerReply
from minivess.agents.planner.models import History
from minivess.agents.planner.plan import build_plan
from minivess.catalog import WORKER_TOOLS, WORKERS
from minivess.tools.registry import REGISTRY

CASES_FILE = Path(__file__).with_name("cases.jsonl")
RUN_A = "3fa2b1c94d5e4f60a1b2c3d4e5f60718"
RUN_B = "9c8d7e6f5a4b4c3d8e9f0a1b2c3d4e5f"
SYSTEM = {"role": "system", "content": "You are the minivess assistant."}


SUPERVISOR_TOOLS = [transfer_schema(worker) for worker in WORKERS]  # what the graph offers the supervisor
EXPERIMENTER_TOOLS = REGISTRY.schemas(WORKER_TOOLS["experimenter"])
ANALYST_TOOLS = REGISTRY.schemas(WORKER_TOOLS["analyst"])
ALL_TOOLS = REGISTRY.schemas()


def load_cases() -> list[dict[str, Any]]:
    """The paraphrase cases (JSONL, one case per line)."""
    return [json.loads(line) for line in CASES_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]


def planned_steps(text: str, history: History | list[str] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The (tool, arguments) steps the embedded planner plans for ``text``; fails when it answers in text."""
    plan = build_plan(text, history or [])
    assert not plan.is_text, plan.text
    return [(step.tool, step.args) for step in plan.steps]


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def assistant_text(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def follow_up(*turns: str) -> list[dict[str, Any]]:
    """A conversation of user turns, each but the last answered by the planner's current plan text."""
    from minivess.agents.planner import current_plan

    messages: list[dict[str, Any]] = [SYSTEM]
    for number, turn in enumerate(turns):
        messages.append(user(turn))
        if number < len(turns) - 1:
            messages.append(assistant_text(current_plan(messages).text or ""))
    return messages


def record_call(messages: list[dict[str, Any]], reply: PlannerReply, result: Any, *, named: bool = True) -> None:
    """Append the reply's single tool call and the tool's answer (a dict → JSON, a str as is)."""
    assert len(reply.tool_calls) == 1, reply
    call = reply.tool_calls[0]
    messages.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            ],
        }
    )
    content = result if isinstance(result, str) else json.dumps(result)
    message: dict[str, Any] = {"role": "tool", "tool_call_id": call.id, "content": content}
    if named:
        message["name"] = call.name
    messages.append(message)


def train_result(run_id: str = RUN_A, model: str = "segresnet", best: float = 0.5213) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "model": model,
        "loss": "dice_ce",
        "status": "FINISHED",
        "stop_reason": "max_epochs",
        "epochs_completed": 2,
        "best_epoch": 2,
        "best_metric": best,
        "metric": "val_dice",
        "last_metrics": {"val_dice": best},
    }


def leaderboard_result() -> dict[str, Any]:
    def row(rank: int, family: str, run_id: str, value: float) -> dict[str, Any]:
        return {
            "rank": rank,
            "group": family,
            "run": {"run_id": run_id, "model_family": family, "status": "FINISHED"},
            "best_value": value,
            "best_step": 2,
            "last_value": value,
            "runs_in_group": 3,
        }

    return {
        "metric": "val_cldice",
        "direction": "max",
        "by": "family",
        "statuses": ["FINISHED"],
        "rows": [row(1, "segresnet", RUN_B, 0.6123), row(2, "swinunetr", RUN_A, 0.5011)],
    }


def comparison_result(ids: list[str]) -> dict[str, Any]:
    return {
        "runs": [{"run_id": i, "model_family": "segresnet", "status": "FINISHED"} for i in ids],
        "params": [{"key": "optim.lr", "values": dict.fromkeys(ids, "0.001"), "differs": False}],
        "metrics": [
            {
                "key": "val_dice",
                "direction": "max",
                "cells": {
                    i: {"best_value": 0.5 + n / 10, "best_step": 2, "last_value": 0.5, "last_step": 2, "n_values": 2}
                    for n, i in enumerate(ids)
                },
                "best_run": ids[-1],
            }
        ],
    }


def train_history(run_id: str = RUN_A, model: str = "segresnet") -> list[dict[str, Any]]:
    """An earlier turn: the user asked for training, the model called train_model, the tool answered."""
    call_id = f"call_hist_{run_id[:6]}"
    return [
        user(f"train {model} for 2 epochs"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": "train_model", "arguments": json.dumps({"model": model, "epochs": 2})},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "name": "train_model", "content": json.dumps(train_result(run_id))},
        assistant_text(f"Trained {model}: run {run_id}."),
    ]


def answered(tool: str, arguments: dict[str, Any], result: dict[str, Any], request: str) -> list[dict[str, Any]]:
    """An earlier turn: the request, the call of ``tool`` and its JSON result."""
    call = {"id": "call_0001", "type": "function", "function": {"name": tool, "arguments": json.dumps(arguments)}}
    return [
        user(request),
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_0001", "name": tool, "content": json.dumps(result)},
    ]


def planned_after(messages: list[dict[str, Any]], text: str) -> list[tuple[str, dict[str, Any]]]:
    """The steps planned for ``text`` after the earlier ``messages`` (empty when the planner answers in text)."""
    from minivess.agents.planner.conversation import Conversation

    history = Conversation.parse([*messages, user(text)])
    plan = build_plan(text, history.history_before(len(messages)))
    return [(step.tool, step.args) for step in plan.steps]
