"""The catalog is the one source of model and worker facts: everything that restates it must agree with it."""

from __future__ import annotations

import pytest

from minivess import catalog
from minivess.configs.loading import load_experiment
from minivess.pipelines.models.registry import ADAPTERS
from minivess.tools.registry import REGISTRY
from minivess.tools.training import TrainModelArgs, estimate_train_minutes


@pytest.mark.parametrize("name", catalog.MODEL_NAMES)
def test_each_model_entry_matches_its_adapter_and_preset(name: str) -> None:
    entry = catalog.model_entry(name)
    assert ADAPTERS[name].name == name
    preset = load_experiment(entry.preset)
    assert preset.model.name == name
    assert preset.trainer.epochs == entry.preset_epochs
    minutes = estimate_train_minutes(TrainModelArgs(model=name))
    assert minutes == pytest.approx(entry.preset_epochs * entry.cpu_seconds_per_epoch / 60)


def test_the_train_tool_offers_exactly_the_catalogued_models() -> None:
    schema = REGISTRY.get("train_model").schema()["function"]["parameters"]["properties"]["model"]
    assert schema["enum"] == list(catalog.MODEL_NAMES)
    with pytest.raises(ValueError, match="unknown model"):
        TrainModelArgs(model="unetr")


def test_every_worker_tool_is_registered_once() -> None:
    offered = [name for names in catalog.WORKER_TOOLS.values() for name in names]
    assert offered == REGISTRY.names() and len(set(offered)) == len(offered)
    assert all(catalog.worker_for(name) in catalog.WORKERS for name in offered)
