"""Spacing-aware surface metrics via MONAI: normalised surface Dice (NSD) and the 95th-percentile Hausdorff.

All distances are physical: voxel indices are scaled by ``spacing`` (µm per voxel along each axis), so
tolerances and HD95 are in µm. Surfaces are MONAI's edge voxels (a mask XOR its 6-connected erosion,
with voxels on the image border counting as surface).

Empty-mask conventions (MONAI would return NaN or inf; these keep per-volume means finite):

* NSD: 1.0 when both masks are empty, 0.0 when exactly one is.
* HD95: 0.0 µm when both masks are empty; when exactly one is empty, the diagonal of the field of view,
  ``sqrt(sum((n_i * spacing_i) ** 2))`` µm, which is larger than any HD95 two non-empty masks on that
  grid can reach, so an empty prediction always scores worse than any non-empty one.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from monai.metrics.hausdorff_distance import compute_hausdorff_distance
from monai.metrics.surface_dice import compute_surface_dice

from minivess.pipelines.metrics._inputs import (
    BoolArray,
    MaskInput,
    as_mask_pair,
    check_spacing,
    check_tolerance,
)

logger = logging.getLogger(__name__)


def _to_monai(mask: BoolArray) -> torch.Tensor:
    """(X, Y, Z) bool array → (1, 1, X, Y, Z) bool tensor, the batch-first one-hot layout MONAI expects."""
    return torch.tensor(mask, dtype=torch.bool)[None, None]


@contextmanager
def _quiet_monai() -> Iterator[None]:
    """Silence MONAI 1.6's internal FutureWarning about its own deprecated ``always_return_as_numpy``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*always_return_as_numpy.*", category=FutureWarning)
        yield


def field_of_view_diagonal_um(shape: Sequence[int], spacing: Sequence[float]) -> float:
    """Length of the image's diagonal in µm: the HD95 reported when exactly one mask is empty.

    Args:
        shape: Array shape (voxels per axis).
        spacing: Voxel size per axis in µm.

    Returns:
        ``sqrt(sum((n_i * spacing_i) ** 2))``.

    Raises:
        ValueError: If ``spacing`` is invalid or does not match ``shape``.
    """
    values = check_spacing(spacing, len(shape))
    return math.sqrt(sum((n * s) ** 2 for n, s in zip(shape, values, strict=True)))


def nsd_from_masks(
    pred: BoolArray,
    target: BoolArray,
    spacing: tuple[float, ...],
    tolerance_um: float,
    use_subvoxels: bool = False,
) -> float:
    """NSD of two validated boolean masks with a validated spacing (see :func:`normalized_surface_dice`)."""
    pred_any, target_any = bool(pred.any()), bool(target.any())
    if not pred_any and not target_any:
        return 1.0
    if not pred_any or not target_any:
        return 0.0
    with _quiet_monai():
        value = compute_surface_dice(
            _to_monai(pred),
            _to_monai(target),
            class_thresholds=[tolerance_um],
            include_background=True,
            spacing=list(spacing),
            use_subvoxels=use_subvoxels,
        )
    return float(value.reshape(-1)[0].item())


def hd95_from_masks(pred: BoolArray, target: BoolArray, spacing: tuple[float, ...]) -> float:
    """HD95 of two validated boolean masks with a validated spacing (see :func:`hausdorff_distance_95`)."""
    pred_any, target_any = bool(pred.any()), bool(target.any())
    if not pred_any and not target_any:
        return 0.0
    if not pred_any or not target_any:
        return field_of_view_diagonal_um(pred.shape, spacing)
    with _quiet_monai():
        value = compute_hausdorff_distance(
            _to_monai(pred), _to_monai(target), include_background=True, percentile=95, spacing=list(spacing)
        )
    return float(value.reshape(-1)[0].item())


def normalized_surface_dice(
    pred: MaskInput,
    target: MaskInput,
    spacing: Sequence[float],
    tolerance_um: float,
    *,
    threshold: float | None = None,
    use_subvoxels: bool = False,
) -> float:
    """Normalised surface Dice (Nikolov et al. 2021) at a tolerance in µm, via MONAI.

    NSD = (|{p ∈ ∂P : d(p, ∂L) ≤ τ}| + |{l ∈ ∂L : d(l, ∂P) ≤ τ}|) / (|∂P| + |∂L|).

    Args:
        pred: Predicted mask (X, Y, Z) or (X, Y); numpy or torch; binary, or probabilities with a threshold.
        target: Reference mask, same shape, binary.
        spacing: Voxel size per axis in µm, same axis order as the arrays.
        tolerance_um: Largest surface deviation (µm) still counted as correct.
        threshold: If given, ``pred >= threshold`` is the predicted mask. Defaults to None (binary input).
        use_subvoxels: Weight surface elements by their area (DeepMind's surface-distance scheme) instead
            of counting edge voxels. Defaults to False (counting, ~3× faster).

    Returns:
        NSD in [0, 1]; 1.0 when both masks are empty, 0.0 when exactly one is.

    Raises:
        ValueError: On a shape mismatch, non-binary input, bad spacing or a negative/non-finite tolerance.
    """
    p, t = as_mask_pair(pred, target, threshold=threshold)
    check_tolerance(tolerance_um)
    return nsd_from_masks(p, t, check_spacing(spacing, p.ndim), tolerance_um, use_subvoxels)


def hausdorff_distance_95(
    pred: MaskInput,
    target: MaskInput,
    spacing: Sequence[float],
    *,
    threshold: float | None = None,
) -> float:
    """95th-percentile symmetric Hausdorff distance in µm, via MONAI.

    MONAI's convention: the 95th percentile of the surface distances from P to L and, separately, from L
    to P; the larger of the two is returned.

    Args:
        pred: Predicted mask (X, Y, Z) or (X, Y); numpy or torch; binary, or probabilities with a threshold.
        target: Reference mask, same shape, binary.
        spacing: Voxel size per axis in µm, same axis order as the arrays.
        threshold: If given, ``pred >= threshold`` is the predicted mask. Defaults to None (binary input).

    Returns:
        HD95 in µm; 0.0 when both masks are empty, the field-of-view diagonal when exactly one is.

    Raises:
        ValueError: On a shape mismatch, non-binary input or bad spacing.
    """
    p, t = as_mask_pair(pred, target, threshold=threshold)
    return hd95_from_masks(p, t, check_spacing(spacing, p.ndim))
