"""Shared adapter helpers: options errors, patch suggestions and readable type names."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from minivess.errors import ConfigError
from minivess.pipelines.models.base import (
    check_patch_multiple,
    ensure_options,
    nearest_multiple,
    parse_options_for,
    type_name,
)


class _Opts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    width: PositiveInt = Field(default=4, description="A width.")
    mode: Literal["a", "b"] = Field(default="a", description="A mode.")
    rate: float = Field(default=0.5, ge=0.0, le=1.0, description="A rate.")


def test_parse_valid_and_defaults() -> None:
    assert parse_options_for("toy", _Opts, {"width": 8}) == _Opts(width=8)
    assert parse_options_for("toy", _Opts, {}) == _Opts()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"depth": 3}, "unknown toy option 'depth'; allowed options: width, mode, rate"),
        ({"mode": "c"}, "invalid toy option mode='c': Input should be 'a' or 'b'; mode accepts 'a' | 'b'"),
        (
            {"rate": 2},
            "invalid toy option rate=2: Input should be less than or equal to 1; rate accepts float >= 0.0 and <= 1.0",
        ),
    ],
)
def test_parse_errors_name_adapter_field_and_allowed_values(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_options_for("toy", _Opts, raw)
    assert str(info.value) == message


def test_parse_reports_every_bad_option() -> None:
    with pytest.raises(ConfigError) as info:
        parse_options_for("toy", _Opts, {"width": 0, "mode": "z"})
    assert "width=0" in str(info.value)
    assert "mode='z'" in str(info.value)


def test_parse_rejects_non_mapping() -> None:
    with pytest.raises(ConfigError, match="toy options must be a mapping"):
        parse_options_for("toy", _Opts, [("width", 3)])  # type: ignore[arg-type]


@pytest.mark.parametrize(("size", "multiple", "expected"), [(24, 32, 32), (40, 32, 32), (48, 32, 64), (5, 8, 8)])
def test_nearest_multiple(size: int, multiple: int, expected: int) -> None:
    assert nearest_multiple(size, multiple) == expected


def test_check_patch_multiple_accepts_valid() -> None:
    check_patch_multiple("toy", (64, 32, 32), 32)
    check_patch_multiple("toy", (16, 8, 8), 8)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ((96, 96, 24), "toy needs every patch dimension divisible by 32; got (96, 96, 24): try (96, 96, 32)"),
        ((32, 32, 32), "make one dimension at least 64: try (64, 32, 32)"),
        ((32, 40, 32), "try (32, 64, 32)"),
    ],
)
def test_check_patch_multiple_suggests(patch: tuple[int, int, int], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_patch_multiple("toy", patch, 32)
    assert message in str(info.value)


def test_type_names() -> None:
    assert type_name(Literal["x", "y"]) == "'x' | 'y'"
    assert type_name(tuple[PositiveInt, ...]) == "tuple[int > 0, ...]"
    assert type_name(tuple[int, int, int]) == "tuple[int, int, int]"
    assert type_name(bool) == "bool"


def test_ensure_options_type() -> None:
    opts = _Opts()
    assert ensure_options("toy", opts, _Opts) is opts

    class _Other(BaseModel):
        pass

    with pytest.raises(TypeError, match="toy expects _Opts, got _Other"):
        ensure_options("toy", _Other(), _Opts)
