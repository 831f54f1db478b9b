"""Registry: lookup, listing, protocol conformance and the option descriptions shown by the CLI."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from minivess.errors import ConfigError
from minivess.pipelines.models.base import ModelAdapter
from minivess.pipelines.models.registry import (
    ADAPTERS,
    DEFAULT_MODEL,
    describe_options,
    get_adapter,
    list_adapters,
)

NAMES = ["dynunet", "segresnet", "swinunetr"]

# Snapshot of every adapter's option names, in declaration order: a change here is a config-format change.
OPTION_NAMES = {
    "dynunet": [
        "filters_base",
        "max_filters",
        "min_size",
        "max_depth",
        "deep_supervision",
        "deep_supr_num",
        "res_block",
        "dropout",
        "norm",
    ],
    "segresnet": ["init_filters", "blocks_down", "blocks_up", "dropout_prob", "norm", "upsample_mode"],
    "swinunetr": [
        "feature_size",
        "depths",
        "num_heads",
        "window_size",
        "drop_rate",
        "attn_drop_rate",
        "dropout_path_rate",
        "norm",
        "use_v2",
    ],
}


def test_registry_keys_match_adapter_names() -> None:
    assert sorted(ADAPTERS) == NAMES
    assert all(adapter.name == key for key, adapter in ADAPTERS.items())
    assert [adapter.name for adapter in list_adapters()] == NAMES
    assert DEFAULT_MODEL in ADAPTERS


@pytest.mark.parametrize("name", NAMES)
def test_adapters_satisfy_protocol(name: str) -> None:
    adapter = get_adapter(name)
    assert isinstance(adapter, ModelAdapter)
    assert adapter.family and adapter.description
    assert issubclass(adapter.options_model, BaseModel)
    assert adapter.options_model.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("name", ["SegResNet", " swinunetr "])
def test_lookup_ignores_case_and_spaces(name: str) -> None:
    assert get_adapter(name).name == name.strip().lower()


@pytest.mark.parametrize("name", ["unet", "", "segresnet2"])
def test_unknown_model(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        get_adapter(name)
    assert str(info.value) == f"unknown model {name!r}; choose one of: dynunet, segresnet, swinunetr"


@pytest.mark.parametrize("name", NAMES)
def test_describe_options_snapshot(name: str) -> None:
    rows = describe_options(get_adapter(name))
    assert [row["name"] for row in rows] == OPTION_NAMES[name]
    assert all(set(row) == {"name", "type", "default", "description"} for row in rows)
    assert all(row["description"] for row in rows)
    json.dumps(rows)  # JSON-ready for `minivess models list --json`


@pytest.mark.parametrize("name", NAMES)
def test_described_defaults_parse_back_to_defaults(name: str) -> None:
    adapter = get_adapter(name)
    raw = {row["name"]: row["default"] for row in describe_options(adapter)}
    assert adapter.parse_options(raw) == adapter.parse_options({})


def test_describe_options_types() -> None:
    rows = {row["name"]: row for row in describe_options(get_adapter("segresnet"))}
    assert rows["init_filters"]["type"] == "int > 0"
    assert rows["init_filters"]["default"] == 8
    assert rows["blocks_down"]["type"] == "tuple[int > 0, ...]"
    assert rows["blocks_down"]["default"] == [1, 2, 2, 4]
    assert rows["norm"]["type"] == "'instance' | 'batch'"
    assert rows["dropout_prob"]["type"] == "float >= 0.0 and < 1.0"


@pytest.mark.parametrize("name", NAMES)
def test_defaults_build_a_network_for_the_default_patch(name: str) -> None:
    adapter = get_adapter(name)
    options = adapter.parse_options({})
    adapter.validate_patch((64, 64, 32), options)
    adapter.validate_patch(adapter.min_patch(options), options)
    assert adapter.build(options) is not None
