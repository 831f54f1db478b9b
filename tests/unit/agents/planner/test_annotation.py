"""The review loop in the planner: counts checked against the tools' ranges, folders carried along the loop, the
reviewed dataset version as a back-reference, and summaries of the four results."""

from __future__ import annotations

import json
from typing import Any

import pytest

from minivess.agents.planner import current_plan, plan_reply
from minivess.agents.planner.conversation import outcome_of
from minivess.agents.planner.plan import build_plan
from minivess.agents.planner.summary import summarize
from minivess.tools.annotation import (
    FindLabelIssuesResult,
    ImportReviewsResult,
    QueueForReviewResult,
    ReviewStatusResult,
    SliceIssueRow,
)
from minivess.tools.registry import REGISTRY
from tests.unit.agents.planner.support import (
    ALL_TOOLS,
    EXPERIMENTER_TOOLS,
    RUN_A,
    SUPERVISOR_TOOLS,
    SYSTEM,
    assistant_text,
    follow_up,
    planned_steps,
    record_call,
    user,
)

REVIEWED = "/data/x.reviewed-2"


def _imported(dataset_dir: str | None = REVIEWED) -> dict[str, Any]:
    return ImportReviewsResult(
        dataset_dir=dataset_dir, dataset_version="v9f8e7" if dataset_dir else None, parent_dir="/data/x",
        parent_version="v1a2b3", reviews_fetched=12, reviews_applied=12 if dataset_dir else 0,
        voxels_changed=830 if dataset_dir else 0, already_imported=False,
    ).model_dump()  # fmt: skip


def _found(dataset_dir: str = "/data/x") -> dict[str, Any]:
    row = SliceIssueRow(rank=1, volume_id="vol_003", axis=2, slice_index=7, score=0.12, suspicious_fraction=0.4)
    return FindLabelIssuesResult(
        dataset_dir=dataset_dir, dataset_version="v1a2b3", table="/h/labels/v1a2b3.parquet", slices_scored=96,
        fold_runs=["a" * 32, "b" * 32, "c" * 32], top=[row],
    ).model_dump()  # fmt: skip


def _call(messages: list[dict[str, Any]], tools: list[dict[str, Any]] = ALL_TOOLS) -> tuple[str, dict[str, Any]]:
    reply = plan_reply(messages, tools)
    assert len(reply.tool_calls) == 1, reply.content
    call = reply.tool_calls[0]
    REGISTRY.get(call.name).parse(call.arguments)
    return call.name, json.loads(call.arguments)


@pytest.mark.parametrize(
    ("request_text", "named"),
    [("find label issues with 1 fold", ["between 2 and 10", "'1'"]),
     ("find label errors with 50 folds", ["between 2 and 10", "'50'"]),
     ("find label issues with 12-fold cross-validation", ["between 2 and 10", "'12'"]),
     ("find label issues with 2.5 folds", ["whole number", "'2.5'"]),
     ("look for annotation mistakes, -3 epochs per fold", ["between 1 and 200", "'-3'"]),
     ("find label issues with 0 epochs per fold", ["between 1 and 200", "'0'"]),
     ("show the 300 most suspicious slices", ["between 1 and 200", "'300'"]),
     ("queue 1000 slices for review", ["between 1 and 500", "'1000'"]),
     ("queue -5 slices for review", ["between 1 and 500", "'-5'"]),
     ("send the top 0 slices to Label Studio", ["between 1 and 500", "'0'"]),
     ("find label issues with the champion", ["trains its own", "'the champion'"]),
     ("find label issues with swinunetr", ["segresnet", "'swinunetr'"]),
     ("review status of run 3fa2b1c9", ["takes no run"]),
     ("find label issues in it", ["Which dataset folder"]),
     ("queue the top 20 for review with predictions", ["Which run"]),
     ("queue the top 20 for review, showing the champion's and the challenger's predictions", ["one run"]),
     ("train segresnet on the reviewed dataset", ["No reviews have been imported"]),
     ("import 20 reviews", ["'20'"])],
)  # fmt: skip
def test_values_the_tools_cannot_take_get_a_question(request_text: str, named: list[str]) -> None:
    plan = build_plan(request_text, [])
    assert plan.text_kind == "clarify" and not plan.steps, plan
    assert plan.text is not None and "?" in plan.text
    for part in named:
        assert part in plan.text


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [("are the labels of data/x noisy?", ("find_label_issues", {"dataset": "data/x"})),
     ("is the ground truth reliable?", ("find_label_issues", {})),
     ("find label issues with 5-fold cross-validation", ("find_label_issues", {"folds": 5})),
     ("send 20 slices to the reviewers", ("queue_for_review", {"top_k": 20})),
     ("queue top_k=30", ("queue_for_review", {"top_k": 30})),
     ("how far along is the review?", ("review_status", {})),
     ("how many slices are still pending", ("review_status", {})),
     ("what is the review progress on /data/x", ("review_status", {"dataset": "/data/x"})),
     ("apply the corrections", ("import_reviews", {})),
     ("pull the corrected masks back", ("import_reviews", {}))],
)  # fmt: skip
def test_more_everyday_phrasings(request_text: str, expected: tuple[str, dict[str, Any]]) -> None:
    assert planned_steps(request_text) == [expected]


def test_no_number_leaves_the_defaults() -> None:
    assert planned_steps("queue the slices for review") == [("queue_for_review", {})]
    assert planned_steps("find suspicious labels") == [("find_label_issues", {})]
    assert planned_steps("find label issues, 2 epochs per fold with 4 folds, top 15") == [
        ("find_label_issues", {"folds": 4, "epochs": 2, "top": 15})
    ]
    assert planned_steps("find_label_issues folds=4 top=30") == [("find_label_issues", {"folds": 4, "top": 30})]


@pytest.mark.parametrize(
    ("turns", "expected"),
    [(("find label issues with 50 folds", "5"), ("find_label_issues", {"folds": 5})),
     (("queue 1000 slices for review", "100"), ("queue_for_review", {"top_k": 100})),
     (("find label issues with the champion", "drop it"), ("find_label_issues", {})),
     (("find label issues in it", "data/noisy"), ("find_label_issues", {"dataset": "data/noisy"})),
     (("train segresnet on the reviewed dataset", "data/x"),
      ("train_model", {"model": "segresnet", "dataset": "data/x"})),
     (("queue the top 20 for review with predictions", "the champion"),
      ("queue_for_review", {"top_k": 20, "run_id": "champion"}))],
)  # fmt: skip
def test_the_answer_fills_the_value_asked_about(turns: tuple[str, ...], expected: tuple[str, dict[str, Any]]) -> None:
    plan = current_plan(follow_up(*turns))
    assert [(step.tool, step.args) for step in plan.steps] == [expected]


def test_the_review_words_do_not_steal_existing_intents() -> None:
    assert planned_steps("failure summary") == [("failure_summary", {})]
    assert planned_steps("what errors did the last runs have") == [("failure_summary", {})]
    assert planned_steps("status of the last run") == [("get_run", {"run_id": "last"})]
    assert planned_steps("what's the status of run 3fa2b1c9") == [("get_run", {"run_id": "3fa2b1c9"})]
    assert planned_steps("generate 8 volumes with noisy labels")[0][0] == "synthesize_data"
    assert planned_steps("make a dataset with label noise")[0][0] == "synthesize_data"
    assert planned_steps("show the leaderboard, top 5") == [("leaderboard", {"metric": "val_dice", "limit": 5})]
    assert planned_steps("train segresnet on the new dataset") == [("train_model", {"model": "segresnet"})]
    assert planned_steps("SELECT run_id FROM runs WHERE tags LIKE '%import%'")[0][0] == "query_runs"
    assert build_plan("annotate these volumes", []).text_kind == "cannot"
    assert build_plan("open label studio", []).text_kind == "cannot"
    assert build_plan("send the results to bob by email", []).text_kind == "cannot"  # review words waive it, not this


def test_a_chain_keeps_the_folder_and_the_second_step_continues_the_loop() -> None:
    assert planned_steps("find label issues in /data/x and queue the top 10 for review") == [
        ("find_label_issues", {"dataset": "/data/x"}), ("queue_for_review", {"dataset": "/data/x", "top_k": 10})
    ]  # fmt: skip
    assert planned_steps("find label errors, then queue the 30 worst for review with the champion's predictions") == [
        ("find_label_issues", {}), ("queue_for_review", {"top_k": 30, "run_id": "champion"})
    ]  # fmt: skip


def test_later_turns_continue_on_the_folder_the_loop_worked_on() -> None:
    messages = [SYSTEM, user("find label issues in /data/x")]
    record_call(messages, plan_reply(messages, ALL_TOOLS), _found("/data/x"))
    messages += [assistant_text("Scored 96 slices."), user("queue the top 20 for review")]
    assert _call(messages) == ("queue_for_review", {"dataset": "/data/x", "top_k": 20})
    messages[-1] = user("queue the top 20 slices of /data/y for review")  # a folder written wins
    assert _call(messages) == ("queue_for_review", {"dataset": "/data/y", "top_k": 20})
    messages[-1] = user("find label issues with 4 folds")  # a new search starts where the user says, not the old one
    assert _call(messages) == ("find_label_issues", {"folds": 4})


def test_import_then_train_uses_the_new_dataset_version() -> None:
    messages = [SYSTEM, user("import the reviews of /data/x, then train segresnet on the reviewed dataset")]
    assert _call(messages) == ("import_reviews", {"dataset": "/data/x"})
    record_call(messages, plan_reply(messages, ALL_TOOLS), _imported())
    assert _call(messages) == ("train_model", {"model": "segresnet", "dataset": REVIEWED})


def test_an_import_with_nothing_reviewed_stops_before_training_on_a_default() -> None:
    for tools in (ALL_TOOLS, EXPERIMENTER_TOOLS):
        messages = [SYSTEM, user("import the reviews, then train segresnet on it")]
        record_call(messages, plan_reply(messages, tools), _imported(None))
        reply = plan_reply(messages, tools)
        assert not reply.tool_calls and reply.content
        assert "no new dataset version" in reply.content and "No finished reviews" in reply.content


def test_the_supervisor_stops_too_when_the_new_version_is_missing() -> None:
    messages = [SYSTEM, user("import the reviews, then train segresnet on the corrected data")]
    transfer = plan_reply(messages, SUPERVISOR_TOOLS)
    assert transfer.tool_calls[0].name == "transfer_to_experimenter"
    assert "import the finished reviews" in json.loads(transfer.tool_calls[0].arguments)["task"]
    record_call(messages, transfer, "ok")
    record_call(messages, plan_reply(messages, EXPERIMENTER_TOOLS), _imported(None))
    messages.append(assistant_text("Imported nothing."))
    reply = plan_reply(messages, SUPERVISOR_TOOLS)
    assert not reply.tool_calls and reply.content and "no new dataset version" in reply.content


def test_the_reviewed_version_of_an_earlier_turn_is_what_the_reviewed_dataset_means() -> None:
    messages = [SYSTEM, user("import the reviews of /data/x")]
    record_call(messages, plan_reply(messages, ALL_TOOLS), _imported())
    messages += [assistant_text("Imported 12 reviews."), user("train segresnet on the reviewed dataset")]
    assert _call(messages) == ("train_model", {"model": "segresnet", "dataset": REVIEWED})
    messages[-1] = user("find label issues in the corrected dataset with 5 folds")
    assert _call(messages) == ("find_label_issues", {"dataset": REVIEWED, "folds": 5})
    messages[-1] = user("how is the review going?")  # the loop's folder is the source, not the new version
    assert _call(messages) == ("review_status", {"dataset": "/data/x"})


def test_synthesised_data_is_what_them_refers_to() -> None:
    messages = [SYSTEM, user("synthesize 8 volumes with label noise, then find label issues in them")]
    record_call(messages, plan_reply(messages, ALL_TOOLS), {"path": "/h/data/noisy_labels", "n": 8, "shape": [1],
                                                           "preset": "default"})  # fmt: skip
    assert _call(messages) == ("find_label_issues", {"dataset": "/h/data/noisy_labels"})


def test_queue_shows_the_prediction_of_the_run_named_or_of_its_run() -> None:
    assert planned_steps("queue them for review with its predictions", [RUN_A]) == [
        ("queue_for_review", {"run_id": RUN_A})
    ]
    assert planned_steps("queue the top 20 for review with the last run's predictions") == [
        ("queue_for_review", {"top_k": 20, "run_id": "last"})
    ]


def _line(name: str, result: Any) -> str:
    return summarize(outcome_of(name, result if isinstance(result, str) else json.dumps(result)))


def test_summaries_keep_the_numbers_that_matter() -> None:
    found = _line("find_label_issues", _found())
    assert all(part in found for part in ("96 slice(s)", "/data/x", "3 fold model(s)", "vol_003", "slice 7", "0.1200"))
    queued = QueueForReviewResult(project_id=3, project_title="minivess x v1a2b3", dataset_version="v1a2b3",
                                  queued=18, already_queued=2, total_tasks=20, url="http://ls/projects/3")  # fmt: skip
    assert all(part in _line("queue_for_review", queued.model_dump()) for part in ("18", "2 already", "/projects/3"))
    status = ReviewStatusResult(project_id=3, project_title="minivess x", dataset_version="v1a2b3", tasks=20,
                                reviewed=12, skipped=1, pending=7, imported_versions=["v9f8e7"])  # fmt: skip
    assert all(part in _line("review_status", status.model_dump()) for part in ("12 reviewed", "7 pending", "v9f8e7"))
    assert all(part in _line("import_reviews", _imported()) for part in ("12 of 12", "830", REVIEWED, "v9f8e7"))
    assert "No finished reviews" in _line("import_reviews", _imported(None))
