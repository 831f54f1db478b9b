"""Tests for NSD and HD95: hand-computed anisotropic cases, a brute-force reference, empty-mask conventions.

The reference recomputes both metrics from their definitions with scipy only: surface voxels are a mask
minus its 6-connected erosion (zero outside the image, MONAI's definition), distances are all pairwise
Euclidean distances between surface voxels scaled by the spacing (no KD-tree, no distance transform).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from numpy.typing import NDArray
from scipy import ndimage
from scipy.spatial.distance import cdist

from minivess.pipelines.metrics import (
    field_of_view_diagonal_um,
    hausdorff_distance_95,
    normalized_surface_dice,
)
from tests.unit.pipelines.metrics.synthetic import perturb, tubes

ANISO = (1.0, 1.0, 2.0)


def _box() -> NDArray[np.bool_]:
    vol = np.zeros((12, 12, 12), dtype=bool)
    vol[3:9, 3:9, 3:7] = True
    return vol


def _surface_coords(mask: NDArray[np.bool_], spacing: tuple[float, ...]) -> NDArray[np.float64]:
    padded = np.pad(mask, 1)
    edges = (padded & ~ndimage.binary_erosion(padded))[1:-1, 1:-1, 1:-1]
    coords: NDArray[np.float64] = np.argwhere(edges).astype(np.float64) * np.asarray(spacing)
    return coords


def _reference(
    pred: NDArray[np.bool_], target: NDArray[np.bool_], spacing: tuple[float, ...], tol: float
) -> tuple[float, float]:
    dists = cdist(_surface_coords(pred, spacing), _surface_coords(target, spacing))
    pred_to_target, target_to_pred = dists.min(axis=1), dists.min(axis=0)
    nsd = (np.sum(pred_to_target <= tol) + np.sum(target_to_pred <= tol)) / (dists.shape[0] + dists.shape[1])
    hd95 = max(np.percentile(pred_to_target, 95), np.percentile(target_to_pred, 95))
    return float(nsd), float(hd95)


# --------------------------------------------------------------------------- hand-computed, anisotropic
def test_one_voxel_shift_along_z_with_2um_spacing() -> None:
    target = _box()
    pred = np.roll(target, 1, axis=2)
    # The shifted top face lies one z-step (2 µm) from the reference; every other surface voxel is closer.
    assert hausdorff_distance_95(pred, target, ANISO) == pytest.approx(2.0)
    assert normalized_surface_dice(pred, target, ANISO, tolerance_um=2.5) == 1.0
    assert normalized_surface_dice(pred, target, ANISO, tolerance_um=2.0) == 1.0
    assert normalized_surface_dice(pred, target, ANISO, tolerance_um=1.0) < 1.0


def test_nsd_at_1um_counts_surface_voxels_by_hand() -> None:
    # Box x,y in 3..8, z in 3..6 (6x6x4): 112 surface voxels; pred is shifted to z in 4..7. Lateral steps
    # are 1 µm, z steps 2 µm. Pred surface voxels farther than 1 µm from the reference surface: the top face
    # at z=7 (36 voxels, 2 µm) and the 2x2 centre of the bottom face at z=4 (4 voxels: 2 µm to the ring at
    # z=4 and to the reference bottom face). Its other bottom-face and side-wall voxels are within 1 µm.
    # By symmetry the same 40 fail in the other direction: NSD = (224 - 80) / 224 = 144/224.
    target = _box()
    pred = np.roll(target, 1, axis=2)
    assert normalized_surface_dice(pred, target, ANISO, tolerance_um=1.0) == pytest.approx(144 / 224)
    assert _reference(pred, target, ANISO, 1.0)[0] == pytest.approx(144 / 224)


def test_spacing_changes_the_distance_along_the_shifted_axis() -> None:
    target = _box()
    pred = np.roll(target, 1, axis=0)
    assert hausdorff_distance_95(pred, target, (0.5, 1.0, 2.0)) == pytest.approx(0.5)
    assert hausdorff_distance_95(pred, target, (3.0, 1.0, 2.0)) == pytest.approx(3.0)
    assert normalized_surface_dice(pred, target, (0.5, 1.0, 2.0), tolerance_um=0.6) == 1.0
    assert normalized_surface_dice(pred, target, (3.0, 1.0, 2.0), tolerance_um=0.6) < 1.0


def test_identical_masks() -> None:
    vol = tubes((24, 24, 12), seed=1)
    assert normalized_surface_dice(vol, vol, ANISO, tolerance_um=0.0) == 1.0
    assert hausdorff_distance_95(vol, vol, ANISO) == 0.0


def test_subvoxel_mode_sane_on_the_shift_case() -> None:
    target = _box()
    pred = np.roll(target, 1, axis=2)
    assert normalized_surface_dice(pred, target, ANISO, tolerance_um=2.5, use_subvoxels=True) == 1.0
    assert normalized_surface_dice(pred, target, ANISO, tolerance_um=1.0, use_subvoxels=True) < 1.0


# --------------------------------------------------------------------------- brute-force reference
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("tol", [0.5, 1.5, 3.1])
def test_matches_brute_force_reference(seed: int, tol: float) -> None:
    spacing = (0.7, 0.9, 2.0)
    target = tubes((24, 24, 12), seed=seed)
    pred = perturb(target, seed=seed + 10, flip_fraction=0.003)
    expected_nsd, expected_hd95 = _reference(pred, target, spacing, tol)
    assert normalized_surface_dice(pred, target, spacing, tolerance_um=tol) == pytest.approx(expected_nsd, abs=1e-6)
    assert hausdorff_distance_95(pred, target, spacing) == pytest.approx(expected_hd95, rel=1e-5)


# --------------------------------------------------------------------------- empty masks
def test_both_empty() -> None:
    empty = np.zeros((8, 8, 4), dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no MONAI nan/inf warnings leak out
        assert normalized_surface_dice(empty, empty, ANISO, tolerance_um=2.0) == 1.0
        assert hausdorff_distance_95(empty, empty, ANISO) == 0.0


@pytest.mark.parametrize("empty_side", ["pred", "target"])
def test_exactly_one_empty(empty_side: str) -> None:
    full = _box()
    empty = np.zeros_like(full)
    pred, target = (empty, full) if empty_side == "pred" else (full, empty)
    diagonal = math.sqrt(12**2 + 12**2 + 24**2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert normalized_surface_dice(pred, target, ANISO, tolerance_um=2.0) == 0.0
        assert hausdorff_distance_95(pred, target, ANISO) == pytest.approx(diagonal)
    assert field_of_view_diagonal_um((12, 12, 12), ANISO) == pytest.approx(diagonal)


def test_empty_penalty_exceeds_worst_non_empty_hd95() -> None:
    target = np.zeros((12, 12, 12), dtype=bool)
    pred = np.zeros_like(target)
    target[0, 0, 0] = True
    pred[-1, -1, -1] = True  # opposite corners: the largest HD95 the grid allows
    worst = hausdorff_distance_95(pred, target, ANISO)
    assert worst < field_of_view_diagonal_um(target.shape, ANISO)


def test_no_warnings_on_normal_inputs() -> None:
    target = _box()
    pred = np.roll(target, 1, axis=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        normalized_surface_dice(pred, target, ANISO, tolerance_um=2.0)
        hausdorff_distance_95(pred, target, ANISO)


# --------------------------------------------------------------------------- inputs
def test_torch_and_probability_inputs() -> None:
    target = _box()
    pred = np.roll(target, 1, axis=2)
    probs = torch.from_numpy(np.where(pred, 0.75, 0.25))
    assert hausdorff_distance_95(probs, torch.from_numpy(target), ANISO, threshold=0.5) == pytest.approx(2.0)
    assert normalized_surface_dice(probs, target, ANISO, 2.5, threshold=0.5) == 1.0


@pytest.mark.parametrize(
    ("spacing", "message"),
    [((1.0, 1.0), "one voxel size per axis"), ((1.0, -1.0, 2.0), "> 0"), ((1.0, math.nan, 2.0), "> 0")],
)
def test_bad_spacing(spacing: tuple[float, ...], message: str) -> None:
    vol = _box()
    with pytest.raises(ValueError, match=message):
        hausdorff_distance_95(vol, vol, spacing)
    with pytest.raises(ValueError, match=message):
        normalized_surface_dice(vol, vol, spacing, tolerance_um=1.0)


@pytest.mark.parametrize("tol", [-0.1, math.inf])
def test_bad_tolerance(tol: float) -> None:
    vol = _box()
    with pytest.raises(ValueError, match="tolerance_um"):
        normalized_surface_dice(vol, vol, ANISO, tolerance_um=tol)


def test_shape_mismatch_and_non_binary() -> None:
    vol = _box()
    with pytest.raises(ValueError, match="same shape"):
        hausdorff_distance_95(vol, vol[:, :, :6], ANISO)
    with pytest.raises(ValueError, match="not binary"):
        normalized_surface_dice(vol * 0.5, vol, ANISO, tolerance_um=1.0)
