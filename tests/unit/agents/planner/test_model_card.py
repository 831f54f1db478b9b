"""The model card in the planner: phrasings, the champion by default, 'it' after a run, plan text, summary."""

from __future__ import annotations

import json

import pytest

from minivess.agents.planner import plan_reply
from minivess.agents.planner.conversation import outcome_of
from minivess.agents.planner.plan import build_plan
from minivess.agents.planner.summary import summarize
from minivess.agents.planner.texts import describe_step
from minivess.tools.governance import ModelCardResult
from tests.unit.agents.planner.support import ALL_TOOLS, RUN_A, SYSTEM, planned_steps, record_call, user


@pytest.mark.parametrize(
    ("text", "model"),
    [("make a model card for the champion", "champion"), ("write the model card of run abc123", "abc123"),
     ("document the production model", "champion"), ("model card of the challenger", "challenger"),
     ("generate a model card", "champion"), ("Write a model-card for the best segresnet", "best:segresnet"),
     (f"document run {RUN_A}", RUN_A), ("model_card model=challenger", "challenger"),
     ("can you create the model cards for our champion?", "champion")],
)  # fmt: skip
def test_phrasings_ask_for_the_model_card(text: str, model: str) -> None:
    assert planned_steps(text) == [("model_card", {"model": model})]


def test_a_model_card_for_the_champion_is_no_promotion() -> None:
    assert planned_steps("make a model card for the champion")[0][0] == "model_card"
    assert planned_steps("make run abc123 the champion")[0][0] == "promote_model"


def test_it_after_a_training_run_is_that_run() -> None:
    messages = [SYSTEM, user("train segresnet for 2 epochs")]
    reply = plan_reply(messages, ALL_TOOLS)
    assert reply.tool_calls[0].name == "train_model"
    record_call(messages, reply, {"run_id": RUN_A, "model": "segresnet", "status": "FINISHED"})
    messages += [
        {"role": "assistant", "content": f"Trained segresnet: run {RUN_A}."},
        user("now write a model card for it"),
    ]
    card = plan_reply(messages, ALL_TOOLS).tool_calls[0]
    assert (card.name, json.loads(card.arguments)) == ("model_card", {"model": RUN_A})


@pytest.mark.parametrize("model", ["champion", "challenger", RUN_A])
def test_the_plan_text_maps_back_to_the_same_step(model: str) -> None:
    step = build_plan(f"model_card model={model}", []).steps[0]
    text = describe_step(step)
    assert text.startswith("write the model card of")
    assert [(s.tool, s.args) for s in build_plan(text, []).steps] == [("model_card", {"model": model})]


def test_the_tool_is_offered_with_its_schema() -> None:
    names = [tool["function"]["name"] for tool in ALL_TOOLS]
    assert "model_card" in names
    reply = plan_reply([SYSTEM, user("make a model card for the champion")], ALL_TOOLS)
    assert [c.name for c in reply.tool_calls] == ["model_card"]


def test_the_summary_names_the_card_and_what_is_missing() -> None:
    result = ModelCardResult(
        run_id=RUN_A, registered_model="minivess-segmenter", version="3", aliases=["champion"],
        model_family="segresnet", markdown="/h/cards/m.md", html="/h/cards/m.html", artifact_path="cards/m.md",
        data_version="abc", dvc_version=None, best_val_dice=0.8, test_dice=0.75, temperature=None,
        test_ece_before=None, test_ece_after=None, conformal_thresholds={}, approvals=["promotion by ana: good"],
        missing=["calibration"],
    )  # fmt: skip
    line = summarize(outcome_of("model_card", result.model_dump_json()))
    assert "minivess-segmenter v3" in line and "test Dice 0.75" in line and "not calibrated" in line
    assert "1 audit entry" in line and "/h/cards/m.html" in line and "calibration" in line
