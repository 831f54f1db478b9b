"""DynUNet adapter: nnU-Net-style planning against hand-worked cases, shape grid, options and limits."""

from __future__ import annotations

import json

import pytest
import torch
from monai.networks.nets.dynunet import DynUNet

from minivess.errors import ConfigError
from minivess.pipelines.models.base import count_parameters
from minivess.pipelines.models.dynunet import DynUNetAdapter, DynUNetOptions, DynUNetPlan, plan_dynunet

ADAPTER = DynUNetAdapter()
ISO = (3, 3, 3)
HALVE = (2, 2, 2)


def _infer(model: torch.nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        out: torch.Tensor = model(torch.randn(*shape))
    return out


def test_plan_isotropic_default_patch() -> None:
    # 64 -> 32 -> 16 -> 8 -> 4 on X/Y; Z 32 -> 16 -> 8 -> 4 then stops (4 < 2 * min_size).
    plan = plan_dynunet((64, 64, 32))
    assert plan.strides == [(1, 1, 1), HALVE, HALVE, HALVE, (2, 2, 1)]
    assert plan.kernel_size == [ISO] * 5
    assert plan.depth == 4
    assert plan.divisors == (16, 16, 8)
    assert plan.upsample_kernel_size == plan.strides[1:]


def test_plan_anisotropic_spacing() -> None:
    # Z is 4x coarser: no Z kernel or stride until X/Y spacing, doubled by pooling, is within 2x of it.
    plan = plan_dynunet((128, 128, 16), spacing=(0.5, 0.5, 2.0))
    assert plan.strides == [(1, 1, 1), (2, 2, 1), HALVE, HALVE, (2, 2, 1), (2, 2, 1)]
    assert plan.kernel_size == [(3, 3, 1), ISO, ISO, ISO, ISO, ISO]
    assert plan.divisors == (32, 32, 4)


def test_plan_respects_max_depth_and_min_size() -> None:
    assert plan_dynunet((256, 256, 256), max_depth=3).depth == 3
    assert plan_dynunet((64, 64, 64), min_size=8).strides == [(1, 1, 1), HALVE, HALVE, HALVE]


def test_plan_skips_odd_axes() -> None:
    # Z (odd) never pools and keeps the finest spacing; it must not stop X/Y from pooling (nnU-Net v2),
    # and X/Y keep kernel 3 although their spacing is then 4x coarser than Z's.
    plan = plan_dynunet((32, 32, 15))
    assert plan.strides == [(1, 1, 1), (2, 2, 1), (2, 2, 1), (2, 2, 1)]
    assert plan.kernel_size == [ISO] * 4
    assert plan.divisors == (8, 8, 1)


def test_plan_is_a_json_artifact() -> None:
    plan = plan_dynunet((32, 32, 16), spacing=(1.0, 1.0, 2.0))
    restored = DynUNetPlan.model_validate(json.loads(plan.model_dump_json()))
    assert restored == plan


@pytest.mark.parametrize("spacing", [(0.0, 1.0, 1.0), (1.0, -1.0, 1.0)])
def test_plan_rejects_bad_spacing(spacing: tuple[float, float, float]) -> None:
    with pytest.raises(ConfigError, match="positive voxel spacings"):
        plan_dynunet((32, 32, 32), spacing=spacing)


@pytest.mark.parametrize("shape", [(1, 1, 16, 16, 16), (2, 1, 32, 32, 16), (1, 1, 32, 32, 32)])
def test_output_shape_and_dtype(shape: tuple[int, int, int, int, int]) -> None:
    batch, _, x, y, z = shape
    model = ADAPTER.build(ADAPTER.parse_options({}), patch_size=(x, y, z))
    out = _infer(model, shape)
    assert out.shape == (batch, 2, x, y, z)
    assert out.dtype == torch.float32


def test_anisotropic_build_uses_plan() -> None:
    options = ADAPTER.parse_options({"res_block": True})
    model = ADAPTER.build(options, in_channels=2, out_channels=3, patch_size=(32, 32, 8), spacing=(1.0, 1.0, 3.0))
    assert isinstance(model, DynUNet)
    assert model.kernel_size[0] == (3, 3, 1)
    assert model.strides == ADAPTER.plan(options, (32, 32, 8), (1.0, 1.0, 3.0)).strides
    assert _infer(model, (1, 2, 32, 32, 8)).shape == (1, 3, 32, 32, 8)


def test_defaults_filters_and_parameter_count() -> None:
    options = ADAPTER.parse_options({})
    assert options == DynUNetOptions()
    assert (options.filters_base, options.deep_supervision, options.res_block) == (16, False, False)
    model = ADAPTER.build(options)  # default patch (64, 64, 32): depth 4, five levels
    assert isinstance(model, DynUNet)
    assert list(model.filters) == [16, 32, 64, 128, 256]
    assert count_parameters(model) == 5_515_090
    capped = ADAPTER.build(ADAPTER.parse_options({"filters_base": 32, "max_filters": 128}))
    assert isinstance(capped, DynUNet)
    assert list(capped.filters) == [32, 64, 128, 128, 128]


def test_deep_supervision_stacks_heads_in_training_only() -> None:
    model = ADAPTER.build(
        ADAPTER.parse_options({"deep_supervision": True, "deep_supr_num": 2}), patch_size=(32, 32, 16)
    )
    model.train()
    assert model(torch.randn(2, 1, 32, 32, 16)).shape == (2, 3, 2, 32, 32, 16)
    assert _infer(model, (2, 1, 32, 32, 16)).shape == (2, 2, 32, 32, 16)


def test_too_many_deep_supervision_heads() -> None:
    options = ADAPTER.parse_options({"deep_supervision": True, "deep_supr_num": 2})
    with pytest.raises(ConfigError, match="deep_supr_num=2 must be below the planned depth 2"):
        ADAPTER.build(options, patch_size=(16, 16, 16))


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        ((8, 8, 8), "allows 1 (an axis is halved only while even and >= 2 * min_size); try (16, 16, 16)"),
        ((15, 15, 15), "allows 0"),
        ((64, 64, 0), "three positive integers"),
    ],
)
def test_invalid_patch(patch: tuple[int, int, int], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        ADAPTER.validate_patch(patch, ADAPTER.parse_options({}))
    assert fragment in str(info.value)


def test_min_patch_is_valid_at_any_spacing() -> None:
    options = ADAPTER.parse_options({})
    patch = ADAPTER.min_patch(options)
    assert patch == (16, 16, 16)
    for spacing in [(1.0, 1.0, 1.0), (1.0, 1.0, 5.0), (0.3, 2.0, 9.0)]:
        ADAPTER.validate_patch(patch, options, spacing=spacing)


def test_patch_multiple_bounds_every_plan() -> None:
    options = ADAPTER.parse_options({})
    multiple = ADAPTER.patch_multiple(options)
    assert multiple == 32
    for patch in [(64, 64, 32), (256, 256, 256), (96, 48, 24)]:
        assert all(multiple % d == 0 for d in ADAPTER.plan(options, patch).divisors)


def test_grad_checkpointing_is_rejected() -> None:
    assert not ADAPTER.supports_grad_checkpointing
    with pytest.raises(ConfigError, match="dynunet does not support gradient checkpointing"):
        ADAPTER.build(ADAPTER.parse_options({}), grad_checkpointing=True)


@pytest.mark.parametrize(
    ("raw", "fragments"),
    [
        ({"filters_base": 0}, ["dynunet option filters_base=0", "greater than 0"]),
        ({"max_depth": 1}, ["max_depth=1", "int >= 2 and <= 8"]),
        ({"kernels": [3, 3]}, ["unknown dynunet option 'kernels'", "filters_base, max_filters"]),
        ({"norm": "layer"}, ["norm='layer'", "'instance' | 'batch'"]),
    ],
)
def test_invalid_options(raw: dict[str, object], fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        ADAPTER.parse_options(raw)
    for fragment in fragments:
        assert fragment in str(info.value)
