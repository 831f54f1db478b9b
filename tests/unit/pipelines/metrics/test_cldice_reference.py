"""The default clDice against a transcription of the authors' reference code (jocpae/clDice), and vs the fallback.

``_reference_cldice`` below is ``cldice_metric/cldice.py`` of github.com/jocpae/clDice (HEAD 47d31a6), typed but
otherwise unchanged; scikit-image 0.26 has no ``skeletonize_3d`` any more and its ``skeletonize`` does 3D
(Lee's thinning), which is what ``skeletonize_3d`` was. It is used only where it is defined (finite).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch
from numpy.typing import NDArray
from scipy import ndimage
from skimage.morphology import skeletonize as _sk_skeletonize

from minivess.pipelines.metrics import (
    ClDiceScore,
    cldice_score,
    cldice_with_fallback_score,
    compute_volume_metrics,
)
from tests.unit.pipelines.metrics.synthetic import perturb, tubes

Mask = NDArray[np.bool_]

skeletonize: Callable[[Mask], NDArray[Any]] = _sk_skeletonize
skeletonize_3d = skeletonize


# --------------------------------------------------------------------------- transcription of the reference
def cl_score(v: Mask, s: NDArray[Any]) -> float:
    return float(np.sum(v * s) / np.sum(s))


def _reference_cldice(v_p: Mask, v_l: Mask) -> float:
    if len(v_p.shape) == 2:
        tprec = cl_score(v_p, skeletonize(v_l))
        tsens = cl_score(v_l, skeletonize(v_p))
    elif len(v_p.shape) == 3:
        tprec = cl_score(v_p, skeletonize_3d(v_l))
        tsens = cl_score(v_l, skeletonize_3d(v_p))
    return 2 * tprec * tsens / (tprec + tsens)


def reference_or_nan(pred: Mask, target: Mask) -> float:
    """The reference value, or NaN where it divides 0 by 0 (numpy warnings silenced)."""
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _reference_cldice(pred, target)


# --------------------------------------------------------------------------- varied, seeded masks
def _blobs(shape: tuple[int, ...], seed: int, sigma: float = 1.5, fraction: float = 0.15) -> Mask:
    noise = ndimage.gaussian_filter(np.random.default_rng(seed).standard_normal(shape), sigma)
    return np.asarray(noise > np.quantile(noise, 1 - fraction), dtype=np.bool_)


def _with_specks(mask: Mask, seed: int, n: int = 12, size: int = 2) -> Mask:
    """Add ``n`` cubes of edge ``size`` (2×2×2 vanish under skimage's 3D thinning) at random places."""
    rng = np.random.default_rng(seed)
    out = mask.copy()
    for _ in range(n):
        corner = [int(rng.integers(0, s - size)) for s in mask.shape]
        out[tuple(slice(c, c + size) for c in corner)] = True
    return out


def _tubes_2d(shape: tuple[int, int], seed: int) -> Mask:
    return tubes((*shape, 3), seed=seed, n_segments=3)[:, :, 1]


def _cases() -> Iterator[tuple[str, Mask, Mask]]:
    for seed in range(5):
        target = tubes((32, 32, 16), seed=seed)
        yield f"tubes3d-{seed}", perturb(target, seed=seed + 10), target
        yield f"tubes3d-specks-{seed}", _with_specks(perturb(target, seed=seed + 20), seed), target
        blob = _blobs((24, 24, 12), seed)
        yield f"blobs3d-{seed}", _blobs((24, 24, 12), seed + 50), blob
        yield f"blobs3d-shift-{seed}", np.roll(blob, 1, axis=seed % 3), blob
        yield f"specks-vs-tubes3d-{seed}", _with_specks(target, seed + 30, n=25), _with_specks(target, seed + 31)
        target2d = _tubes_2d((48, 48), seed)
        yield f"tubes2d-{seed}", np.asarray(np.roll(target2d, 1, axis=seed % 2), dtype=np.bool_), target2d
        yield f"blobs2d-{seed}", _blobs((40, 40), seed, fraction=0.25), _blobs((40, 40), seed + 7, fraction=0.25)
        yield f"specks2d-{seed}", _with_specks(target2d, seed, n=20), target2d


CASES = list(_cases())


def test_default_matches_the_reference_code_wherever_it_is_defined() -> None:
    diffs = []
    for name, pred, target in CASES:
        expected = reference_or_nan(pred, target)
        if math.isnan(expected):
            continue
        got = cldice_score(pred, target)
        assert abs(got - expected) < 1e-9, name
        diffs.append(abs(got - expected))
    assert len(diffs) == len(CASES)  # every case above has non-empty skeletons and overlap: all are defined
    assert max(diffs) < 1e-9


def test_default_torchmetrics_and_volume_metrics_use_the_reference() -> None:
    pred, target = next((p, t) for n, p, t in CASES if n == "tubes3d-specks-0")
    expected = reference_or_nan(pred, target)
    metric = ClDiceScore()
    metric.update(torch.from_numpy(pred)[None], torch.from_numpy(target)[None])
    assert metric.compute().item() == pytest.approx(expected, abs=1e-9)
    assert compute_volume_metrics(pred, target, (1.0, 1.0, 1.0)).cldice == pytest.approx(expected, abs=1e-9)


def test_the_reference_is_undefined_where_we_define_the_value() -> None:
    empty = np.zeros((8, 8, 8), dtype=np.bool_)
    cube = empty.copy()
    cube[2:4, 2:4, 2:4] = True  # a 2x2x2 cube: its skimage skeleton is empty
    line = empty.copy()
    line[5, 5, 1:7] = True
    for pred, target, ours in [
        (empty, empty, 1.0),
        (empty, line, 0.0),
        (line, empty, 0.0),
        (cube, cube, 1.0),  # vanished skeleton: the mask is its own skeleton
        (cube, line, 0.0),  # ... and then no skeleton voxel of either lies in the other mask
    ]:
        assert math.isnan(reference_or_nan(pred, target))
        assert cldice_score(pred, target) == ours
        assert cldice_with_fallback_score(pred, target) == ours


def test_vanished_prediction_skeleton_scores_its_overlap_as_precision() -> None:
    # Label: an 8-voxel line (its own skeleton). Prediction: a 2x2x2 cube (no skimage skeleton) holding 2 of them.
    target = np.zeros((8, 8, 12), dtype=np.bool_)
    target[3, 3, 2:10] = True
    pred = np.zeros_like(target)
    pred[3:5, 3:5, 5:7] = True
    assert not skeletonize(pred).any()
    assert math.isnan(reference_or_nan(pred, target))
    # S(P) = P: Tprec = |P ∩ L| / |P| = 2/8; Tsens = |S(L) ∩ P| / |S(L)| = 2/8; clDice = 0.25.
    assert cldice_score(pred, target) == pytest.approx(0.25, abs=1e-12)
    assert cldice_score(target, pred) == pytest.approx(0.25, abs=1e-12)


def test_variants_differ_on_a_speck_laden_prediction() -> None:
    target = tubes((48, 48, 16), seed=3, n_segments=5)
    clean = perturb(target, seed=4, flip_fraction=0.0)
    # 40 false-positive 2x2x2 specks away from the vessels: skimage's thinning deletes every one of them.
    outside = ~ndimage.binary_dilation(target | clean, iterations=2)
    rng = np.random.default_rng(5)
    pred = clean.copy()
    placed = 0
    while placed < 40:
        x, y, z = (int(rng.integers(0, s - 2)) for s in target.shape)
        if (
            outside[x : x + 2, y : y + 2, z : z + 2].all()
            and not pred[x - 1 : x + 3, y - 1 : y + 3, z - 1 : z + 3].any()
        ):
            pred[x : x + 2, y : y + 2, z : z + 2] = True
            placed += 1
    reference = cldice_score(pred, target)
    fallback = cldice_with_fallback_score(pred, target)
    assert reference == pytest.approx(reference_or_nan(pred, target), abs=1e-9)
    # Specks have no skeleton: the reference ignores them, the fallback counts 8 voxels each against Tprec.
    assert reference == pytest.approx(cldice_score(clean, target), abs=1e-12)
    # By hand: the fallback adds 40 * 8 voxels to |S(P)| and none of them lies in L.
    skel_pred = np.asarray(skeletonize(pred), dtype=np.bool_)
    skel_target = np.asarray(skeletonize(target), dtype=np.bool_)
    tprec = np.count_nonzero(skel_pred & target) / (np.count_nonzero(skel_pred) + 40 * 8)
    tsens = np.count_nonzero(skel_target & pred) / np.count_nonzero(skel_target)
    assert fallback == pytest.approx(2 * tprec * tsens / (tprec + tsens), abs=1e-12)
    assert fallback < reference - 0.5  # measured: 0.876 (reference) vs 0.280 (fallback)
    metric = ClDiceScore(variant="fallback")
    metric.update(torch.from_numpy(pred)[None], torch.from_numpy(target)[None])
    assert metric.compute().item() == pytest.approx(fallback, abs=1e-12)


def test_unknown_variant_is_rejected() -> None:
    with pytest.raises(ValueError, match="variant"):
        ClDiceScore(variant="exact")  # type: ignore[arg-type]
