"""SegResNet adapter: shape grid, options, patch rules, gradient checkpointing and a backward pass."""

from __future__ import annotations

import pytest
import torch
from monai.networks.nets.segresnet import SegResNet

from minivess.errors import ConfigError
from minivess.pipelines.models.base import count_parameters
from minivess.pipelines.models.segresnet import CheckpointedSegResNet, SegResNetAdapter, SegResNetOptions

ADAPTER = SegResNetAdapter()


def _infer(model: torch.nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        out: torch.Tensor = model(torch.randn(*shape))
    return out


@pytest.mark.parametrize("shape", [(1, 1, 16, 16, 16), (2, 1, 32, 32, 16), (1, 1, 32, 32, 32)])
def test_output_shape_and_dtype(shape: tuple[int, int, int, int, int]) -> None:
    batch, _, x, y, z = shape
    model = ADAPTER.build(ADAPTER.parse_options({}), patch_size=(x, y, z))
    out = _infer(model, shape)
    assert out.shape == (batch, 2, x, y, z)
    assert out.dtype == torch.float32


@pytest.mark.parametrize("options", [{"blocks_down": [1, 1, 1], "blocks_up": [1, 1]}, {"init_filters": 4}])
def test_shape_with_other_options(options: dict[str, object]) -> None:
    model = ADAPTER.build(ADAPTER.parse_options(options), in_channels=2, out_channels=3, patch_size=(16, 16, 8))
    assert _infer(model, (1, 2, 16, 16, 8)).shape == (1, 3, 16, 16, 8)


def test_defaults_and_parameter_count() -> None:
    options = ADAPTER.parse_options({})
    assert options == SegResNetOptions()
    assert (options.init_filters, options.blocks_down, options.blocks_up) == (8, (1, 2, 2, 4), (1, 1, 1))
    assert options.norm == "instance"
    model = ADAPTER.build(options)
    assert count_parameters(model) == 1_174_506
    assert isinstance(model, SegResNet)
    assert not isinstance(model, CheckpointedSegResNet)


def test_options_are_passed_to_monai() -> None:
    options = ADAPTER.parse_options({"init_filters": 16, "norm": "batch", "dropout_prob": 0.2})
    model = ADAPTER.build(options)
    assert isinstance(model, SegResNet)
    assert model.init_filters == 16
    assert model.dropout_prob == 0.2
    assert any(isinstance(m, torch.nn.BatchNorm3d) for m in model.modules())
    assert not any(isinstance(m, torch.nn.InstanceNorm3d) for m in model.modules())


@pytest.mark.parametrize(
    ("raw", "fragments"),
    [
        ({"init_filters": -1}, ["segresnet", "init_filters=-1", "greater than 0"]),
        ({"filters": 8}, ["unknown segresnet option 'filters'", "init_filters, blocks_down"]),
        ({"norm": "group"}, ["norm='group'", "'instance' | 'batch'"]),
        ({"dropout_prob": 1.5}, ["dropout_prob=1.5", "< 1.0"]),
        ({"blocks_up": [1, 1]}, ["blocks_up needs len(blocks_down) - 1 = 3 entries", "(1, 1, 1)"]),
    ],
)
def test_invalid_options(raw: dict[str, object], fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        ADAPTER.parse_options(raw)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_patch_multiple_follows_depth() -> None:
    assert ADAPTER.patch_multiple(ADAPTER.parse_options({})) == 8
    shallow = ADAPTER.parse_options({"blocks_down": [1, 1, 1], "blocks_up": [1, 1]})
    assert ADAPTER.patch_multiple(shallow) == 4
    assert ADAPTER.min_patch(shallow) == (8, 4, 4)


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        ((64, 64, 20), "divisible by 8; got (64, 64, 20): try (64, 64, 24)"),
        ((8, 8, 8), "single voxel at the bottleneck"),
        ((0, 16, 16), "three positive integers"),
    ],
)
def test_invalid_patch(patch: tuple[int, int, int], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        ADAPTER.validate_patch(patch, ADAPTER.parse_options({}))
    assert fragment in str(info.value)


def test_min_patch_is_valid_and_smaller_fails_in_monai() -> None:
    options = ADAPTER.parse_options({})
    ADAPTER.validate_patch(ADAPTER.min_patch(options), options)
    model = ADAPTER.build(options)
    _infer(model, (1, 1, *ADAPTER.min_patch(options)))
    # The rejected 8**3 patch really breaks the network: a 1-voxel bottleneck under instance norm.
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        _infer(model, (1, 1, 8, 8, 8))


def test_build_validates_patch() -> None:
    with pytest.raises(ConfigError, match="divisible by 8"):
        ADAPTER.build(ADAPTER.parse_options({}), patch_size=(30, 30, 30))


def test_backward_produces_finite_gradients() -> None:
    model = ADAPTER.build(ADAPTER.parse_options({}))
    model.train()
    out = model(torch.randn(2, 1, 16, 16, 16))
    loss = torch.nn.functional.cross_entropy(out, torch.randint(0, 2, (2, 16, 16, 16)))
    torch.autograd.backward(loss)
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads if g is not None) > 0


def test_grad_checkpointing_matches_plain_model() -> None:
    options = ADAPTER.parse_options({})
    plain = ADAPTER.build(options)
    checkpointed = ADAPTER.build(options, grad_checkpointing=True)
    assert isinstance(checkpointed, CheckpointedSegResNet)
    assert checkpointed.state_dict().keys() == plain.state_dict().keys()
    checkpointed.load_state_dict(plain.state_dict())

    calls: list[str] = []
    # A pre-hook on the level's first layer: recomputation stops early, so the level's own hook may not fire.
    checkpointed.down_layers[1][0].register_forward_pre_hook(lambda *_: calls.append("down1"))
    x = torch.randn(1, 1, 16, 16, 16)
    outputs, grads = [], []
    for model in (plain, checkpointed):
        model.train()
        out = model(x)
        out.square().mean().backward()
        outputs.append(out.detach())
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])

    # Recomputation in backward runs the checkpointed level a second time.
    assert calls == ["down1", "down1"]
    torch.testing.assert_close(outputs[0], outputs[1])
    assert len(grads[0]) == len(grads[1]) == len(list(plain.parameters()))
    for plain_grad, ckpt_grad in zip(grads[0], grads[1], strict=True):
        torch.testing.assert_close(plain_grad, ckpt_grad)


def test_checkpointed_model_skips_recomputation_without_autograd() -> None:
    model = ADAPTER.build(ADAPTER.parse_options({}), grad_checkpointing=True)
    assert isinstance(model, CheckpointedSegResNet)
    calls: list[str] = []
    model.down_layers[1][0].register_forward_pre_hook(lambda *_: calls.append("down1"))
    assert _infer(model, (1, 1, 16, 16, 16)).shape == (1, 2, 16, 16, 16)
    assert calls == ["down1"]


def test_build_rejects_other_adapters_options() -> None:
    from minivess.pipelines.models.dynunet import DynUNetOptions

    with pytest.raises(TypeError, match="segresnet expects SegResNetOptions, got DynUNetOptions"):
        ADAPTER.build(DynUNetOptions())
