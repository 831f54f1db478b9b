"""Volumetric Dice of binary masks, computed with torchmetrics, with an explicit empty-mask convention."""

from __future__ import annotations

import logging
import math

import torch
from torchmetrics.functional.segmentation import dice_score as _tm_dice_score

from minivess.pipelines.metrics._inputs import BoolArray, MaskInput, as_mask_pair

logger = logging.getLogger(__name__)


def dice_from_masks(pred: BoolArray, target: BoolArray) -> float:
    """Dice = 2|P ∩ L| / (|P| + |L|) of two validated boolean masks of the same shape.

    torchmetrics returns NaN when both masks are empty; this returns 1.0 instead (perfect agreement on
    "no foreground"). Exactly one empty mask gives 0.0.

    Args:
        pred: Predicted boolean mask.
        target: Reference boolean mask.

    Returns:
        Dice in [0, 1].
    """
    # Boolean (not float) tensors on purpose: torchmetrics treats floating inputs as logits and takes an
    # argmax over the channel axis, which with a single channel turns every voxel into foreground (Dice 1.0).
    # torch.tensor copies: safe for read-only or negatively strided numpy views.
    p = torch.tensor(pred, dtype=torch.bool)[None, None]
    t = torch.tensor(target, dtype=torch.bool)[None, None]
    value = float(
        _tm_dice_score(p, t, num_classes=1, include_background=True, average="none", input_format="one-hot")
        .reshape(-1)[0]
        .item()
    )
    if math.isnan(value):
        return 1.0
    return value


def dice_score(pred: MaskInput, target: MaskInput, *, threshold: float | None = None) -> float:
    """Dice of one predicted mask against its reference (2D or 3D).

    Args:
        pred: Predicted mask (X, Y, Z) or (X, Y); numpy or torch; bool or 0/1 values, or probabilities
            when ``threshold`` is given.
        target: Reference mask, same shape, binary.
        threshold: If given, ``pred >= threshold`` is the predicted mask. Defaults to None (binary input).

    Returns:
        Dice in [0, 1]; 1.0 when both masks are empty, 0.0 when exactly one is.

    Raises:
        ValueError: On a shape mismatch or non-binary input without a threshold.
    """
    p, t = as_mask_pair(pred, target, threshold=threshold)
    return dice_from_masks(p, t)
