"""Tests for the WeightWatcher weight-quality report and gate: adapters, the Conv3d mapping, the gate rule."""

from __future__ import annotations

import math
import warnings
from typing import Any

import pytest
import torch
from pydantic import ValidationError
from torch import nn

from minivess.pipelines.models.registry import get_adapter
from minivess.pipelines.uncertainty.weight_quality import (
    WEIGHT_LAYER_TYPES,
    GateRule,
    LayerQuality,
    WeightReport,
    analyse_weights,
    evaluate_gate,
)


def _raw_weightwatcher_alpha(model: nn.Module) -> list[float]:
    """Alphas straight from WeightWatcher on a model it can handle, for comparison."""
    weightwatcher: Any = pytest.importorskip("weightwatcher")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="weightwatcher")  # pandas deprecations, one per layer
        details = weightwatcher.WeightWatcher(model=model).analyze(plot=False, randomize=False, mp_fit=False)
    return [float(alpha) for alpha in details["alpha"]]


# --------------------------------------------------------------------------- our adapters


@pytest.mark.parametrize(
    ("adapter", "options", "patch", "native_crashes"),
    [
        ("segresnet", {"init_filters": 8}, (32, 32, 16), True),
        ("dynunet", {"filters_base": 8, "max_filters": 64}, (32, 32, 16), False),
        ("swinunetr", {"feature_size": 12, "depths": (1, 1, 1, 1)}, (64, 32, 32), True),
    ],
)
def test_adapters_are_covered_beyond_native(
    adapter: str, options: dict[str, Any], patch: tuple[int, int, int], native_crashes: bool
) -> None:
    torch.manual_seed(0)
    spec = get_adapter(adapter)
    model = spec.build(spec.parse_options(options), patch_size=patch)
    report = analyse_weights(model)

    assert report.weight_layers_total == sum(isinstance(m, WEIGHT_LAYER_TYPES) for m in model.modules())
    assert report.native_layers_analysed == 0  # Conv3d is skipped; affine-less InstanceNorm3d crashes WeightWatcher
    assert (report.native_error is not None) is native_crashes
    assert report.layers_analysed > report.native_layers_analysed
    assert report.layers_analysed >= 0.9 * report.weight_layers_total
    assert report.alpha_weighted is not None and math.isfinite(report.alpha_weighted)
    assert report.mean_alpha is not None and math.isfinite(report.mean_alpha)
    for row in report.layers:
        module = model.get_submodule(row.name)
        assert type(module).__name__ == row.module_type
        assert isinstance(module.weight, torch.Tensor) and tuple(module.weight.shape) == row.weight_shape
        if row.analysed:
            assert row.alpha is not None and math.isfinite(row.alpha) and row.reason is None
        else:
            assert row.alpha is None and row.reason
    assert any(row.analysed and row.method == "conv3d-as-2d" for row in report.layers)
    assert not any(hasattr(m, "longname") for m in model.modules())  # WeightWatcher tags modules it visits


# --------------------------------------------------------------------------- the Conv3d mapping


@pytest.mark.parametrize(("in_channels", "out_channels"), [(16, 24), (24, 16)])
def test_conv3d_is_analysed_like_the_conv2d_of_its_slices(in_channels: int, out_channels: int) -> None:
    torch.manual_seed(1)
    conv3d = nn.Conv3d(in_channels, out_channels, 3)
    conv2d = nn.Conv2d(in_channels, out_channels, (9, 3))
    with torch.no_grad():
        conv2d.weight.copy_(conv3d.weight.reshape(out_channels, in_channels, 9, 3))
    row = analyse_weights(nn.Sequential(conv3d)).layers[0]
    assert row.method == "conv3d-as-2d" and row.analysed
    assert row.num_evals == min(in_channels, out_channels) * 27
    assert row.alpha == pytest.approx(_raw_weightwatcher_alpha(nn.Sequential(conv2d))[0], rel=1e-6)


def test_native_layers_match_weightwatcher_and_count_as_native() -> None:
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(12, 20, 3), nn.Flatten(), nn.Linear(40, 30))
    report = analyse_weights(model)
    assert report.native_layers_analysed == report.layers_analysed == 2 and report.native_error is None
    assert [row.method for row in report.layers] == ["native", "native"]
    assert [row.alpha for row in report.layers] == pytest.approx(_raw_weightwatcher_alpha(model), rel=1e-6)


def test_weight_none_module_crash_is_worked_around() -> None:
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(30, 40), nn.InstanceNorm3d(4), nn.ConvTranspose3d(16, 24, 2))
    report = analyse_weights(model)
    assert report.native_layers_analysed == 0
    assert report.native_error is not None and "AttributeError" in report.native_error
    assert report.layers_analysed == 2
    assert report.layers[1].method == "conv3d-as-2d" and report.layers[1].num_evals == 16 * 8


def test_small_layers_are_reported_not_fitted() -> None:
    model = nn.Sequential(nn.Conv3d(8, 2, 1), nn.Conv3d(8, 8, (2, 1, 1)))
    small, enough = analyse_weights(model, measure_native=False).layers
    assert not small.analysed and small.alpha is None
    assert small.reason == "too small for a power-law fit: 2 eigenvalues < min_evals=8"
    assert enough.analysed and enough.num_evals == 16
    assert not analyse_weights(model, min_evals=17, measure_native=False).layers[1].analysed


def test_model_without_weight_layers() -> None:
    report = analyse_weights(nn.Sequential(nn.ReLU()))
    assert (report.weight_layers_total, report.layers_analysed, report.alpha_weighted) == (0, 0, None)
    assert not evaluate_gate(report).passed


# --------------------------------------------------------------------------- the gate


def _report(alphas: list[float | None], alpha_weighted: float = 1.0) -> WeightReport:
    rows = [
        LayerQuality(
            name=f"block{index}.conv",
            module_type="Conv3d",
            weight_shape=(16, 16, 3, 3, 3),
            method="conv3d-as-2d",
            num_evals=432,
            analysed=alpha is not None,
            alpha=alpha,
            alpha_weighted=None if alpha is None else alpha_weighted,
            reason=None if alpha is not None else "too small",
        )
        for index, alpha in enumerate(alphas)
    ]
    analysed = [alpha for alpha in alphas if alpha is not None]
    return WeightReport(
        alpha_weighted=alpha_weighted if analysed else None,
        mean_alpha=sum(analysed) / len(analysed) if analysed else None,
        layers=rows,
        layers_analysed=len(analysed),
        weight_layers_total=len(rows),
        native_layers_analysed=0,
        min_evals=8,
        seconds=0.1,
    )


def test_gate_passes_well_trained_layers_with_inclusive_bounds() -> None:
    result = evaluate_gate(_report([2.0, 3.5, 4.0, 6.0, 5.1]))
    assert result.passed and result.reasons == [] and result.fraction_outside == 0.0


def test_gate_allows_a_fraction_outside() -> None:
    result = evaluate_gate(_report([3.0, 3.0, 3.0, 3.0, 9.0]))  # 20% outside = the default limit
    assert result.passed and result.layers_outside == ["block4.conv"]


def test_gate_fails_on_too_many_layers_outside() -> None:
    result = evaluate_gate(_report([3.0, 1.5, 3.0, 12.0, 4.0]))
    assert not result.passed
    assert result.fraction_outside == pytest.approx(0.4)
    assert result.layers_outside == ["block1.conv", "block3.conv"]
    assert len(result.reasons) == 1 and "2 of 5 analysed layers (40%)" in result.reasons[0]


def test_gate_fails_on_low_coverage_and_alpha_weighted() -> None:
    result = evaluate_gate(_report([3.0, None, None, None], alpha_weighted=9.0), GateRule(max_alpha_weighted=5.0))
    assert not result.passed and result.coverage == 0.25
    assert any("only 1 of 4 weight layers" in reason for reason in result.reasons)
    assert any("alpha_weighted 9 exceeds" in reason for reason in result.reasons)
    assert evaluate_gate(_report([3.0, None, None, None]), GateRule(min_coverage=0.25)).passed


def test_gate_rule_validation() -> None:
    with pytest.raises(ValidationError, match="extra"):
        GateRule.model_validate({"alpha_maximum": 5})
    with pytest.raises(ValidationError, match="must not exceed"):
        GateRule(alpha_min=6, alpha_max=2)
