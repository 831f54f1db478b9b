"""Tests of label-noise injection: the ledger must be the exact ground truth of what changed where."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minivess.pipelines.data.synthetic import LabelNoiseConfig, LabelNoiseLedger, SynthConfig, generate_volume

NOISY = SynthConfig(shape=(48, 48, 16), label_noise=LabelNoiseConfig())


def _diff(clean: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return clean.astype(bool) & ~mask.astype(bool), ~clean.astype(bool) & mask.astype(bool)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_ledger_per_slice_counts_equal_the_actual_difference(seed: int) -> None:
    vol = generate_volume(NOISY, seed)
    ledger = vol.ledger
    assert ledger is not None and ledger.corrupted
    removed, added = _diff(vol.clean_mask, vol.mask)
    assert ledger.per_slice_removed == removed.sum(axis=(0, 1)).tolist()
    assert ledger.per_slice_added == added.sum(axis=(0, 1)).tolist()
    # The records partition the difference: their per-slice counts add up exactly.
    nz = vol.mask.shape[2]
    rec_removed, rec_added = np.zeros(nz, dtype=int), np.zeros(nz, dtype=int)
    for record in ledger.records:
        for s in record.slices:
            rec_removed[s.z] += s.removed
            rec_added[s.z] += s.added
        assert record.voxels_removed == sum(s.removed for s in record.slices)
        assert record.voxels_added == sum(s.added for s in record.slices)
        x0, y0, z0, x1, y1, z1 = record.bbox
        assert 0 <= x0 < x1 <= 48 and 0 <= y0 < y1 <= 48 and 0 <= z0 < z1 <= nz
        assert all(z0 <= z < z1 for z in record.z_indices)
    assert rec_removed.tolist() == ledger.per_slice_removed
    assert rec_added.tolist() == ledger.per_slice_added


def test_every_changed_voxel_lies_in_some_record_bbox() -> None:
    for seed in range(4):
        vol = generate_volume(NOISY, seed)
        assert vol.ledger is not None
        changed = vol.clean_mask != vol.mask
        covered = np.zeros_like(changed)
        for record in vol.ledger.records:
            x0, y0, z0, x1, y1, z1 = record.bbox
            covered[x0:x1, y0:y1, z0:z1] = True
        assert changed.any() and not (changed & ~covered).any()


def test_corruption_kinds_change_labels_in_their_direction() -> None:
    kinds: Counter[str] = Counter()
    for seed in range(8):
        vol = generate_volume(NOISY, seed)
        assert vol.ledger is not None
        for record in vol.ledger.records:
            kinds[record.kind] += 1
            if record.kind in ("dropped_segment", "eroded"):
                assert record.voxels_added == 0 and record.voxels_removed > 0
            else:
                assert record.voxels_removed == 0 and record.voxels_added > 0
            assert (record.branch is not None) == (record.kind == "dropped_segment")
    assert set(kinds) == {"dropped_segment", "eroded", "dilated", "spurious_blob"}


def test_dropped_branch_removes_voxels_along_that_branch_only() -> None:
    noise = LabelNoiseConfig(dropped_segments=1, eroded_regions=0, dilated_regions=0, spurious_blobs=0)
    vol = generate_volume(NOISY.model_copy(update={"label_noise": noise}), 3)
    assert vol.ledger is not None and vol.tree is not None
    (record,) = vol.ledger.records
    removed, added = _diff(vol.clean_mask, vol.mask)
    assert not added.any() and removed.sum() == record.voxels_removed
    own = vol.tree.branch == record.branch
    assert (0.5 * (vol.tree.r0[own] + vol.tree.r1[own])).mean() <= noise.max_drop_radius_um
    # Every removed voxel is within the dropped branch's radius of its centreline (plus a voxel).
    centres = np.argwhere(removed) * np.asarray(vol.spacing)
    pts = np.concatenate([vol.tree.starts[own], vol.tree.ends[own]])
    nearest = np.min(np.linalg.norm(centres[:, None, :] - pts[None, :, :], axis=-1), axis=1)
    assert nearest.max() <= vol.tree.r0[own].max() + 3.0 + vol.tree.lengths()[own].max()


def test_volume_probability_zero_keeps_labels_clean() -> None:
    cfg = NOISY.model_copy(update={"label_noise": LabelNoiseConfig(volume_probability=0.0)})
    vol = generate_volume(cfg, 0)
    assert vol.ledger is not None and not vol.ledger.corrupted and vol.ledger.records == []
    assert np.array_equal(vol.mask, vol.clean_mask)
    assert vol.ledger.voxels_changed == 0


def test_zero_counts_change_nothing() -> None:
    none = LabelNoiseConfig(dropped_segments=0, eroded_regions=0, dilated_regions=0, spurious_blobs=0)
    vol = generate_volume(NOISY.model_copy(update={"label_noise": none}), 2)
    assert np.array_equal(vol.mask, vol.clean_mask)
    assert vol.ledger is not None and vol.ledger.corrupted and vol.ledger.records == []


@pytest.mark.parametrize("count", [1, 4])
def test_more_blobs_add_more_records(count: int) -> None:
    cfg = LabelNoiseConfig(dropped_segments=0, eroded_regions=0, dilated_regions=0, spurious_blobs=count)
    vol = generate_volume(NOISY.model_copy(update={"label_noise": cfg}), 6)
    assert vol.ledger is not None
    blobs = [r for r in vol.ledger.records if r.kind == "spurious_blob"]
    assert 1 <= len(blobs) <= count
    assert count == 1 or len(blobs) >= 2


def test_ledger_round_trips_through_json() -> None:
    vol = generate_volume(NOISY, 1)
    assert vol.ledger is not None
    again = LabelNoiseLedger.model_validate_json(vol.ledger.model_dump_json())
    assert again == vol.ledger
    assert len(again.per_slice_changed) == vol.mask.shape[2]
