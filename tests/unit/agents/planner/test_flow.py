"""Multi-step progress, results feeding later steps, failures, stalls and hand-down task messages."""

from __future__ import annotations

import json
from typing import Any

from minivess.agents.planner import plan_reply
from minivess.tools.registry import REGISTRY
from tests.unit.agents.planner.support import (
    ALL_TOOLS,
    ANALYST_TOOLS,
    EXPERIMENTER_TOOLS,
    RUN_A,
    RUN_B,
    SUPERVISOR_TOOLS,
    SYSTEM,
    assistant_text,
    comparison_result,
    record_call,
    train_history,
    train_result,
    user,
)


def _args(reply_arguments: str) -> dict[str, Any]:
    data = json.loads(reply_arguments)
    assert isinstance(data, dict)
    return data


def test_train_then_compare_uses_the_new_run_id() -> None:
    messages = [SYSTEM, user("train a swinunetr for 1 epoch and compare it with our best segresnet")]
    first = plan_reply(messages, EXPERIMENTER_TOOLS)
    assert first.tool_calls[0].name == "train_model"
    record_call(messages, first, train_result(RUN_B, "swinunetr"))
    assert not plan_reply(messages, EXPERIMENTER_TOOLS).tool_calls  # compare is the analyst's
    second = plan_reply(messages, ANALYST_TOOLS)
    assert second.tool_calls[0].name == "compare_runs"
    assert _args(second.tool_calls[0].arguments) == {"run_ids": [RUN_B, "best:segresnet"]}
    REGISTRY.get("compare_runs").parse(second.tool_calls[0].arguments)


def test_supervisor_task_names_the_resolved_run() -> None:
    messages = [SYSTEM, user("train segresnet for 2 epochs, then evaluate it on val")]
    record_call(messages, plan_reply(messages, SUPERVISOR_TOOLS), "ok")
    record_call(messages, plan_reply(messages, EXPERIMENTER_TOOLS), train_result(RUN_B))
    reply = plan_reply(messages, EXPERIMENTER_TOOLS)  # same worker, next step is its own too
    assert _args(reply.tool_calls[0].arguments) == {"run_id": RUN_B, "split": "val"}


def test_three_steps_in_order_then_final_text() -> None:
    messages = [SYSTEM, user("train segresnet, evaluate it on test, then promote it to champion")]
    seen = []
    results = [train_result(RUN_A), {"run_id": RUN_A, "split": "test", "summary": {"dice": 0.6}, "per_volume": {}}]
    results.append({"run_id": RUN_A, "model_name": "minivess-segmenter", "version": "3", "alias": "champion"})
    for result in results:
        reply = plan_reply(messages, ALL_TOOLS)
        seen.append(reply.tool_calls[0].name)
        record_call(messages, reply, result)
    assert seen == ["train_model", "evaluate_run", "promote_model"]
    final = plan_reply(messages, ALL_TOOLS)
    assert not final.tool_calls and final.content is not None
    assert "version 3" in final.content and "champion" in final.content and "dice 0.6000" in final.content


def test_compare_them_after_two_trainings() -> None:
    messages = [SYSTEM, user("train segresnet and dynunet for 1 epoch, then compare them")]
    record_call(messages, plan_reply(messages, ALL_TOOLS), train_result(RUN_A))
    record_call(messages, plan_reply(messages, ALL_TOOLS), train_result(RUN_B, "dynunet"))
    reply = plan_reply(messages, ALL_TOOLS)
    assert _args(reply.tool_calls[0].arguments) == {"run_ids": [RUN_A, RUN_B]}


def test_rejected_step_stops_the_plan() -> None:
    messages = [SYSTEM, user("train swinunetr for 50 epochs, then show the leaderboard")]
    record_call(messages, plan_reply(messages, SUPERVISOR_TOOLS), "ok")
    record_call(messages, plan_reply(messages, EXPERIMENTER_TOOLS), "REJECTED: too slow for a laptop")
    worker = plan_reply(messages, EXPERIMENTER_TOOLS)
    assert not worker.tool_calls and worker.content is not None and "not approved" in worker.content
    final = plan_reply(messages, SUPERVISOR_TOOLS)
    assert not final.tool_calls and final.content is not None
    assert "declined" in final.content and "too slow for a laptop" in final.content
    assert plan_reply(messages, ANALYST_TOOLS).tool_calls == []  # the leaderboard never runs


def test_error_result_is_reported_not_retried() -> None:
    messages = [*train_history(), user("evaluate run 3fa2 on val")]
    reply = plan_reply(messages, ALL_TOOLS)
    assert _args(reply.tool_calls[0].arguments) == {"run_id": RUN_A, "split": "val"}  # prefix expanded from history
    record_call(messages, reply, "ERROR: cannot resolve run 'x': no run 'x' in the tracking store.")
    again = plan_reply(messages, ALL_TOOLS)
    assert not again.tool_calls and again.content is not None and "failed" in again.content
    final = plan_reply(messages, SUPERVISOR_TOOLS)
    assert final.content is not None and "Tell me which run" in final.content


def test_a_retry_of_a_failed_step_counts_as_its_result() -> None:
    messages = [SYSTEM, user("train segresnet for 2 epochs, then show the leaderboard")]
    reply = plan_reply(messages, ALL_TOOLS)
    record_call(messages, reply, "ERROR: train_model: invalid data folder")
    record_call(messages, reply, train_result())  # e.g. an LLM retried with a fix
    assert plan_reply(messages, ALL_TOOLS).tool_calls[0].name == "leaderboard"


def test_supervisor_does_not_loop_when_a_worker_comes_back_empty() -> None:
    messages = [SYSTEM, user("show the leaderboard")]
    record_call(messages, plan_reply(messages, SUPERVISOR_TOOLS), "Transferred to analyst")
    messages.append(assistant_text("I could not do that."))
    reply = plan_reply(messages, SUPERVISOR_TOOLS)
    assert not reply.tool_calls and reply.content is not None and "could not get this step done" in reply.content


def test_transfer_back_messages_are_not_stalls() -> None:
    """langgraph-supervisor appends a transfer_back_to_supervisor call and tool message after a worker."""
    messages = [SYSTEM, user("train segresnet for 2 epochs, then show the leaderboard")]
    record_call(messages, plan_reply(messages, SUPERVISOR_TOOLS), "Successfully transferred to experimenter")
    record_call(messages, plan_reply(messages, EXPERIMENTER_TOOLS), train_result())
    messages.append(assistant_text(plan_reply(messages, EXPERIMENTER_TOOLS).content or ""))
    back = {
        "id": "call_back",
        "type": "function",
        "function": {"name": "transfer_back_to_supervisor", "arguments": "{}"},
    }
    messages.append({"role": "assistant", "content": None, "tool_calls": [back]})
    messages.append({"role": "tool", "tool_call_id": "call_back", "content": "Successfully transferred back"})
    assert plan_reply(messages, SUPERVISOR_TOOLS).tool_calls[0].name == "transfer_to_analyst"


def test_tool_messages_without_a_name_are_matched_by_call_id() -> None:
    messages = [SYSTEM, user("train segresnet, then show the leaderboard")]
    record_call(messages, plan_reply(messages, ALL_TOOLS), train_result(), named=False)
    assert plan_reply(messages, ALL_TOOLS).tool_calls[0].name == "leaderboard"


def test_handed_down_task_messages_are_not_new_requests() -> None:
    messages = [SYSTEM, user("train segresnet for 2 epochs, then compare it with the best swinunetr")]
    transfer = plan_reply(messages, SUPERVISOR_TOOLS)
    record_call(messages, transfer, "ok")
    messages.append(user(_args(transfer.tool_calls[0].arguments)["task"]))  # some graphs add the task as a message
    record_call(messages, plan_reply(messages, EXPERIMENTER_TOOLS), train_result(RUN_B))
    reply = plan_reply(messages, SUPERVISOR_TOOLS)
    assert reply.tool_calls[0].name == "transfer_to_analyst"
    assert RUN_B in _args(reply.tool_calls[0].arguments)["task"]


def test_a_user_repeating_an_old_task_text_is_a_new_request() -> None:
    messages = [SYSTEM, user("train segresnet for 2 epochs")]
    transfer = plan_reply(messages, SUPERVISOR_TOOLS)
    record_call(messages, transfer, "ok")
    record_call(messages, plan_reply(messages, EXPERIMENTER_TOOLS), train_result(RUN_A))
    messages.append(assistant_text("Trained."))
    messages.append(user(_args(transfer.tool_calls[0].arguments)["task"]))  # the user asks for the same again
    assert plan_reply(messages, SUPERVISOR_TOOLS).tool_calls[0].name == "transfer_to_experimenter"


def test_a_worker_given_only_its_task_plans_from_it() -> None:
    task = f"compare run {RUN_A} and best:segresnet"
    reply = plan_reply([user(task)], ANALYST_TOOLS)
    assert _args(reply.tool_calls[0].arguments) == {"run_ids": [RUN_A, "best:segresnet"]}


def test_results_from_earlier_requests_do_not_count_as_progress() -> None:
    messages = [*train_history(), user("train segresnet for 2 epochs")]
    assert plan_reply(messages, ALL_TOOLS).tool_calls[0].name == "train_model"


def test_compare_summary_mentions_both_runs() -> None:
    messages = [SYSTEM, user(f"compare run {RUN_A} with run {RUN_B}")]
    record_call(messages, plan_reply(messages, ALL_TOOLS), comparison_result([RUN_A, RUN_B]))
    final = plan_reply(messages, SUPERVISOR_TOOLS)
    assert final.content is not None and RUN_A in final.content and RUN_B in final.content and "0.6000" in final.content
