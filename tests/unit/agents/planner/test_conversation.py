"""Questions answered across turns, references to earlier turns, robustness, determinism and speed."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from pydantic import BaseModel

from minivess.agents.planner import current_plan, plan_reply
from minivess.agents.planner.models import StepOutput
from tests.unit.agents.planner.support import (
    ALL_TOOLS,
    RUN_A,
    RUN_B,
    SUPERVISOR_TOOLS,
    SYSTEM,
    assistant_text,
    load_cases,
    train_history,
    user,
)

logger = logging.getLogger(__name__)


def _turn(messages: list[dict[str, Any]], text: str, tools: list[dict[str, Any]] | None = ALL_TOOLS) -> Any:
    messages.append(user(text))
    reply = plan_reply(messages, tools)
    if reply.content:
        messages.append(assistant_text(reply.content))
    return reply


def test_question_then_answer_continues_the_request() -> None:
    messages: list[dict[str, Any]] = [SYSTEM]
    asked = _turn(messages, "train a model for 5 epochs with clDice loss, then show the leaderboard")
    assert not asked.tool_calls and "Which model family" in (asked.content or "")
    answered = _turn(messages, "dynunet")
    assert json.loads(answered.tool_calls[0].arguments) == {"model": "dynunet", "epochs": 5, "loss": "dice_ce_cldice"}
    assert [s.tool for s in current_plan(messages).steps] == ["train_model", "leaderboard"]


def test_two_questions_in_a_row() -> None:
    messages: list[dict[str, Any]] = [SYSTEM]
    _turn(messages, "train a model with lr 5")
    second = _turn(messages, "segresnet")  # the family is known now, the learning rate is still invalid
    assert "learning rate" in (second.content or "")
    third = _turn(messages, "1e-3")
    assert json.loads(third.tool_calls[0].arguments) == {"model": "segresnet", "lr": 0.001}


def test_an_unrelated_answer_is_a_new_request() -> None:
    messages: list[dict[str, Any]] = [SYSTEM]
    _turn(messages, "evaluate it on val")
    reply = _turn(messages, "show me the leaderboard by NSD")
    assert json.loads(reply.tool_calls[0].arguments) == {"metric": "val_nsd"}


def test_a_non_answer_repeats_the_question() -> None:
    messages: list[dict[str, Any]] = [SYSTEM]
    _turn(messages, "train a model")
    reply = _turn(messages, "hmm, not sure")
    assert not reply.tool_calls and "Which model family" in (reply.content or "")


def test_that_run_means_the_latest_run_of_any_earlier_turn() -> None:
    messages = [*train_history(RUN_A), *train_history(RUN_B, "dynunet"), user("show the leaderboard")]
    messages.append(assistant_text("Leaderboard: ..."))
    messages.append(user("promote that run to challenger"))
    reply = plan_reply(messages, ALL_TOOLS)
    assert json.loads(reply.tool_calls[0].arguments) == {"run_id": RUN_B, "alias": "challenger"}


def test_an_explicit_id_beats_the_pronoun_and_prefixes_expand() -> None:
    messages = [*train_history(RUN_A), *train_history(RUN_B), user("evaluate run 3fa2b1 on val")]
    assert json.loads(plan_reply(messages, ALL_TOOLS).tool_calls[0].arguments)["run_id"] == RUN_A


def test_placeholders_point_at_earlier_steps() -> None:
    plan = current_plan([user("train segresnet, then plot its learning curves")])
    assert plan.steps[1].args["run_ids"] == [StepOutput(0)]


@pytest.mark.parametrize(
    "messages",
    [
        [],
        [{"role": "system", "content": None}],
        [{"role": "user"}],
        [{"role": "user", "content": None}],
        [{"role": "user", "content": [{"type": "text", "text": "show the leaderboard"}]}],
        ["not a dict", {"role": "user", "content": "show the leaderboard"}],
        [{"role": "user", "content": "train segresnet"}, {"role": "tool", "content": "not json"}],
        [{"role": "user", "content": "train segresnet, then show the leaderboard"},
         {"role": "assistant", "tool_calls": [{"function": {"name": "train_model", "arguments": "{bad"}}]},
         {"role": "tool", "tool_call_id": None, "name": "train_model", "content": "{\"run_id\": 5}"}],
        [{"role": "assistant", "content": None, "tool_calls": None}, {"role": "user", "content": 42}],
    ],
)  # fmt: skip
def test_malformed_conversations_never_raise(messages: list[Any]) -> None:
    for tools in (None, ALL_TOOLS, SUPERVISOR_TOOLS, [{"type": "function"}, "junk"]):
        reply = plan_reply(messages, tools)  # type: ignore[arg-type]
        assert reply.content or reply.tool_calls


def test_pydantic_messages_are_read() -> None:
    class Message(BaseModel):
        role: str
        content: str | None = None

    reply = plan_reply([Message(role="user", content="show the leaderboard")], ALL_TOOLS)  # type: ignore[list-item]
    assert reply.tool_calls[0].name == "leaderboard"


def test_content_parts_are_read() -> None:
    reply = plan_reply([{"role": "user", "content": [{"type": "text", "text": "show the leaderboard"}]}], ALL_TOOLS)
    assert reply.tool_calls[0].name == "leaderboard"


def test_same_input_same_output_and_ids() -> None:
    messages = [*train_history(), user("compare it with the best swinunetr, then plot the curves of both")]
    first = plan_reply(messages, ALL_TOOLS)
    assert all(plan_reply(messages, ALL_TOOLS) == first for _ in range(5))
    assert first.tool_calls[0].id.startswith("call_")
    later = plan_reply([*messages, assistant_text("x"), user("compare it with the best swinunetr")], ALL_TOOLS)
    assert later.tool_calls[0].id != first.tool_calls[0].id  # the position in the conversation is part of the id


def test_mean_time_per_call_is_small() -> None:
    conversations = [[SYSTEM, *case.get("history", []), user(case["request"])] for case in load_cases()]
    for conversation in conversations[:5]:
        plan_reply(conversation, ALL_TOOLS)  # warm the regex caches
    start = time.perf_counter()
    for conversation in conversations:
        plan_reply(conversation, ALL_TOOLS)
        plan_reply(conversation, SUPERVISOR_TOOLS)
    mean_ms = (time.perf_counter() - start) * 1000 / (2 * len(conversations))
    logger.info("planner mean time per call: %.3f ms over %d calls", mean_ms, 2 * len(conversations))
    assert mean_ms < 5.0
