"""SwinUNETR adapter: one forward at its smallest valid patch, options, patch rules, checkpointing flag."""

from __future__ import annotations

import pytest
import torch
from monai.networks.nets.swin_unetr import SwinTransformerBlock, SwinUNETR

from minivess.errors import ConfigError
from minivess.pipelines.models.base import count_parameters
from minivess.pipelines.models.swinunetr import SwinUNETRAdapter, SwinUNETROptions

ADAPTER = SwinUNETRAdapter()


def _infer(model: torch.nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        out: torch.Tensor = model(torch.randn(*shape))
    return out


def test_forward_at_min_patch() -> None:
    options = ADAPTER.parse_options({})
    patch = ADAPTER.min_patch(options)
    assert patch == (64, 32, 32)
    model = ADAPTER.build(options, patch_size=patch)
    out = _infer(model, (1, 1, *patch))
    assert out.shape == (1, 2, *patch)
    assert out.dtype == torch.float32


def test_32_cube_is_rejected_because_monai_fails_there() -> None:
    options = ADAPTER.parse_options({})
    with pytest.raises(ConfigError, match=r"single voxel at the bottleneck.*try \(64, 32, 32\)"):
        ADAPTER.validate_patch((32, 32, 32), options)
    model = SwinUNETR(in_channels=1, out_channels=2, feature_size=12)
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        _infer(model, (1, 1, 32, 32, 32))


def test_defaults_and_parameter_count() -> None:
    options = ADAPTER.parse_options({})
    assert options == SwinUNETROptions()
    assert options.feature_size == 12
    assert (options.depths, options.num_heads) == ((2, 2, 2, 2), (3, 6, 12, 24))
    assert count_parameters(ADAPTER.build(options)) == 4_078_064


@pytest.mark.parametrize(
    ("raw", "fragments"),
    [
        (
            {"feature_size": 13},
            ["feature_size must be a multiple of 12", "got 13: try 12 or 24", "swinunetr"],
        ),
        ({"feature_size": 6}, ["multiple of 12", "try 12"]),
        ({"num_heads": [3, 6, 12, 25]}, ["num_heads[3]=25 does not divide", "96 channels"]),
        ({"depths": [2, 2]}, ["depths=[2, 2]", "at least 4 items"]),
        ({"img_size": [96, 96, 96]}, ["unknown swinunetr option 'img_size'", "feature_size, depths"]),
        ({"use_checkpoint": True}, ["unknown swinunetr option 'use_checkpoint'"]),
        ({"drop_rate": -0.1}, ["drop_rate=-0.1", ">= 0.0 and <= 1.0"]),
    ],
)
def test_invalid_options(raw: dict[str, object], fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        ADAPTER.parse_options(raw)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        (
            (96, 96, 24),
            "swinunetr needs every patch dimension divisible by 32; got (96, 96, 24): try (96, 96, 32)",
        ),
        ((64, 64, 40), "try (64, 64, 32)"),
        ((64, 64, 48), "try (64, 64, 64)"),
        ((20, 20, 20), "try (64, 32, 32)"),
    ],
)
def test_invalid_patch_suggests_nearest(patch: tuple[int, int, int], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        ADAPTER.validate_patch(patch, ADAPTER.parse_options({}))
    assert fragment in str(info.value)


@pytest.mark.parametrize("patch", [(64, 64, 32), (96, 96, 32), (32, 32, 64)])
def test_valid_patches(patch: tuple[int, int, int]) -> None:
    ADAPTER.validate_patch(patch, ADAPTER.parse_options({}))


def test_patch_multiple_is_32() -> None:
    assert ADAPTER.patch_multiple(ADAPTER.parse_options({"feature_size": 24})) == 32


@pytest.mark.parametrize("enabled", [True, False])
def test_grad_checkpointing_maps_to_use_checkpoint(enabled: bool) -> None:
    assert ADAPTER.supports_grad_checkpointing
    model = ADAPTER.build(ADAPTER.parse_options({}), grad_checkpointing=enabled)
    blocks = [m for m in model.modules() if isinstance(m, SwinTransformerBlock)]
    assert len(blocks) == sum(SwinUNETROptions().depths)
    assert all(block.use_checkpoint is enabled for block in blocks)


def test_options_are_passed_to_monai() -> None:
    options = ADAPTER.parse_options({"feature_size": 24, "depths": [1, 1, 1, 1], "use_v2": True, "norm": "batch"})
    model = ADAPTER.build(options, in_channels=2, out_channels=3)
    assert isinstance(model, SwinUNETR)
    assert model.swinViT.embed_dim == 24
    assert model.swinViT.use_v2 is True
    assert len([m for m in model.modules() if isinstance(m, SwinTransformerBlock)]) == 4
    assert any(isinstance(m, torch.nn.BatchNorm3d) for m in model.modules())
    assert model.out.conv.conv.out_channels == 3


@pytest.mark.slow
def test_checkpointed_backward_matches_plain() -> None:
    options = ADAPTER.parse_options({"depths": [1, 1, 1, 1]})  # one block per stage halves the cost
    plain = ADAPTER.build(options)
    checkpointed = ADAPTER.build(options, grad_checkpointing=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(1, 1, 64, 32, 32)
    grads = []
    for model in (plain, checkpointed):
        model.train()
        model(x).square().mean().backward()
        grads.append([p.grad for p in model.parameters()])
    for plain_grad, ckpt_grad in zip(grads[0], grads[1], strict=True):
        assert plain_grad is not None and ckpt_grad is not None
        torch.testing.assert_close(plain_grad, ckpt_grad)
