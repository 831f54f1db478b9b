"""Tests for calibration metrics: a hand-computed case, an independent numpy ECE, the ROI and pooling."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from numpy.typing import NDArray
from torchmetrics.functional.classification import binary_calibration_error

from minivess.pipelines.uncertainty.calibration import (
    NLL_EPS,
    CalibrationAccumulator,
    CalibrationMetrics,
    CalibrationReport,
    calibration_metrics,
    foreground_roi,
)

Probs = NDArray[np.float64]
Mask = NDArray[np.bool_]


def _numpy_ece_mce(p: Probs, y: Mask, n_bins: int) -> tuple[float, float]:
    """ECE/MCE written from the definition: bins [k/n, (k+1)/n) and a separate one for p == 1 (torchmetrics')."""
    edges = [k / n_bins for k in range(n_bins + 1)]
    groups = [(p >= lo) & (p < hi) for lo, hi in itertools.pairwise(edges)] + [p == 1.0]
    ece, mce = 0.0, 0.0
    for g in groups:
        if g.any():
            gap = abs(float(p[g].mean()) - float(y[g].mean()))
            ece += g.sum() / p.size * gap
            mce = max(mce, gap)
    return ece, mce


def _volume(seed: int, shape: tuple[int, int, int] = (20, 20, 8)) -> tuple[Probs, Mask]:
    """Over-confident probabilities of a random label, with some exact 0.0 / 1.0 / bin-edge values."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-2.0, 2.0, shape)
    label = rng.random(shape) < 1 / (1 + np.exp(-z))
    prob = 1 / (1 + np.exp(-3 * z))
    flat = prob.reshape(-1)
    flat[:5] = [0.0, 1.0, 1.0, 1 / 15, 0.5]
    return prob, label


def test_hand_computed_case_matches_torchmetrics_docstring() -> None:
    p = np.array([0.25, 0.25, 0.55, 0.75, 0.75])
    y = np.array([0, 0, 1, 1, 1])
    got = calibration_metrics(p, y, n_bins=2)
    # Bin [0, .5): conf .25, freq 0; bin [.5, 1): conf .6833, freq 1 -> ECE .4 * .25 + .6 * .3167 = .29.
    assert got.ece == pytest.approx(0.29, abs=1e-12)
    assert got.mce == pytest.approx(1 - (0.55 + 1.5) / 3, abs=1e-12)
    assert got.brier == pytest.approx((2 * 0.25**2 + 0.45**2 + 2 * 0.25**2) / 5, abs=1e-12)
    assert got.nll == pytest.approx(-(4 * math.log(0.75) + math.log(0.55)) / 5, abs=1e-12)
    assert got.n_voxels == 5


@pytest.mark.parametrize(("seed", "n_bins"), [(0, 15), (1, 10), (2, 1)])
def test_ece_and_mce_match_an_independent_numpy_version(seed: int, n_bins: int) -> None:
    prob, label = _volume(seed)
    got = calibration_metrics(prob, label, n_bins=n_bins)
    ece, mce = _numpy_ece_mce(prob.ravel(), label.ravel(), n_bins)
    assert got.ece == pytest.approx(ece, abs=1e-12)
    assert got.mce == pytest.approx(mce, abs=1e-12)
    assert got.brier == pytest.approx(float(np.mean((prob - label) ** 2)), abs=1e-12)


def test_region_scores_only_its_voxels_and_torch_inputs_work() -> None:
    prob, label = _volume(3)
    region = np.zeros(prob.shape, dtype=np.bool_)
    region[5:15, 5:15] = True
    got = calibration_metrics(torch.from_numpy(prob), torch.from_numpy(label), torch.from_numpy(region))
    assert got == calibration_metrics(prob[region], label[region])
    assert got.n_voxels == int(region.sum())


def test_nll_clips_hard_mistakes_at_eps() -> None:
    got = calibration_metrics(np.array([0.0, 1.0]), np.array([True, False]))
    assert got.nll == pytest.approx(-math.log(NLL_EPS))
    assert got.brier == 1.0 and got.ece == 1.0


def test_empty_region_gives_nan_that_round_trips_through_json() -> None:
    prob, label = _volume(4)
    got = calibration_metrics(prob, label, np.zeros(prob.shape, dtype=np.bool_))
    assert got.n_voxels == 0 and all(math.isnan(v) for v in (got.ece, got.mce, got.brier, got.nll))
    again = CalibrationMetrics.model_validate_json(got.model_dump_json())
    assert again.n_voxels == 0 and math.isnan(again.ece)


def test_foreground_roi_is_the_dilated_union() -> None:
    label = np.zeros((11, 11, 11), dtype=np.bool_)
    label[5, 5, 5] = True
    pred = np.zeros_like(label)
    pred[0, 0, 0] = True
    assert int(foreground_roi(label, np.zeros_like(label), 1).sum()) == 27  # full connectivity: a 3x3x3 cube
    assert int(foreground_roi(label, np.zeros_like(label), 3).sum()) == 343
    roi = foreground_roi(label, pred, 2)
    assert int(roi.sum()) == 125 + 27 and roi[2, 2, 2] and roi[7, 7, 7] and not roi[2, 2, 3]
    np.testing.assert_array_equal(foreground_roi(label, pred, 0), label | pred)
    assert not foreground_roi(np.zeros_like(label), np.zeros_like(label)).any()


def test_accumulator_pools_exactly_over_volumes() -> None:
    volumes = [_volume(seed) for seed in range(3)]
    acc = CalibrationAccumulator(n_bins=15, dilation_voxels=2)
    for i, (prob, label) in enumerate(volumes):
        result = acc.add(prob, label, name=f"vol{i}")
        roi = foreground_roi(label, prob >= 0.5, 2)
        assert result.foreground == calibration_metrics(prob, label, roi)
        assert result.volume == calibration_metrics(prob, label)
    rois = [foreground_roi(label, prob >= 0.5, 2) for prob, label in volumes]
    pooled = acc.pooled()
    for region, select in (("foreground", rois), ("volume", [np.ones_like(r) for r in rois])):
        p = np.concatenate([prob[s] for (prob, _), s in zip(volumes, select, strict=True)])
        y = np.concatenate([label[s] for (_, label), s in zip(volumes, select, strict=True)])
        preds, target = torch.from_numpy(p), torch.from_numpy(y.astype(np.int64))
        got = pooled[region]  # type: ignore[index]
        assert got.ece == pytest.approx(float(binary_calibration_error(preds, target, 15, "l1")), abs=1e-12)
        assert got.mce == pytest.approx(float(binary_calibration_error(preds, target, 15, "max")), abs=1e-12)
        single = calibration_metrics(p, y)
        assert got.brier == pytest.approx(single.brier, abs=1e-12)
        assert got.nll == pytest.approx(single.nll, abs=1e-12)
        assert got.n_voxels == single.n_voxels
    report = CalibrationReport.model_validate_json(acc.report().model_dump_json())
    assert [v.name for v in report.per_volume] == ["vol0", "vol1", "vol2"]
    assert report.pooled["volume"].n_voxels == 3 * 20 * 20 * 8


def test_accumulator_uses_a_given_prediction_mask_for_the_roi() -> None:
    prob, label = _volume(5)
    acc = CalibrationAccumulator(dilation_voxels=0)
    result = acc.add(prob, np.zeros_like(label), pred_mask=label)
    assert result.foreground.n_voxels == int(label.sum())
    assert math.isnan(CalibrationAccumulator().pooled()["volume"].ece)


@pytest.mark.parametrize(
    ("prob", "label", "region", "message"),
    [
        (np.zeros((4, 4)), np.zeros((4, 5)), None, "same shape"),
        (np.full((4, 4), 1.5), np.zeros((4, 4)), None, r"\[0, 1\]"),
        (np.full((4, 4), np.nan), np.zeros((4, 4)), None, "NaN"),
        (np.zeros((4, 4)), np.full((4, 4), 2), None, "label is not binary"),
        (np.zeros((4, 4)), np.zeros((4, 4)), np.full((4, 4), 0.5), "region is not binary"),
        (np.zeros((4, 4)), np.zeros((4, 4)), np.zeros((4, 3), dtype=bool), "same shape"),
    ],
)
def test_invalid_inputs_raise(
    prob: Probs, label: NDArray[np.generic], region: NDArray[np.generic] | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        calibration_metrics(prob, label, region)


def test_invalid_settings_raise() -> None:
    with pytest.raises(ValueError, match="n_bins"):
        calibration_metrics(np.zeros(3), np.zeros(3), n_bins=0)
    with pytest.raises(ValueError, match="dilation_voxels"):
        foreground_roi(np.zeros(3), np.zeros(3), -1)
    with pytest.raises(ValueError, match="threshold"):
        CalibrationAccumulator(threshold=2.0)
