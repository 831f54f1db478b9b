"""Segmentation metrics for vessel volumes: Dice, clDice, NSD and HD95 (definitions in docs/metrics.md)."""

from __future__ import annotations

from minivess.pipelines.metrics.cldice import (
    ClDiceScore,
    ClDiceVariant,
    cldice_score,
    cldice_with_fallback_score,
    reference_skeleton,
    skeleton_with_fallback,
)
from minivess.pipelines.metrics.overlap import dice_score
from minivess.pipelines.metrics.surface import (
    field_of_view_diagonal_um,
    hausdorff_distance_95,
    normalized_surface_dice,
)
from minivess.pipelines.metrics.volume_metrics import (
    METRIC_NAMES,
    VolumeMetrics,
    compute_volume_metrics,
    summarise,
)

__all__ = [
    "METRIC_NAMES",
    "ClDiceScore",
    "ClDiceVariant",
    "VolumeMetrics",
    "cldice_score",
    "cldice_with_fallback_score",
    "compute_volume_metrics",
    "dice_score",
    "field_of_view_diagonal_um",
    "hausdorff_distance_95",
    "normalized_surface_dice",
    "reference_skeleton",
    "skeleton_with_fallback",
    "summarise",
]
