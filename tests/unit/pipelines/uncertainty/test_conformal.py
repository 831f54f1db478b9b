"""Tests for conformal FNR control: brute force, hand cases, a coverage simulation, errors, and MAPIE's CRC."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from numpy.typing import NDArray

from minivess.errors import DataError
from minivess.pipelines.uncertainty.conformal import (
    CalibrationDataError,
    crc_fnr_threshold,
    fnr,
    min_calibration_volumes,
    split_experiment,
)

SHAPE = (6, 6, 4)


def _volumes(
    seed: int, n: int, shape: tuple[int, ...] = SHAPE, decimals: int | None = None
) -> tuple[list[NDArray[np.float64]], list[NDArray[np.bool_]]]:
    """Noisy-sigmoid probabilities of random labels, with per-volume vessel fraction and difficulty."""
    rng = np.random.default_rng(seed)
    probs, labels = [], []
    for _ in range(n):
        label = rng.random(shape) < rng.uniform(0.1, 0.4)
        label.flat[rng.integers(label.size)] = True  # every volume has a vessel voxel (MAPIE requires it)
        logits = rng.uniform(1.0, 3.0) * (2 * label - 1) + rng.normal(rng.uniform(-1, 1), 1.5, shape)
        prob = 1 / (1 + np.exp(-logits))
        probs.append(np.round(prob, decimals) if decimals is not None else prob)
        labels.append(label)
    return probs, labels


def _brute_force(probs: list[NDArray[np.float64]], labels: list[NDArray[np.bool_]], alpha: float) -> float:
    """Largest feasible threshold over a dense grid that contains every vessel probability and its successor.

    The masks {p >= t} and their FNRs are computed directly from the definition for every candidate.
    """
    vessel_values = np.concatenate([p[y] for p, y in zip(probs, labels, strict=True)])
    grid = np.unique(np.concatenate([np.linspace(0, 1, 2001), vessel_values, np.nextafter(vessel_values, 2)]))
    grid = grid[grid <= 1.0]
    n = len(probs)
    risks = np.zeros(len(grid))
    for p, y in zip(probs, labels, strict=True):
        masks = p.reshape(1, -1) >= grid.reshape(-1, 1)  # (thresholds, voxels)
        vessel = y.reshape(1, -1)
        caught = (masks & vessel).sum(axis=1)
        risks += 0.0 if y.sum() == 0 else 1.0 - caught / y.sum()
    risks /= n
    feasible = n / (n + 1) * risks + 1 / (n + 1) <= alpha + 1e-9
    return float(grid[feasible].max())


# --------------------------------------------------------------------------- fnr and hand cases


def test_fnr_counts_vessel_voxels_below_threshold_as_missed() -> None:
    prob = np.array([0.2, 0.5, 0.9, 0.1])
    label = np.array([1, 1, 0, 1])
    assert fnr(prob, label, 0.5) == pytest.approx(2 / 3)  # 0.2 and 0.1 missed; 0.5 >= 0.5 is caught
    assert fnr(prob, label, 0.0) == 0.0
    assert fnr(prob, label, 0.51) == 1.0


def test_volume_without_vessels_has_zero_loss() -> None:
    assert fnr(np.full(SHAPE, 0.3), np.zeros(SHAPE, dtype=bool), 0.99) == 0.0


def test_hand_computed_threshold() -> None:
    # n = 9, alpha = 0.1: sum of losses must stay <= (n+1)·alpha - 1 = 0 -> nothing may be missed.
    probs = [np.array([0.3, 0.8, 0.05])] * 9
    labels = [np.array([1, 1, 0])] * 9
    result = crc_fnr_threshold(probs, labels, 0.1)
    assert result.threshold == 0.3
    assert result.calibration_risk == 0.0
    assert result.bound_term == pytest.approx(0.1)
    # n = 19, alpha = 0.1: budget 1.0; missing 0.3 costs 19 · 1/2 > 1, so t̂ stays at 0.3.
    assert crc_fnr_threshold([probs[0]] * 19, [labels[0]] * 19, 0.1).threshold == 0.3
    # alpha = 0.6, n = 9: budget 5.0 allows every volume to miss its 0.3 voxel (4.5) but not all (9).
    assert crc_fnr_threshold(probs, labels, 0.6).threshold == 0.8


def test_threshold_one_when_nothing_breaks_the_bound() -> None:
    # Vessel probabilities of exactly 1 are caught by {p >= 1}: t̂ = 1 with no loss.
    result = crc_fnr_threshold([np.array([1.0, 1.0, 0.2])] * 20, [np.array([1, 1, 0])] * 20, 0.1)
    assert (result.threshold, result.calibration_risk) == (1.0, 0.0)
    # One vessel voxel in 20 volumes: missing it costs 1 <= (n+1)·alpha - 1 = 1.1, so all of [0, 1] is feasible.
    probs = [np.array([0.4, 0.2])] * 20
    labels = [np.array([1, 0])] + [np.array([0, 0])] * 19
    result = crc_fnr_threshold(probs, labels, 0.1)
    assert result.threshold == 1.0 == _brute_force(probs, labels, 0.1)
    assert result.calibration_risk == pytest.approx(1 / 20)
    assert result.adjusted_risk == pytest.approx(2 / 21)
    assert result.n_empty == 19


# --------------------------------------------------------------------------- brute force


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2])
@pytest.mark.parametrize(("seed", "decimals"), [(0, None), (1, None), (2, 1), (3, 2)])
def test_matches_brute_force(alpha: float, seed: int, decimals: int | None) -> None:
    probs, labels = _volumes(seed, 24, decimals=decimals)
    labels[5] = np.zeros(SHAPE, dtype=bool)  # an empty volume counts as loss 0
    result = crc_fnr_threshold(probs, labels, alpha)
    assert result.threshold == _brute_force(probs, labels, alpha)
    assert result.adjusted_risk <= alpha + 1e-9
    assert result.n_empty == 1
    direct = np.mean([fnr(p, y, result.threshold) for p, y in zip(probs, labels, strict=True)])
    assert result.calibration_risk == pytest.approx(direct)


def test_lambda_and_mask() -> None:
    probs, labels = _volumes(4, 12)
    result = crc_fnr_threshold(probs, labels, 0.2)
    assert result.lam == pytest.approx(1 - result.threshold)
    np.testing.assert_array_equal(result.mask(probs[0]), probs[0] >= result.threshold)


# --------------------------------------------------------------------------- coverage simulation


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_mean_test_fnr_is_controlled_over_random_splits(alpha: float) -> None:
    """60 synthetic volumes, 300 random splits of 40 calibration / 20 test volumes.

    Measured (seeds as below): alpha 0.05 -> mean test FNR 0.0284 (stderr 0.0006), alpha 0.1 -> 0.0810 (0.0011).
    """
    probs, labels = _volumes(10, 60, shape=(8, 8, 6))
    result = split_experiment(probs, labels, alpha, n_splits=300, n_calibration=40, seed=1)
    assert result.n_splits == 300 and len(result.splits[0].test_fnr) == 20
    # Given the pool, splits are i.i.d. permutations and every split's test FNR has expectation <= alpha.
    assert result.mean_test_fnr <= alpha + 3 * result.stderr_test_fnr
    assert result.meets_guarantee(0.01)
    # Not vacuous: CRC is nearly tight (E >= alpha - 2B/(n+1) for continuous losses) ...
    assert result.mean_test_fnr >= alpha - 2 / 41
    # ... and it controls the average only: single volumes exceed alpha.
    assert result.fraction_volumes_above_alpha > 0.0
    assert result.per_volume_fnr_quantiles["1.0"] > alpha


def test_split_experiment_defaults_and_validation() -> None:
    probs, labels = _volumes(11, 30)
    result = split_experiment(probs, labels, 0.1, n_splits=3)
    assert result.n_calibration == 15 and len(result.splits) == 3
    with pytest.raises(ValueError, match="n_calibration"):
        split_experiment(probs, labels, 0.1, n_calibration=30)
    with pytest.raises(ValueError, match="n_splits"):
        split_experiment(probs, labels, 0.1, n_splits=0)
    with pytest.raises(CalibrationDataError, match="at least 19"):
        split_experiment(probs, labels, 0.05, n_calibration=10)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("alpha", "needed"), [(0.1, 9), (0.05, 19), (0.3, 3), (0.5, 1), (0.01, 99), (0.99, 1)])
def test_min_calibration_volumes(alpha: float, needed: int) -> None:
    assert min_calibration_volumes(alpha) == needed == math.ceil(1 / alpha) - 1
    assert 1 / (needed + 1) <= alpha < 1 / needed


def test_too_few_calibration_volumes_says_how_many() -> None:
    probs, labels = _volumes(5, 8)
    with pytest.raises(CalibrationDataError, match=r"at least 9 calibration volumes.*but 8 were given") as info:
        crc_fnr_threshold(probs, labels, 0.1)
    assert isinstance(info.value, DataError) and isinstance(info.value, ValueError)
    assert crc_fnr_threshold(*_volumes(5, 9), 0.1).n_calibration == 9


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_alpha_outside_unit_interval(alpha: float) -> None:
    probs, labels = _volumes(6, 20)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        crc_fnr_threshold(probs, labels, alpha)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        min_calibration_volumes(alpha)


def test_malformed_inputs() -> None:
    probs, labels = _volumes(7, 10)
    with pytest.raises(CalibrationDataError, match="10 probability maps but 9 labels"):
        crc_fnr_threshold(probs, labels[:9], 0.2)
    with pytest.raises(CalibrationDataError, match="shape"):
        crc_fnr_threshold([*probs[:9], probs[9][:3]], labels, 0.2)
    with pytest.raises(CalibrationDataError, match=r"\[0, 1\]"):
        crc_fnr_threshold([*probs[:9], probs[9] * 3], labels, 0.2)
    with pytest.raises(CalibrationDataError, match="binary"):
        fnr(probs[0], labels[0] * 2, 0.5)


# --------------------------------------------------------------------------- MAPIE cross-check


@pytest.mark.parametrize(("alpha", "seed"), [(0.1, 20), (0.2, 21)])
def test_agrees_with_mapie_crc(alpha: float, seed: int) -> None:
    """MAPIE 1.6's SemanticSegmentationController, risk "recall", method "crc", fed one volume per image.

    Each (6, 6, 4) volume becomes one (1, 36, 4) image, so MAPIE's per-sample risk 1 - recall is that volume's
    FNR. Its conventions differ from ours in two ways: it predicts {p > λ} (strict) and picks the largest λ on
    its grid such that every grid λ' <= λ has n/(n+1)·R̂(λ') + 1/(n+1) < alpha. Since our t̂ is the supremum
    of the feasible set, MAPIE must return the largest grid value strictly below t̂.
    """
    risk_control = pytest.importorskip("mapie.risk_control")
    probs, labels = _volumes(seed, 25)
    X = np.stack([p.reshape(1, 36, 4) for p in probs])
    y = np.stack([label.reshape(1, 36, 4) for label in labels]).astype(int)
    grid = np.arange(0, 1, 0.005)
    controller = risk_control.SemanticSegmentationController(
        predict_function=lambda images: images, risk="recall", method="crc", target_level=1 - alpha,
        predict_params=grid,
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        controller.calibrate(X, y)
    assert not [w for w in caught if "cannot be controlled" in str(w.message)]  # MAPIE's "no λ feasible" warning
    ours = crc_fnr_threshold(probs, labels, alpha)
    assert float(controller.best_predict_param[0]) == grid[grid < ours.threshold].max()
    # Its per-λ mean risk is our mean FNR at the next float above λ ({p > λ} = {p >= nextafter(λ)}).
    expected = [np.mean([fnr(p, y_, np.nextafter(g, 2)) for p, y_ in zip(probs, labels, strict=True)]) for g in grid]
    np.testing.assert_allclose(controller.r_hat, expected, atol=1e-12)
    masks = controller.predict(X)
    np.testing.assert_array_equal(masks[:, 0], X[:, 0] > controller.best_predict_param[0])
