"""Tests for the per-volume entry point and the summary used by the training engine."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from minivess.pipelines.metrics import (
    METRIC_NAMES,
    VolumeMetrics,
    cldice_score,
    compute_volume_metrics,
    dice_score,
    field_of_view_diagonal_um,
    hausdorff_distance_95,
    normalized_surface_dice,
    summarise,
)
from tests.unit.pipelines.metrics.synthetic import perturb, tubes

SPACING = (0.7, 0.7, 2.0)


def test_matches_the_individual_metrics() -> None:
    target = tubes((32, 32, 16), seed=2)
    pred = perturb(target, seed=3)
    got = compute_volume_metrics(pred, target, SPACING, nsd_tolerance_um=1.5)
    assert got == VolumeMetrics(
        dice=dice_score(pred, target),
        cldice=cldice_score(pred, target),
        nsd=normalized_surface_dice(pred, target, SPACING, 1.5),
        hd95=hausdorff_distance_95(pred, target, SPACING),
    )
    assert 0 < got.dice < 1 and 0 < got.cldice < 1 and 0 < got.nsd < 1 and got.hd95 > 0


def test_tolerance_default_is_2um() -> None:
    target = tubes((24, 24, 12), seed=4)
    pred = perturb(target, seed=5)
    default = compute_volume_metrics(pred, target, SPACING)
    assert default.nsd == normalized_surface_dice(pred, target, SPACING, 2.0)
    assert compute_volume_metrics(pred, target, SPACING, nsd_tolerance_um=0.1).nsd < default.nsd


def test_probabilities_from_torch() -> None:
    target = tubes((24, 24, 12), seed=6)
    probs = torch.from_numpy(np.where(target, 0.9, 0.1))
    got = compute_volume_metrics(probs, torch.from_numpy(target), SPACING, threshold=0.5)
    assert got == VolumeMetrics(dice=1.0, cldice=1.0, nsd=1.0, hd95=0.0)


def test_empty_prediction_keeps_every_value_finite() -> None:
    target = tubes((24, 24, 12), seed=7)
    got = compute_volume_metrics(np.zeros_like(target), target, SPACING)
    assert got.dice == 0.0 and got.cldice == 0.0 and got.nsd == 0.0
    assert got.hd95 == pytest.approx(field_of_view_diagonal_um(target.shape, SPACING))
    both_empty = compute_volume_metrics(np.zeros_like(target), np.zeros_like(target), SPACING)
    assert both_empty == VolumeMetrics(dice=1.0, cldice=1.0, nsd=1.0, hd95=0.0)


@pytest.mark.parametrize(
    ("pred_shape", "target_shape", "message"),
    [((8, 8, 4), (8, 8, 5), "same shape"), ((8, 8), (8, 8), "3 spatial dimensions")],
)
def test_bad_shapes(pred_shape: tuple[int, ...], target_shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compute_volume_metrics(np.zeros(pred_shape, bool), np.zeros(target_shape, bool), SPACING[: len(pred_shape)])


def test_bad_spacing_and_tolerance() -> None:
    vol = tubes((16, 16, 8), seed=0)
    with pytest.raises(ValueError, match="spacing"):
        compute_volume_metrics(vol, vol, (1.0, 1.0))
    with pytest.raises(ValueError, match="tolerance_um"):
        compute_volume_metrics(vol, vol, SPACING, nsd_tolerance_um=-1.0)


def test_volume_metrics_model_is_strict_and_frozen() -> None:
    m = VolumeMetrics(dice=0.5, cldice=0.5, nsd=0.5, hd95=1.0)
    with pytest.raises(ValidationError):
        VolumeMetrics(dice=0.5, cldice=0.5, nsd=0.5, hd95=1.0, extra=1.0)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        m.dice = 1.0  # type: ignore[misc]
    assert METRIC_NAMES == ("dice", "cldice", "nsd", "hd95")


def test_summarise_means() -> None:
    a = VolumeMetrics(dice=0.8, cldice=0.9, nsd=0.7, hd95=2.0)
    b = VolumeMetrics(dice=0.6, cldice=0.5, nsd=0.9, hd95=4.0)
    assert summarise([a, b]) == pytest.approx({"dice": 0.7, "cldice": 0.7, "nsd": 0.8, "hd95": 3.0})


def test_summarise_ignores_nan_and_keeps_all_nan() -> None:
    a = VolumeMetrics(dice=0.8, cldice=math.nan, nsd=0.7, hd95=math.nan)
    b = VolumeMetrics(dice=0.6, cldice=0.5, nsd=math.nan, hd95=math.nan)
    got = summarise([a, b])
    assert got["dice"] == pytest.approx(0.7)
    assert got["cldice"] == pytest.approx(0.5)
    assert got["nsd"] == pytest.approx(0.7)
    assert math.isnan(got["hd95"])


def test_summarise_empty_raises() -> None:
    with pytest.raises(ValueError, match="at least one"):
        summarise([])
