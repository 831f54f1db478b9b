"""Tests for temperature scaling: recovery of a known temperature, no-op and argmax invariance, input errors."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch
from numpy.typing import NDArray

from minivess.pipelines.uncertainty.calibration import calibration_metrics
from minivess.pipelines.uncertainty.temperature import (
    TEMPERATURE_BOUNDS,
    apply_temperature,
    fit_temperature,
    sample_voxels,
    vessel_probability,
)

SHAPE = (24, 24, 12)


def _miscalibrated(scale: float, seed: int = 0) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """True vessel probability sigmoid(z); logits whose margin is scale * z (scale > 1: over-confident)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, SHAPE)
    label = rng.random(SHAPE) < 1 / (1 + np.exp(-z))
    background = rng.normal(0.0, 1.0, SHAPE)  # an arbitrary offset common to both channels
    return np.stack([background, background + scale * z]), label


@pytest.mark.parametrize("scale", [3.0, 0.5])
def test_fit_recovers_the_temperature_and_lowers_nll(scale: float) -> None:
    logits, label = _miscalibrated(scale)
    margins, labels = sample_voxels(logits, label, n=5000, rng=1)
    fit = fit_temperature(margins, labels)
    assert fit.temperature == pytest.approx(scale, rel=0.1)
    assert fit.nll_after < fit.nll_before and fit.n_voxels == 5000
    before = calibration_metrics(vessel_probability(logits), label)
    after = calibration_metrics(vessel_probability(logits, fit.temperature), label)
    assert after.ece < before.ece / 3 and after.nll < before.nll


def test_calibrated_logits_keep_t_near_one() -> None:
    logits, label = _miscalibrated(1.0, seed=2)
    fit = fit_temperature(*sample_voxels(logits, label, n=5000))
    assert fit.temperature == pytest.approx(1.0, abs=0.1)


def test_t_equal_one_is_a_no_op() -> None:
    logits, _ = _miscalibrated(3.0)
    tensor = torch.from_numpy(logits).float()
    assert apply_temperature(logits, 1.0) is logits
    expected = torch.softmax(tensor.double(), dim=0)[1].numpy()
    np.testing.assert_array_equal(vessel_probability(tensor, 1.0), expected)
    np.testing.assert_array_equal(vessel_probability(tensor), expected)


@pytest.mark.parametrize("temperature", [0.3, 2.0, 7.5])
def test_temperature_changes_neither_argmax_nor_the_mask(temperature: float) -> None:
    logits, _ = _miscalibrated(3.0, seed=4)
    scaled = apply_temperature(torch.from_numpy(logits), temperature)
    assert isinstance(scaled, torch.Tensor)
    np.testing.assert_array_equal(scaled.argmax(0).numpy(), logits.argmax(0))
    np.testing.assert_array_equal(vessel_probability(logits, temperature) > 0.5, vessel_probability(logits) > 0.5)
    margin = logits[1] - logits[0]
    np.testing.assert_allclose(vessel_probability(logits, temperature), 1 / (1 + np.exp(-margin / temperature)))


def test_sample_voxels_is_seeded_and_respects_the_region() -> None:
    logits, label = _miscalibrated(3.0)
    region = np.zeros(SHAPE, dtype=np.bool_)
    region[:, :, :3] = True
    a = sample_voxels(logits, label, region, n=300, rng=7)
    b = sample_voxels(logits, label, region, n=300, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a[0], b[0])
    margin = logits[1] - logits[0]
    assert a[0].shape == (300,) and np.isin(a[0], margin[region]).all()
    pairs = dict(zip(margin[region].tolist(), label[region].tolist(), strict=True))
    assert all(pairs[m] == y for m, y in zip(a[0].tolist(), a[1].tolist(), strict=True))
    everything = sample_voxels(logits, label, region, n=10**6)
    np.testing.assert_array_equal(everything[0], margin[region])


def test_single_class_sample_stops_at_a_bound(caplog: pytest.LogCaptureFixture) -> None:
    margins = np.linspace(0.5, 4.0, 50)
    with caplog.at_level(logging.WARNING):
        fit = fit_temperature(margins, np.ones(50, dtype=bool))
    assert fit.temperature == pytest.approx(TEMPERATURE_BOUNDS[0]) and "bound" in caplog.text
    assert fit.nll_after <= fit.nll_before


@pytest.mark.parametrize(
    ("logits", "message"),
    [
        (np.zeros((3, 4, 4, 4)), "2-class"),
        (np.zeros((4, 4, 4)), "2-class"),
        (np.full((2, 4, 4, 4), np.nan), "NaN"),
    ],
)
def test_bad_logits_raise(logits: NDArray[np.float64], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        vessel_probability(logits)


def test_other_invalid_inputs_raise() -> None:
    logits = np.zeros((2, 4, 4, 4))
    for temperature in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="temperature"):
            vessel_probability(logits, temperature)
    with pytest.raises(ValueError, match="spatial shape"):
        sample_voxels(logits, np.zeros((4, 4, 5)))
    with pytest.raises(ValueError, match="not binary"):
        sample_voxels(logits, np.full((4, 4, 4), 0.5))
    with pytest.raises(ValueError, match="n must be"):
        sample_voxels(logits, np.zeros((4, 4, 4)), n=0)
    with pytest.raises(ValueError, match="same length"):
        fit_temperature(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="same length"):
        fit_temperature(np.zeros(0), np.zeros(0))
    with pytest.raises(ValueError, match="finite"):
        fit_temperature(np.array([np.inf, 0.0]), np.array([0, 1]))
