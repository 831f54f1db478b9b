"""Tests of the realism measurements against hand-computed cases, and of the MIP pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpl_image

from minivess.pipelines.data.synthetic import SynthConfig, SyntheticVolume, generate_volume
from minivess.pipelines.data.synthetic.realism import count_branch_points, measure_realism, save_mips


def _line_skeleton(shape: tuple[int, int, int]) -> np.ndarray:
    return np.zeros(shape, dtype=bool)


def test_branch_points_of_hand_made_skeletons() -> None:
    line = _line_skeleton((20, 20, 5))
    line[2:18, 10, 2] = True
    assert count_branch_points(line) == 0
    tee = line.copy()
    tee[10, 10:18, 2] = True  # a side branch from the middle of the line
    assert count_branch_points(tee) == 1
    two = tee.copy()
    two[4, 2:10, 2] = True  # a second side branch on the other side
    assert count_branch_points(two) == 2


def _hand_volume() -> SyntheticVolume:
    """A 20×20×4 volume: a vessel block of intensity 1.0, background alternating 0.1 / 0.3."""
    mask = np.zeros((20, 20, 4), dtype=np.uint8)
    mask[8:12, :, :] = 1
    image = np.where(np.indices(mask.shape).sum(axis=0) % 2 == 0, 0.1, 0.3).astype(np.float32)
    image[mask.astype(bool)] = 1.0
    return SyntheticVolume(image, mask, np.zeros_like(mask), mask.copy(), (1.0, 1.0, 1.0), {}, None)


def test_contrast_measures_match_hand_computation() -> None:
    stats = measure_realism(_hand_volume())
    # Background ≥ 3 µm from the vessel: alternating 0.1/0.3 → mean 0.2, std 0.1.
    assert stats.background_mean == pytest.approx(0.2, abs=1e-6)
    assert stats.background_std == pytest.approx(0.1, abs=1e-6)
    assert stats.vessel_mean == pytest.approx(1.0)
    assert stats.snr == pytest.approx(10.0, rel=1e-5)
    assert stats.cnr == pytest.approx(8.0, rel=1e-5)
    assert stats.vessel_fraction == pytest.approx(0.2)
    assert sum(stats.vessel_histogram) == pytest.approx(1.0)
    assert sum(stats.background_histogram) == pytest.approx(1.0)


def test_generated_volume_measures_are_plausible() -> None:
    vol = generate_volume(SynthConfig(shape=(64, 64, 16)), 0)
    stats = measure_realism(vol)
    assert stats.vessel_fraction == pytest.approx(float(vol.clean_mask.mean()))
    assert stats.cnr > 2.0 and stats.snr > stats.cnr
    assert 1.0 <= stats.radius_um["p50"] <= 6.0
    assert stats.true_radius_um["p10"] >= vol.params["stats"]["min_radius_um"] - 1e-9
    assert stats.branch_points >= 1
    assert stats.length_density_mm_per_mm3 > 0


def test_save_mips_writes_two_scaled_pngs(tmp_path: Path) -> None:
    vol = generate_volume(SynthConfig(shape=(48, 40, 16)), 1)
    image_png, mask_png = save_mips(vol, tmp_path / "img", "v", scale=2)
    assert image_png.name == "v_image_mip.png" and mask_png.name == "v_mask_mip.png"
    pic = mpl_image.imread(image_png)
    assert pic.shape[:2] == (80, 96)  # rows = Y × 2, columns = X × 2
    mask_pic = mpl_image.imread(mask_png)
    assert mask_pic.ndim == 2  # single-channel grey
    expected = np.kron(vol.mask.max(axis=2).T, np.ones((2, 2)))
    assert np.array_equal(mask_pic > 0.5, expected > 0)
    with pytest.raises(ValueError):
        save_mips(vol, tmp_path, "bad", scale=0)
