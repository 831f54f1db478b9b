"""Tests for clDice: hand-counted cases, an independent set-based implementation, properties, the Metric.

The default (reference) definition is also checked against a transcription of the authors' code in
``test_cldice_reference.py``. What "independent" means here: ``_reference_cldice`` recomputes the *fallback*
variant from its definition with Python sets of coordinate tuples, fractions built by hand, and its own
component labelling (``skimage.measure.label`` + Python loops) for the empty-skeleton fallback. It shares only
the skeleton algorithm (``skimage.morphology.skeletonize``) with the code under test: there is a single 3D thinning
implementation installed, so skeletons themselves are pinned separately by hand-counted cases (a line is its
own skeleton; a 3×3 tube's skeleton is its centreline minus one voxel at each end). A second, fully
independent check uses the identity as skeleton function, under which clDice must equal the plain Dice
formula 2|P∩L| / (|P| + |L|) computed here with numpy.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray
from skimage.measure import label as _sk_label
from skimage.morphology import skeletonize as _sk_skeletonize

from minivess.pipelines.metrics import (
    ClDiceScore,
    cldice_score,
    cldice_with_fallback_score,
    dice_score,
    reference_skeleton,
    skeleton_with_fallback,
)
from tests.unit.pipelines.metrics.synthetic import line, perturb, tubes

SHAPE = (7, 7, 14)

# skimage's functions are unannotated; typed aliases keep mypy strict happy without ignores.
skeletonize: Callable[[NDArray[np.bool_]], NDArray[Any]] = _sk_skeletonize
sk_label: Callable[..., NDArray[np.intp]] = _sk_label


# --------------------------------------------------------------------------- reference implementation
def _coords(mask: NDArray[np.bool_]) -> set[tuple[int, ...]]:
    return {tuple(int(i) for i in c) for c in zip(*np.nonzero(mask), strict=True)}


def _reference_skeleton(mask: NDArray[np.bool_]) -> set[tuple[int, ...]]:
    skel = _coords(np.asarray(skeletonize(mask), dtype=np.bool_))
    labels = sk_label(mask, connectivity=mask.ndim)
    for component in range(1, int(labels.max()) + 1):
        voxels = _coords(labels == component)
        if not voxels & skel:
            skel |= voxels
    return skel


def _reference_cldice(pred: NDArray[np.bool_], target: NDArray[np.bool_]) -> float:
    p, t = _coords(pred), _coords(target)
    if not p and not t:
        return 1.0
    if not p or not t:
        return 0.0
    sp, st_ = _reference_skeleton(pred), _reference_skeleton(target)
    tprec = len(sp & t) / len(sp)
    tsens = len(st_ & p) / len(st_)
    return 0.0 if tprec + tsens == 0 else 2 * tprec * tsens / (tprec + tsens)


def _numpy_dice(p: NDArray[np.bool_], t: NDArray[np.bool_]) -> float:
    total = int(p.sum()) + int(t.sum())
    return 1.0 if total == 0 else 2 * int((p & t).sum()) / total


# --------------------------------------------------------------------------- hand-computed cases
def test_identical_line_scores_one() -> None:
    vol = line(SHAPE, 3, 3, 2, 12)
    assert cldice_score(vol, vol) == 1.0


def test_line_vs_line_shifted_along_its_axis() -> None:
    # Both lines are their own skeletons (10 voxels each) and overlap in 8: Tprec = Tsens = 0.8.
    target = line(SHAPE, 3, 3, 1, 11)
    pred = line(SHAPE, 3, 3, 3, 13)
    assert cldice_score(pred, target) == pytest.approx(0.8)


def test_parallel_lines_without_overlap_score_zero() -> None:
    assert cldice_score(line(SHAPE, 3, 4, 1, 11), line(SHAPE, 3, 3, 1, 11)) == 0.0


def test_broken_line() -> None:
    # Target: 10 voxels. Prediction: the same line with a 2-voxel gap (8 voxels, all inside the target).
    # Tprec = 8/8 = 1, Tsens = 8/10, clDice = 2 * 0.8 / 1.8 = 8/9.
    target = line(SHAPE, 3, 3, 1, 11)
    pred = target.copy()
    pred[3, 3, 5:7] = False
    assert int(skeletonize(pred).sum()) == 8
    assert cldice_score(pred, target) == pytest.approx(8 / 9)


def test_thick_tube_vs_its_centreline_rewards_topology_not_volume() -> None:
    # A 3x3 tube along z=1..10; Lee's thinning leaves its centreline minus one voxel at each end.
    target = np.zeros(SHAPE, dtype=np.bool_)
    target[2:5, 2:5, 1:11] = True
    assert _coords(np.asarray(skeletonize(target), dtype=np.bool_)) == {(3, 3, z) for z in range(2, 10)}
    pred = line(SHAPE, 3, 3, 1, 11)
    # Tprec = |centreline ∩ tube| / 10 = 1; Tsens = |S(tube) ∩ centreline| / 8 = 1.
    assert cldice_score(pred, target) == 1.0
    assert dice_score(pred, target) == pytest.approx(2 * 10 / (10 + 90))


def test_skimage_still_drops_even_width_tubes() -> None:
    """scikit-image issue #3757, the reason for the fallback; if this starts failing, revisit the fallback."""
    tube = np.zeros((8, 8, 12), dtype=np.bool_)
    tube[2:6, 2:6, 1:11] = True
    assert not skeletonize(tube).any()


def test_a_wholly_vanished_skeleton_is_replaced_by_the_mask_in_both_variants() -> None:
    target = np.zeros((8, 8, 12), dtype=np.bool_)
    target[2:6, 2:6, 1:11] = True  # 160 voxels, empty skimage skeleton
    pred = line((8, 8, 12), 3, 3, 1, 11)
    np.testing.assert_array_equal(skeleton_with_fallback(target), target)
    np.testing.assert_array_equal(reference_skeleton(target), target)
    # Tprec = 10/10, Tsens = |tube ∩ line| / 160 = 1/16 -> 2 * (1/16) / (17/16) = 2/17.
    assert cldice_score(pred, target) == pytest.approx(2 / 17)
    assert cldice_with_fallback_score(pred, target) == pytest.approx(2 / 17)


def test_fallback_is_per_component_so_a_false_positive_blob_counts() -> None:
    target = line((8, 8, 14), 5, 5, 3, 13)
    pred = target.copy()
    pred[1:3, 1:3, 1:3] = True  # a 2x2x2 blob: skimage deletes it entirely
    skel = skeleton_with_fallback(pred)
    assert int(skel.sum()) == 10 + 8
    # Tprec = 10/18, Tsens = 1 -> 2 * (10/18) / (28/18) = 5/7.
    assert cldice_with_fallback_score(pred, target) == pytest.approx(5 / 7)
    # The reference ignores the blob (the line keeps a skeleton): Tprec = Tsens = 1.
    assert int(reference_skeleton(pred).sum()) == 10
    assert cldice_score(pred, target) == 1.0


def test_tiny_blob_against_one_voxel() -> None:
    pred = np.zeros((4, 4, 4), dtype=np.bool_)
    pred[1:3, 1:3, 1:3] = True
    target = np.zeros_like(pred)
    target[1, 1, 1] = True
    # S(P) = P (8 voxels, the whole skeleton vanished), S(L) = L: Tprec = 1/8, Tsens = 1 -> 2/9.
    assert cldice_score(pred, target) == pytest.approx(2 / 9)
    assert cldice_with_fallback_score(pred, target) == pytest.approx(2 / 9)


@pytest.mark.parametrize(
    ("pred_empty", "target_empty", "expected"), [(True, True, 1.0), (True, False, 0.0), (False, True, 0.0)]
)
def test_empty_mask_conventions(pred_empty: bool, target_empty: bool, expected: float) -> None:
    full = line(SHAPE, 3, 3, 1, 11)
    empty = np.zeros(SHAPE, dtype=np.bool_)
    assert cldice_score(empty if pred_empty else full, empty if target_empty else full) == expected


def test_works_on_2d_images() -> None:
    target = np.zeros((9, 9), dtype=np.bool_)
    target[4, 1:8] = True
    pred = target.copy()
    pred[4, 7] = False
    # Tprec = 6/6, Tsens = 6/7 -> 2 * (6/7) / (13/7) = 12/13.
    assert cldice_score(pred, target) == pytest.approx(12 / 13)


# --------------------------------------------------------------------------- input handling
def test_threshold_and_torch_inputs_match_binary_numpy() -> None:
    target = tubes((24, 24, 12), seed=3)
    pred = perturb(target, seed=4)
    probs = np.where(pred, 0.8, 0.2).astype(np.float32)
    expected = cldice_score(pred, target)
    assert cldice_score(probs, target, threshold=0.5) == expected
    assert cldice_score(torch.from_numpy(pred).float(), torch.from_numpy(target).long()) == expected


def test_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="same shape"):
        cldice_score(np.zeros((4, 4, 4), bool), np.zeros((4, 4, 5), bool))


def test_batch_axes_are_rejected_by_the_functional() -> None:
    with pytest.raises(ValueError, match="spatial dimensions"):
        cldice_score(np.zeros((1, 1, 4, 4, 4), bool), np.zeros((1, 1, 4, 4, 4), bool))


def test_probabilities_without_threshold_raise() -> None:
    probs = np.full((4, 4, 4), 0.7)
    with pytest.raises(ValueError, match="not binary"):
        cldice_score(probs, np.ones((4, 4, 4), bool))


def test_non_binary_target_raises_even_with_threshold() -> None:
    with pytest.raises(ValueError, match="target is not binary"):
        cldice_score(np.ones((4, 4, 4)), np.full((4, 4, 4), 2), threshold=0.5)


def test_nan_input_raises() -> None:
    probs = np.full((4, 4, 4), np.nan)
    with pytest.raises(ValueError, match="NaN"):
        cldice_score(probs, np.ones((4, 4, 4), bool), threshold=0.5)


def test_skeleton_outside_the_mask_is_rejected() -> None:
    vol = line(SHAPE, 3, 3, 1, 11)
    with pytest.raises(ValueError, match="outside the mask"):
        cldice_score(vol, vol, skeletonize_fn=lambda m: np.ones_like(m))


# --------------------------------------------------------------------------- independent implementation
@pytest.mark.parametrize("seed", range(6))
def test_fallback_matches_set_based_reference_on_vessel_volumes(seed: int) -> None:
    target = tubes((32, 32, 16), seed=seed)
    pred = perturb(target, seed=seed + 100)
    assert cldice_with_fallback_score(pred, target) == pytest.approx(_reference_cldice(pred, target), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_fallback_matches_set_based_reference_when_it_fires(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pred = rng.random((16, 16, 8)) < 0.3  # many tiny components, several with empty skimage skeletons
    target = rng.random((16, 16, 8)) < 0.3
    got = cldice_with_fallback_score(pred, target)
    assert got == pytest.approx(_reference_cldice(pred, target), abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_identity_skeleton_reduces_to_dice(seed: int) -> None:
    target = tubes((24, 24, 12), seed=seed)
    pred = perturb(target, seed=seed + 7)
    got = cldice_score(pred, target, skeletonize_fn=lambda m: m)
    assert got == pytest.approx(_numpy_dice(pred, target), abs=1e-12)


# --------------------------------------------------------------------------- properties
_volumes = arrays(dtype=np.bool_, shape=(6, 6, 4), elements=st.booleans())


_BOTH = pytest.mark.parametrize("score", [cldice_score, cldice_with_fallback_score], ids=["reference", "fallback"])


@_BOTH
@settings(max_examples=25, deadline=None)
@given(pred=_volumes, target=_volumes)
def test_symmetric_and_bounded(
    score: Callable[[NDArray[np.bool_], NDArray[np.bool_]], float], pred: NDArray[np.bool_], target: NDArray[np.bool_]
) -> None:
    forward = score(pred, target)
    assert 0.0 <= forward <= 1.0
    assert forward == score(target, pred)


@_BOTH
@settings(max_examples=25, deadline=None)
@given(vol=_volumes)
def test_identity_is_one(
    score: Callable[[NDArray[np.bool_], NDArray[np.bool_]], float], vol: NDArray[np.bool_]
) -> None:
    assert score(vol, vol) == 1.0


@settings(max_examples=40, deadline=None)
@given(pred=_volumes, target=_volumes)
def test_identity_skeleton_is_dice_property(pred: NDArray[np.bool_], target: NDArray[np.bool_]) -> None:
    got = cldice_score(pred, target, skeletonize_fn=lambda m: m)
    assert math.isclose(got, _numpy_dice(pred, target), abs_tol=1e-12)


# --------------------------------------------------------------------------- torchmetrics Metric
def _batch(seeds: list[int]) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    targets = np.stack([tubes((20, 20, 10), seed=s) for s in seeds])
    preds = np.stack([perturb(t, seed=s + 50) for t, s in zip(targets, seeds, strict=True)])
    return preds, targets


def test_metric_accumulates_mean_of_per_volume_scores() -> None:
    preds, targets = _batch([0, 1, 2])
    expected = [cldice_score(p, t) for p, t in zip(preds, targets, strict=True)]
    metric = ClDiceScore()
    metric.update(torch.from_numpy(preds[:2])[:, None], torch.from_numpy(targets[:2])[:, None])  # (B, 1, X, Y, Z)
    metric.update(torch.from_numpy(preds[2:]), torch.from_numpy(targets[2:]))  # (B, X, Y, Z)
    assert metric.compute().item() == pytest.approx(sum(expected) / 3, abs=1e-12)
    metric.reset()
    metric.update(torch.from_numpy(targets[:1]), torch.from_numpy(targets[:1]))
    assert metric.compute().item() == 1.0


def test_metric_thresholds_probabilities_by_default() -> None:
    preds, targets = _batch([5])
    probs = torch.from_numpy(np.where(preds, 0.9, 0.1).astype(np.float32))
    metric = ClDiceScore()
    metric.update(probs, torch.from_numpy(targets).float())
    assert metric.compute().item() == pytest.approx(cldice_score(preds[0], targets[0]), abs=1e-12)
    strict = ClDiceScore(threshold=None)
    with pytest.raises(ValueError, match="not binary"):
        strict.update(probs, torch.from_numpy(targets))


@pytest.mark.parametrize(
    ("pred_shape", "target_shape", "message"),
    [
        ((2, 2, 4, 4, 4), (2, 2, 4, 4, 4), "channels"),
        ((2, 4, 4, 4), (2, 4, 4, 5), "same shape"),
        ((4, 4, 4), (4, 4, 4), r"\(B, 1, X, Y, Z\)"),
    ],
)
def test_metric_rejects_bad_shapes(pred_shape: tuple[int, ...], target_shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClDiceScore().update(torch.zeros(pred_shape), torch.zeros(target_shape))


def test_metric_without_updates_is_nan() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchmetrics warns about compute() before update()
        assert math.isnan(ClDiceScore().compute().item())
