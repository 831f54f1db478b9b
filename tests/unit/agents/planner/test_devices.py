"""The training device a user names is used or asked about: "train dynunet on gpu1" had trained on the default
device and dropped "gpu1" without a word (left alone in stop 36's note)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from minivess.agents.planner.plan import build_plan
from minivess.tools.training import TrainModelArgs, train_values


@pytest.mark.parametrize(
    ("request_text", "device"),
    [
        ("train dynunet on gpu1", "cuda:1"),
        ("train swinunetr on gpu 2 with lr 1e-3", "cuda:2"),
        ("train segresnet on cuda:0", "cuda:0"),
        ("train segresnet on the GPU for 3 epochs", "cuda"),
        ("train segresnet using cuda", "cuda"),
        ("train segresnet on the cpu, 4 epochs", "cpu"),
        ("train segresnet cpu-only", "cpu"),
        ("train dynunet on mps", "mps"),
        ("train segresnet device=cuda:1", "cuda:1"),
    ],
)
def test_a_named_device_reaches_train_model(request_text: str, device: str) -> None:
    plan = build_plan(request_text, [])
    [step] = plan.steps
    assert step.tool == "train_model" and step.args["device"] == device
    assert TrainModelArgs.model_validate(step.args).device == device  # the tool's schema takes what was planned


def test_other_numbers_beside_a_device_are_still_used() -> None:
    [step] = build_plan("train swinunetr on gpu 2 for 6 epochs", []).steps
    assert step.args == {"model": "swinunetr", "device": "cuda:2", "epochs": 6}


@pytest.mark.parametrize(
    ("request_text", "named"),
    [
        ("train segresnet on a tpu", "'tpu'"),
        ("train segresnet on 2 gpus", "'2 gpus'"),
        ("train dynunet across both gpus", "'both gpus'"),
    ],
)
def test_a_device_training_cannot_use_is_a_question_naming_it(request_text: str, named: str) -> None:
    plan = build_plan(request_text, [])
    assert not plan.steps and plan.text_kind == "clarify"
    assert plan.text is not None and named in plan.text and "cuda:N" in plan.text


def test_no_device_word_leaves_the_default_and_the_tool_sets_the_config_value() -> None:
    [step] = build_plan("train segresnet for 2 epochs", []).steps
    assert "device" not in step.args
    assert "trainer.device" not in train_values(TrainModelArgs(model="segresnet"))
    assert train_values(TrainModelArgs(model="segresnet", device="cuda:1"))["trainer.device"] == "cuda:1"
    with pytest.raises(ValidationError):
        TrainModelArgs(model="segresnet", device="gpu1")  # the schema says what a device is
