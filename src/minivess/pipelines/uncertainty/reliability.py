"""Reliability diagrams of vessel probabilities: per-bin statistics and a PNG with several curves."""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from minivess.fileio import write_bytes_atomic
from minivess.pipelines.uncertainty.calibration import (
    DEFAULT_N_BINS,
    ArrayInput,
    CalibrationBins,
    calibration_voxels,
    check_n_bins,
)

logger = logging.getLogger(__name__)


def reliability_bins(
    prob: ArrayInput, label: ArrayInput, region: ArrayInput | None = None, n_bins: int = DEFAULT_N_BINS
) -> CalibrationBins:
    """Per-bin mean confidence, observed frequency and counts, binned exactly as the ECE is.

    "Confidence" is the positive-class (vessel) probability and "observed frequency" the fraction of the
    bin's voxels labelled vessel (see :mod:`.calibration`). ``CalibrationBins.ece()`` of the result equals
    :func:`.calibration.calibration_metrics`' ECE for the same inputs, and the counts sum to the number of
    voxels in ``region``.

    Args:
        prob: Vessel probability per voxel, values in [0, 1].
        label: Binary reference, same shape.
        region: Optional mask of the voxels to use; None uses all.
        n_bins: Number of equal-width bins. Defaults to 15.

    Returns:
        The bins: ``edges`` (n_bins + 1), and ``counts``, ``mean_confidence``, ``observed_frequency`` with
        n_bins + 1 slots (the last one for p == 1.0 exactly; NaN means for empty slots).

    Raises:
        ValueError: On a shape mismatch, probabilities outside [0, 1], non-binary label/region or bad n_bins.
    """
    check_n_bins(n_bins)
    p, y = calibration_voxels(prob, label, region)
    return CalibrationBins.from_voxels(p, y, n_bins)


def reliability_diagram_png(path: Path, curves: Mapping[str, CalibrationBins], title: str = "") -> Path:
    """Draw confidence vs observed frequency for several curves, with per-bin counts in a panel below.

    The top panel shows the diagonal (perfect calibration) and one line per curve over its non-empty bins,
    labelled with the curve's ECE. The bottom panel shows each curve's voxel count per bin on a log scale;
    voxels with p exactly 1.0 (torchmetrics' extra slot) are drawn as a separate bar just right of 1.0.
    The file is written atomically (readers never see half a PNG).

    Args:
        path: Output PNG file; its folder is created.
        curves: Name → bins, e.g. ``{"before": ..., "after temperature scaling": ...}``, drawn in order.
        title: Figure title.

    Returns:
        ``path``.

    Raises:
        ValueError: If ``curves`` is empty.
    """
    if not curves:
        raise ValueError("reliability_diagram_png needs at least one curve, e.g. {'before': bins}.")
    # Imported here: matplotlib costs ~0.3 s of start-up that most callers of this package never need.
    # Figure + its own Agg canvas, without pyplot, never touches the global backend.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 6.5))
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect calibration")
    n_curves = len(curves)
    colours = [f"C{i % 10}" for i in range(n_curves)]
    extra = False
    slot_width = 1.0 / DEFAULT_N_BINS
    for index, ((name, bins), colour) in enumerate(zip(curves.items(), colours, strict=True)):
        filled = bins.counts > 0
        top.plot(
            bins.mean_confidence[filled],
            bins.observed_frequency[filled],
            marker="o",
            markersize=4,
            color=colour,
            label=f"{name} (ECE {bins.ece():.4f}, n={bins.n_voxels})",
        )
        width = np.diff(bins.edges)
        slot_width = float(width[-1])
        lefts = np.append(bins.edges[:-1], 1.0)  # the p == 1.0 slot sits right of the last edge
        widths = np.append(width, slot_width) / n_curves
        extra = extra or bool(bins.counts[-1])
        bottom.bar(
            lefts + index * widths,
            np.where(bins.counts > 0, bins.counts, np.nan),
            width=widths,
            align="edge",
            color=colour,
            alpha=0.7,
        )
    top.set_xlim(0.0, 1.0 + (slot_width if extra else 0.0))
    top.set_ylim(0.0, 1.0)
    top.set_ylabel("observed vessel frequency")
    top.legend(loc="upper left", fontsize=8)
    top.set_title(title)
    bottom.set_yscale("log")
    bottom.set_ylabel("voxels per bin")
    bottom.set_xlabel("predicted vessel probability (ECE bins" + ("; last bar: p = 1.0)" if extra else ")"))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    write_bytes_atomic(path, buffer.getvalue())
    logger.debug("wrote reliability diagram %s (%d curves)", path, n_curves)
    return path
