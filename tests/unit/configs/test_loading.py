from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivess.configs.experiment import ExperimentConfig
from minivess.configs.loading import apply_overrides, available_presets, flatten, load_experiment
from minivess.errors import ConfigError


def test_defaults_and_overrides() -> None:
    cfg = load_experiment(
        None,
        ["trainer.epochs=5", "optim.lr=1e-4", "data.patch_size=[32,32,16]", "model.options.init_filters=16"],
    )
    assert cfg.trainer.epochs == 5
    assert cfg.optim.lr == pytest.approx(1e-4)
    assert cfg.data.patch_size == (32, 32, 16)
    assert cfg.model.options == {"init_filters": 16}


def test_every_shipped_preset_loads() -> None:
    presets = available_presets()
    assert {"segresnet_tiny", "segresnet_cldice", "swinunetr_small", "dynunet_nnunet"} <= set(presets)
    for name in presets:
        assert isinstance(load_experiment(name), ExperimentConfig)


def test_yaml_path_preset(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("trainer:\n  epochs: 7\n")
    assert load_experiment(path).trainer.epochs == 7


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("trainer.epoch=2", r"unknown config key 'trainer.epoch'. Did you mean 'trainer.epochs'"),
        ("nope=1", "unknown config key 'nope'"),
        ("optim.lr=-1", r"optim.lr: Input should be greater than 0"),
        ("trainer.epochs", "must look like section.key=value"),
        ("loss.name=focal", "loss.name: Input should be 'dice_ce' or 'dice_ce_cldice'"),
        ("optim.lr.x=1", "is a value, not a section"),
    ],
)
def test_bad_overrides_give_one_clear_line(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_experiment(None, [override])
    assert "\n" not in str(info.value)


def test_unknown_preset_lists_available() -> None:
    with pytest.raises(ConfigError, match="unknown preset 'nope'; available: .*segresnet_tiny"):
        load_experiment("nope")


def test_flatten_uses_dotted_keys() -> None:
    flat = flatten(load_experiment(None, ["model.options.init_filters=16"]))
    assert flat["model.options.init_filters"] == "16"
    assert flat["data.patch_size"] == "64,64,16"
    assert flat["trainer.early_stopping.metric"] == "val_dice"


@settings(max_examples=60, deadline=None)
@given(epochs=st.integers(1, 10_000), lr=st.floats(1e-8, 10, allow_nan=False), seed=st.integers(-1000, 1000))
def test_valid_values_round_trip(epochs: int, lr: float, seed: int) -> None:
    cfg = load_experiment(None, [f"trainer.epochs={epochs}", f"optim.lr={lr!r}", f"trainer.seed={seed}"])
    assert (cfg.trainer.epochs, cfg.optim.lr, cfg.trainer.seed) == (epochs, lr, seed)
    assert apply_overrides({}, []) == {}
