"""Tests for reliability bins (the ECE's binning) and the reliability diagram PNG."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from minivess.pipelines.uncertainty.calibration import CalibrationAccumulator, calibration_metrics, foreground_roi
from minivess.pipelines.uncertainty.reliability import reliability_bins, reliability_diagram_png
from tests.unit.pipelines.uncertainty.test_calibration import _volume

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR" and data[-8:-4] == b"IEND"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize("n_bins", [15, 7])
def test_bins_cover_the_region_and_reproduce_the_ece(n_bins: int) -> None:
    prob, label = _volume(0)
    roi = foreground_roi(label, prob >= 0.5, 1)
    bins = reliability_bins(prob, label, roi, n_bins=n_bins)
    assert bins.n_bins == n_bins and len(bins.counts) == n_bins + 1
    assert bins.n_voxels == int(roi.sum())
    np.testing.assert_array_equal(bins.edges, torch.linspace(0, 1, n_bins + 1, dtype=torch.float64).numpy())
    metrics = calibration_metrics(prob, label, roi, n_bins=n_bins)
    assert bins.ece() == pytest.approx(metrics.ece, abs=1e-12)
    assert bins.mce() == pytest.approx(metrics.mce, abs=1e-12)
    filled = bins.counts > 0
    lower = np.append(bins.edges[:-1], 1.0)
    upper = np.append(bins.edges[1:], 1.0)
    assert np.all(bins.mean_confidence[filled] >= lower[filled])
    assert np.all(bins.mean_confidence[filled] <= upper[filled])
    assert bins.counts[-1] == 2  # the two voxels with p == 1.0 exactly (torchmetrics' extra slot)
    assert np.isnan(bins.observed_frequency[~filled]).all()


def test_pooled_bins_are_the_sum_of_the_volumes_bins() -> None:
    acc = CalibrationAccumulator(n_bins=10)
    volumes = [_volume(seed) for seed in (1, 2)]
    for prob, label in volumes:
        acc.add(prob, label)
    summed = reliability_bins(*volumes[0], n_bins=10) + reliability_bins(*volumes[1], n_bins=10)
    pooled = acc.pooled_bins("volume")
    np.testing.assert_array_equal(pooled.counts, summed.counts)
    assert pooled.ece() == pytest.approx(acc.pooled()["volume"].ece, abs=1e-15)
    with pytest.raises(ValueError, match="same n_bins"):
        _ = summed + reliability_bins(*volumes[0], n_bins=5)


def test_diagram_is_a_png_with_several_curves(tmp_path: Path) -> None:
    prob, label = _volume(3)
    before = reliability_bins(prob, label)
    after = reliability_bins(np.clip(prob * 0.5 + 0.25, 0, 1), label)
    out = reliability_diagram_png(tmp_path / "figs" / "reliability.png", {"before": before, "after": after}, "T")
    width, height = _png_size(out)
    assert width > 200 and height > 200
    assert sorted(p.name for p in out.parent.iterdir()) == ["reliability.png"]  # no temp file left behind


def test_diagram_needs_a_curve(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one curve"):
        reliability_diagram_png(tmp_path / "r.png", {})
