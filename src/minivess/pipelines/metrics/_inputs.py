"""Input checks shared by the segmentation metrics: masks, thresholds and voxel spacing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import torch
from numpy.typing import NDArray

MaskInput: TypeAlias = NDArray[np.generic] | torch.Tensor
"""A binary mask (bool or 0/1 numbers) or, with a threshold, a probability map; numpy or torch."""

BoolArray: TypeAlias = NDArray[np.bool_]


def _to_numpy(x: object, name: str) -> NDArray[np.generic]:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        # numpy has no bfloat16 (autocast output); float32 holds every bfloat16 value exactly.
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    if isinstance(x, np.ndarray):
        return x
    raise ValueError(f"{name} must be a numpy array or a torch tensor, got {type(x).__name__}.")


def check_threshold(threshold: float | None) -> None:
    """Reject a threshold that is not a finite number.

    Args:
        threshold: The probability threshold, or None for "inputs are already binary".

    Raises:
        ValueError: If the threshold is NaN or infinite.
    """
    if threshold is not None and not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number (e.g. 0.5) or None, got {threshold}.")


def as_bool_mask(x: MaskInput, *, name: str, threshold: float | None = None) -> BoolArray:
    """Turn a mask or probability map into a boolean numpy array.

    Args:
        x: A numpy array or torch tensor.
        name: The argument's name, used in error messages.
        threshold: If given, voxels with ``x >= threshold`` are foreground. If None, ``x`` must already
            be binary: bool, or numbers that are all exactly 0 or 1.

    Returns:
        A boolean array with the same shape as ``x`` (no copy when ``x`` is already a bool numpy array).

    Raises:
        ValueError: If ``x`` is neither numpy nor torch, holds NaN, or is not binary while ``threshold``
            is None.
    """
    check_threshold(threshold)
    arr = _to_numpy(x, name)
    if arr.dtype == np.bool_:
        return arr.astype(np.bool_, copy=False)
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must hold bool, integer or float values, got dtype {arr.dtype}.")
    if np.issubdtype(arr.dtype, np.floating) and bool(np.isnan(arr).any()):
        raise ValueError(f"{name} contains NaN; fix the model output before computing metrics.")
    if threshold is not None:
        return np.asarray(np.greater_equal(arr, threshold), dtype=np.bool_)
    if not bool(((arr == 0) | (arr == 1)).all()):
        raise ValueError(
            f"{name} is not binary (values other than 0 and 1, e.g. {_first_non_binary(arr)}); "
            "binarise it first or pass threshold=0.5 for probabilities."
        )
    return np.asarray(arr, dtype=np.bool_)


def _first_non_binary(arr: NDArray[np.generic]) -> object:
    bad = arr[(arr != 0) & (arr != 1)]
    return bad.flat[0].item() if bad.size else None


def as_mask_pair(
    pred: MaskInput,
    target: MaskInput,
    *,
    threshold: float | None = None,
    ndims: tuple[int, ...] = (2, 3),
) -> tuple[BoolArray, BoolArray]:
    """Validate a prediction/target pair and return both as boolean arrays.

    The threshold applies to the prediction only: the target is a label and must always be binary.

    Args:
        pred: Predicted mask, or probabilities when ``threshold`` is given.
        target: Reference mask (binary).
        threshold: Probability threshold for ``pred``; None means ``pred`` is already binary.
        ndims: Accepted numbers of spatial dimensions.

    Returns:
        ``(pred, target)`` as boolean numpy arrays.

    Raises:
        ValueError: On a shape mismatch, an unsupported number of dimensions or non-binary values.
    """
    pred_shape, target_shape = tuple(pred.shape), tuple(target.shape)
    if pred_shape != target_shape:
        raise ValueError(
            f"pred and target must have the same shape, got pred {pred_shape} and target {target_shape}; "
            "resample or crop them onto the same grid first."
        )
    if len(pred_shape) not in ndims:
        raise ValueError(
            f"pred and target must have {' or '.join(map(str, ndims))} spatial dimensions, got shape "
            f"{pred_shape}; pass one volume (X, Y, Z) without batch or channel axes."
        )
    return (
        as_bool_mask(pred, name="pred", threshold=threshold),
        as_bool_mask(target, name="target", threshold=None),
    )


def check_tolerance(tolerance_um: float) -> None:
    """Reject an NSD tolerance that is negative or not finite.

    Args:
        tolerance_um: Surface tolerance in µm.

    Raises:
        ValueError: If the tolerance is negative, NaN or infinite.
    """
    if not (math.isfinite(tolerance_um) and tolerance_um >= 0):
        raise ValueError(f"tolerance_um must be a finite number >= 0 (µm), got {tolerance_um}.")


def check_spacing(spacing: Sequence[float], ndim: int) -> tuple[float, ...]:
    """Validate a voxel spacing (in µm) against the number of spatial dimensions.

    Args:
        spacing: Voxel size along each axis, in µm, in the same axis order as the arrays.
        ndim: Number of spatial dimensions of the arrays.

    Returns:
        The spacing as a tuple of floats.

    Raises:
        ValueError: If the length differs from ``ndim`` or any value is not a finite positive number.
    """
    values = tuple(float(s) for s in spacing)
    if len(values) != ndim:
        raise ValueError(
            f"spacing must give one voxel size per axis ({ndim} values, in µm), got {len(values)}: {values}."
        )
    if not all(math.isfinite(s) and s > 0 for s in values):
        raise ValueError(f"spacing values must be finite and > 0 (µm), got {values}.")
    return values
