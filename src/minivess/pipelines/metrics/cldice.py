"""Skeleton-based clDice (Shit et al., CVPR 2021) for binary 2D/3D masks, functional and torchmetrics.

Definitions, with S(X) the skeleton of mask X, P the prediction and L the label (reference)::

    Tprec = |S(P) ∩ L| / |S(P)|      (topology precision)
    Tsens = |S(L) ∩ P| / |S(L)|      (topology sensitivity)
    clDice = 2 · Tprec · Tsens / (Tprec + Tsens)

Two variants differ only in the skeleton used for a mask:

* ``"reference"`` (the default of :func:`cldice_score`, :class:`ClDiceScore` and ``compute_volume_metrics``):
  the skeleton is ``skimage.morphology.skeletonize`` as is, exactly as in the authors' code
  (github.com/jocpae/clDice, ``cldice_metric/cldice.py``). Published MinIVess numbers use this definition.
  The reference code calls ``|S(L) ∩ P| / |S(L)|`` "tprec" and the other ratio "tsens"; the harmonic mean is
  symmetric, so the score is the same.
* ``"fallback"`` (:func:`cldice_with_fallback_score`): every connected component (26-connectivity in 3D, 8 in
  2D) left without any skeleton voxel keeps all its voxels as its skeleton. ``skeletonize`` deletes some
  objects completely: tiny blobs (a 2×2×2 cube) and, because of scikit-image issue #3757, straight tubes of
  even thickness (a 4×4×L box). The reference silently ignores such a component when the rest of the mask
  has a skeleton, so a false-positive speck does not lower Tprec; the fallback counts it, weighted by its
  volume instead of its length.

Where the reference formula is undefined (0/0) this module defines the value, for both variants:

* P and L both empty: 1.0 (perfect agreement on "no vessel").
* Exactly one of P, L empty: 0.0.
* A non-empty mask whose whole skeleton vanished: the mask itself is used as its skeleton (for such a mask
  both variants coincide). So clDice(X, X) = 1 for every X, and a prediction made only of specks scores the
  fraction of its voxels that lie inside the label as Tprec.
* Tprec + Tsens == 0 (no skeleton voxel of either mask lies in the other mask): 0.0.

Skeletons are a subset of their mask, so clDice(X, X) = 1 and the score is symmetric in its arguments. With
the identity as skeleton function clDice reduces exactly to Dice, which the tests use as an independent check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal, TypeAlias, get_args

import numpy as np
import torch
from numpy.typing import NDArray
from scipy import ndimage
from skimage.morphology import skeletonize
from torch import Tensor
from torchmetrics import Metric

from minivess.pipelines.metrics._inputs import (
    BoolArray,
    MaskInput,
    as_bool_mask,
    as_mask_pair,
    check_threshold,
)

logger = logging.getLogger(__name__)

SkeletonizeFn: TypeAlias = Callable[[BoolArray], NDArray[Any]]
"""Maps a boolean mask to its skeleton (same shape, a subset of the mask)."""

ClDiceVariant: TypeAlias = Literal["reference", "fallback"]
"""``"reference"``: skimage's skeleton as is (the paper's code); ``"fallback"``: vanished components kept whole."""

_VARIANTS: tuple[str, ...] = get_args(ClDiceVariant)

# skimage's skeletonize is unannotated; binding it to a typed name keeps mypy strict without an ignore.
_default_skeletonize: SkeletonizeFn = skeletonize


def _checked_skeleton(mask: BoolArray, skeletonize_fn: SkeletonizeFn | None) -> BoolArray:
    """The skeleton function's output for a non-empty mask, validated (may be empty)."""
    fn = skeletonize_fn if skeletonize_fn is not None else _default_skeletonize
    skel = np.asarray(fn(mask), dtype=np.bool_)
    if skel.shape != mask.shape:
        raise ValueError(f"skeletonize_fn returned shape {skel.shape} for a mask of shape {mask.shape}.")
    if (skel & ~mask).any():
        raise ValueError("skeletonize_fn returned voxels outside the mask; a skeleton must be a subset of it.")
    return skel


def reference_skeleton(mask: BoolArray, skeletonize_fn: SkeletonizeFn | None = None) -> BoolArray:
    """Skeletonise a mask as the reference clDice does; a mask whose skeleton vanished is its own skeleton.

    Args:
        mask: Boolean mask, 2D or 3D.
        skeletonize_fn: Skeleton function; defaults to ``skimage.morphology.skeletonize``
            (Lee's 3D thinning for volumes, Zhang's for 2D images).

    Returns:
        A boolean array, a subset of ``mask``; non-empty whenever ``mask`` is non-empty.

    Raises:
        ValueError: If ``skeletonize_fn`` returns another shape or voxels outside the mask.
    """
    if not mask.any():
        return np.zeros(mask.shape, dtype=np.bool_)
    skel = _checked_skeleton(mask, skeletonize_fn)
    if not skel.any():
        logger.debug("clDice: the whole skeleton of a %d-voxel mask vanished; using the mask", int(mask.sum()))
        return mask.copy()
    return skel


def skeleton_with_fallback(mask: BoolArray, skeletonize_fn: SkeletonizeFn | None = None) -> BoolArray:
    """Skeletonise a mask; components left without any skeleton voxel keep all their voxels.

    Args:
        mask: Boolean mask, 2D or 3D.
        skeletonize_fn: Skeleton function; defaults to ``skimage.morphology.skeletonize``.

    Returns:
        A boolean array, a subset of ``mask``; non-empty whenever ``mask`` is non-empty.

    Raises:
        ValueError: If ``skeletonize_fn`` returns another shape or voxels outside the mask.
    """
    if not mask.any():
        return np.zeros(mask.shape, dtype=np.bool_)
    skel = _checked_skeleton(mask, skeletonize_fn)
    labels, n_components = ndimage.label(mask, structure=ndimage.generate_binary_structure(mask.ndim, mask.ndim))
    skeleton_voxels = np.bincount(labels[skel], minlength=n_components + 1)
    vanished = np.flatnonzero(skeleton_voxels[1:] == 0) + 1
    if vanished.size:
        logger.debug("skeleton fallback: %d of %d components had an empty skeleton", vanished.size, n_components)
        skel = skel | np.isin(labels, vanished)
    return skel


def _check_variant(variant: str) -> ClDiceVariant:
    """Return ``variant`` if it names a clDice variant.

    Raises:
        ValueError: For any other string.
    """
    if variant == "reference":
        return "reference"
    if variant == "fallback":
        return "fallback"
    raise ValueError(f"clDice variant must be one of {_VARIANTS}, got {variant!r}.")


def cldice_from_masks(
    pred: BoolArray,
    target: BoolArray,
    skeletonize_fn: SkeletonizeFn | None = None,
    *,
    variant: ClDiceVariant = "reference",
) -> float:
    """clDice of two already-validated boolean masks of the same shape (see the module docstring).

    Args:
        pred: Predicted boolean mask.
        target: Reference boolean mask.
        skeletonize_fn: Skeleton function (default ``skimage.morphology.skeletonize``).
        variant: ``"reference"`` (default, the paper's definition) or ``"fallback"``.

    Returns:
        clDice in [0, 1].

    Raises:
        ValueError: On an unknown variant or a bad skeleton function.
    """
    skeleton_fn = skeleton_with_fallback if _check_variant(variant) == "fallback" else reference_skeleton
    pred_any, target_any = bool(pred.any()), bool(target.any())
    if not pred_any and not target_any:
        return 1.0
    if not pred_any or not target_any:
        return 0.0
    skel_pred = skeleton_fn(pred, skeletonize_fn)
    skel_target = skeleton_fn(target, skeletonize_fn)
    # Both skeletons are non-empty here (a vanished skeleton is replaced), so the denominators are > 0.
    tprec = np.count_nonzero(skel_pred & target) / np.count_nonzero(skel_pred)
    tsens = np.count_nonzero(skel_target & pred) / np.count_nonzero(skel_target)
    if tprec + tsens == 0:
        return 0.0
    return float(2.0 * tprec * tsens / (tprec + tsens))


def cldice_score(
    pred: MaskInput,
    target: MaskInput,
    *,
    threshold: float | None = None,
    skeletonize_fn: SkeletonizeFn | None = None,
) -> float:
    """Centreline Dice (clDice) of one predicted mask against its reference, as defined by the paper's code.

    Args:
        pred: Predicted mask (X, Y, Z) or (X, Y); numpy or torch; bool or 0/1 values, or probabilities
            when ``threshold`` is given.
        target: Reference mask, same shape, binary.
        threshold: If given, ``pred >= threshold`` is the predicted mask. Defaults to None (``pred``
            must already be binary).
        skeletonize_fn: Skeleton function; defaults to ``skimage.morphology.skeletonize``.

    Returns:
        clDice in [0, 1]; 1.0 when both masks are empty, 0.0 when exactly one is (other undefined cases
        in the module docstring).

    Raises:
        ValueError: On a shape mismatch, non-binary input without a threshold, or a bad skeleton function.
    """
    p, t = as_mask_pair(pred, target, threshold=threshold)
    return cldice_from_masks(p, t, skeletonize_fn, variant="reference")


def cldice_with_fallback_score(
    pred: MaskInput,
    target: MaskInput,
    *,
    threshold: float | None = None,
    skeletonize_fn: SkeletonizeFn | None = None,
) -> float:
    """clDice where components whose skeleton vanished count with all their voxels (``variant="fallback"``).

    Same arguments, conventions and errors as :func:`cldice_score`; the two differ only when some, but not
    all, components of a mask lose their whole skeleton (e.g. small false-positive specks).
    """
    p, t = as_mask_pair(pred, target, threshold=threshold)
    return cldice_from_masks(p, t, skeletonize_fn, variant="fallback")


def _split_batch(x: Tensor, name: str) -> Tensor:
    """Return (B, X, Y, Z) from (B, 1, X, Y, Z) or (B, X, Y, Z)."""
    if x.ndim == 5:
        if x.shape[1] != 1:
            raise ValueError(
                f"{name} has {x.shape[1]} channels (shape {tuple(x.shape)}); ClDiceScore takes one "
                "foreground channel: (B, 1, X, Y, Z) or (B, X, Y, Z)."
            )
        return x[:, 0]
    if x.ndim == 4:
        return x
    raise ValueError(f"{name} must be (B, 1, X, Y, Z) or (B, X, Y, Z), got shape {tuple(x.shape)}.")


class ClDiceScore(Metric):
    """Mean per-volume clDice over all volumes seen, as a torchmetrics ``Metric``.

    Each volume of a batch is scored with :func:`cldice_from_masks` (same edge-case conventions) and the
    scores are averaged with equal weight per volume. State is a running sum and count, reduced by
    summation across processes.

    Args:
        threshold: Predictions are binarised with ``preds >= threshold``. Defaults to 0.5, which leaves
            0/1 predictions unchanged. None requires binary predictions. Targets must always be binary.
        skeletonize_fn: Skeleton function; defaults to ``skimage.morphology.skeletonize``.
        variant: ``"reference"`` (default, the paper's definition) or ``"fallback"``.
        **kwargs: Passed to ``torchmetrics.Metric`` (e.g. ``dist_sync_on_step``).

    Raises:
        ValueError: On a non-finite threshold or an unknown variant.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    score_sum: Tensor
    count: Tensor

    def __init__(
        self,
        threshold: float | None = 0.5,
        skeletonize_fn: SkeletonizeFn | None = None,
        variant: ClDiceVariant = "reference",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_threshold(threshold)
        self.threshold = threshold
        self.skeletonize_fn = skeletonize_fn
        self.variant: ClDiceVariant = _check_variant(variant)
        self.add_state("score_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Score every volume of a batch.

        Args:
            preds: (B, 1, X, Y, Z) or (B, X, Y, Z) predictions (binary, or probabilities with a threshold).
            target: Binary reference masks of the same shape.

        Raises:
            ValueError: On mismatched or unsupported shapes, or non-binary values.
        """
        if tuple(preds.shape) != tuple(target.shape):
            raise ValueError(
                f"preds and target must have the same shape, got preds {tuple(preds.shape)} and "
                f"target {tuple(target.shape)}."
            )
        p_batch = as_bool_mask(_split_batch(preds, "preds"), name="preds", threshold=self.threshold)
        t_batch = as_bool_mask(_split_batch(target, "target"), name="target")
        scores = [
            cldice_from_masks(p, t, self.skeletonize_fn, variant=self.variant)
            for p, t in zip(p_batch, t_batch, strict=True)
        ]
        self.score_sum += torch.tensor(sum(scores), dtype=torch.float64, device=self.score_sum.device)
        self.count += len(scores)

    def compute(self) -> Tensor:
        """Mean clDice over all volumes seen; NaN if none were seen."""
        if int(self.count) == 0:
            return torch.tensor(float("nan"), dtype=torch.float64)
        return self.score_sum / self.count
