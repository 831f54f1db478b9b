"""Per-volume validation metrics (Dice, clDice, NSD, HD95) in one call, and their NaN-aware summary."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from minivess.pipelines.metrics._inputs import MaskInput, as_mask_pair, check_spacing, check_tolerance
from minivess.pipelines.metrics.cldice import SkeletonizeFn, cldice_from_masks
from minivess.pipelines.metrics.overlap import dice_from_masks
from minivess.pipelines.metrics.surface import hd95_from_masks, nsd_from_masks

logger = logging.getLogger(__name__)


class VolumeMetrics(BaseModel):
    """Segmentation metrics of one predicted volume against its reference (see docs/metrics.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dice: float = Field(description="Volumetric Dice in [0, 1]; 1.0 if both masks are empty.")
    cldice: float = Field(description="Skeleton-based clDice in [0, 1]; 1.0 if both masks are empty.")
    nsd: float = Field(description="Normalised surface Dice in [0, 1] at the tolerance used; 1.0 if both empty.")
    hd95: float = Field(description="95th-percentile Hausdorff distance in µm; FOV diagonal if one mask is empty.")


METRIC_NAMES: tuple[str, ...] = tuple(VolumeMetrics.model_fields)
"""The metric names, in the order of :class:`VolumeMetrics`' fields (the keys of :func:`summarise`)."""


def compute_volume_metrics(
    pred: MaskInput,
    target: MaskInput,
    spacing: Sequence[float],
    nsd_tolerance_um: float = 2.0,
    *,
    threshold: float | None = None,
    skeletonize_fn: SkeletonizeFn | None = None,
) -> VolumeMetrics:
    """Compute Dice, clDice, NSD and HD95 for one validation volume.

    Args:
        pred: Predicted mask (X, Y, Z); numpy or torch; binary, or probabilities with ``threshold``.
        target: Reference mask (X, Y, Z), binary.
        spacing: Voxel size per axis in µm, same axis order as the arrays.
        nsd_tolerance_um: NSD tolerance in µm. Defaults to 2.0.
        threshold: If given, ``pred >= threshold`` is the predicted mask. Defaults to None (binary input).
        skeletonize_fn: Skeleton function for clDice; defaults to ``skimage.morphology.skeletonize``.

    Returns:
        The four metrics, with the empty-mask conventions of each metric's module.

    Raises:
        ValueError: On a shape mismatch, non-3D input, non-binary input, bad spacing or bad tolerance.
    """
    p, t = as_mask_pair(pred, target, threshold=threshold, ndims=(3,))
    voxel_spacing = check_spacing(spacing, p.ndim)
    check_tolerance(nsd_tolerance_um)
    return VolumeMetrics(
        dice=dice_from_masks(p, t),
        cldice=cldice_from_masks(p, t, skeletonize_fn),
        nsd=nsd_from_masks(p, t, voxel_spacing, nsd_tolerance_um),
        hd95=hd95_from_masks(p, t, voxel_spacing),
    )


def summarise(metrics: Sequence[VolumeMetrics]) -> dict[str, float]:
    """Mean of each metric over volumes, ignoring NaN values.

    Args:
        metrics: Per-volume results, e.g. one per validation volume.

    Returns:
        ``{"dice": ..., "cldice": ..., "nsd": ..., "hd95": ...}``; a metric that is NaN in every volume
        stays NaN.

    Raises:
        ValueError: If ``metrics`` is empty.
    """
    if not metrics:
        raise ValueError("summarise needs at least one VolumeMetrics; got an empty sequence.")
    summary: dict[str, float] = {}
    for name in METRIC_NAMES:
        values = [float(getattr(m, name)) for m in metrics]
        finite = [v for v in values if not math.isnan(v)]
        summary[name] = math.fsum(finite) / len(finite) if finite else math.nan
        if len(finite) < len(values):
            logger.debug("summarise: %s ignored %d NaN values", name, len(values) - len(finite))
    return summary
