"""Label-noise injection: corrupt a clean vessel mask and record every change in a ledger."""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

from minivess.pipelines.data.synthetic.config import LabelNoiseConfig
from minivess.pipelines.data.synthetic.ledger import (
    CorruptionKind,
    CorruptionRecord,
    LabelNoiseLedger,
    SliceChange,
)
from minivess.pipelines.data.synthetic.render import Region, render_segments, segment_boxes
from minivess.pipelines.data.synthetic.vessel_tree import VesselTree

logger = logging.getLogger(__name__)

BoolArray = NDArray[np.bool_]
Shape3 = tuple[int, int, int]
Spacing3 = tuple[float, float, float]
# In-plane cross: annotators draw slice by slice, so over/under-segmentation happens within a slice.
_INPLANE = ndi.generate_binary_structure(2, 1)[:, :, None]


class _Corrupter:
    """Applies corruptions one at a time; a voxel already changed is never changed again."""

    def __init__(self, clean: BoolArray, rng: np.random.Generator) -> None:
        self.mask = clean.copy()
        self.touched = np.zeros_like(clean)
        self.rng = rng
        self.records: list[CorruptionRecord] = []

    def apply(
        self,
        kind: CorruptionKind,
        region: Region,
        change: BoolArray,
        branch: int | None = None,
    ) -> None:
        """Flip the not-yet-changed voxels of ``change`` (bool, over ``region``) and record them."""
        sl = tuple(slice(lo, hi) for lo, hi in region)
        change = change & ~self.touched[sl]
        if not change.any():
            return
        current = self.mask[sl]
        removed = change & current
        added = change & ~current
        current[change] = ~current[change]
        self.touched[sl] |= change
        idx = np.nonzero(change)
        offset = [lo for lo, _ in region]
        bbox = tuple(int(idx[i].min()) + offset[i] for i in range(3)) + tuple(
            int(idx[i].max()) + 1 + offset[i] for i in range(3)
        )
        rem_z, add_z = removed.sum(axis=(0, 1)), added.sum(axis=(0, 1))
        slices = [
            SliceChange(z=int(z + offset[2]), removed=int(rem_z[z]), added=int(add_z[z]))
            for z in range(change.shape[2])
            if rem_z[z] or add_z[z]
        ]
        region_box = (
            None if kind == "dropped_segment" else tuple(lo for lo, _ in region) + tuple(hi for _, hi in region)
        )
        self.records.append(
            CorruptionRecord(
                kind=kind,
                bbox=bbox,
                voxels_removed=int(removed.sum()),
                voxels_added=int(added.sum()),
                slices=slices,
                branch=branch,
                region=region_box,
            )
        )


def apply_label_noise(
    clean: NDArray[np.uint8],
    tree: VesselTree,
    spacing: Spacing3,
    cfg: LabelNoiseConfig,
    rng: np.random.Generator,
) -> tuple[NDArray[np.uint8], LabelNoiseLedger]:
    """Corrupt a clean mask: drop thin terminal branches, erode and dilate regions, add blobs.

    Corruptions are applied in that order; each one only changes voxels no earlier one changed, so
    the records partition the difference between the clean and the corrupted mask exactly.

    Args:
        clean: The clean binary mask (X, Y, Z), uint8 {0, 1}.
        tree: The vessel segments the mask was rendered from (used to drop whole branches).
        spacing: Voxel spacing in µm.
        cfg: What to corrupt and how often.
        rng: Random generator (its own stream, so noise never changes the image or the clean mask).

    Returns:
        ``(mask, ledger)``: the corrupted uint8 mask and the ledger of what changed where.
    """
    shape: Shape3 = (int(clean.shape[0]), int(clean.shape[1]), int(clean.shape[2]))
    corrupter = _Corrupter(clean.astype(bool), rng)
    selected = bool(rng.uniform() < cfg.volume_probability)
    if selected:
        steps: list[tuple[int, Callable[[], None]]] = [
            (cfg.dropped_segments, lambda: _drop_branch(corrupter, tree, shape, spacing, cfg)),
            (cfg.eroded_regions, lambda: _morph_region(corrupter, cfg, erode=True)),
            (cfg.dilated_regions, lambda: _morph_region(corrupter, cfg, erode=False)),
            (cfg.spurious_blobs, lambda: _add_blob(corrupter, spacing, cfg)),
        ]
        for count, step in steps:
            for _ in range(count):
                if rng.uniform() < cfg.event_probability:
                    step()
    clean_b = clean.astype(bool)
    ledger = LabelNoiseLedger(
        shape=shape,
        corrupted=selected,
        records=corrupter.records,
        per_slice_removed=[int(v) for v in (clean_b & ~corrupter.mask).sum(axis=(0, 1))],
        per_slice_added=[int(v) for v in (~clean_b & corrupter.mask).sum(axis=(0, 1))],
    )
    return corrupter.mask.astype(np.uint8), ledger


def _drop_branch(c: _Corrupter, tree: VesselTree, shape: Shape3, spacing: Spacing3, cfg: LabelNoiseConfig) -> None:
    """Remove one thin terminal branch: the voxels only its own segments cover."""
    dropped = {r.branch for r in c.records if r.branch is not None}
    counts = np.bincount(tree.branch, minlength=tree.n_branches)
    radius_sum = np.bincount(tree.branch, weights=0.5 * (tree.r0 + tree.r1), minlength=tree.n_branches)
    mean_r = radius_sum / np.maximum(counts, 1)
    leaves = [int(b) for b in tree.leaf_branches() if counts[b] and mean_r[b] <= cfg.max_drop_radius_um]
    candidates = [b for b in leaves if b not in dropped]
    lo_all, hi_all = segment_boxes(tree, shape, spacing)
    for _ in range(5):
        if not candidates:
            return
        branch = candidates.pop(int(c.rng.integers(len(candidates))))
        own = np.flatnonzero(tree.branch == branch)
        lo, hi = lo_all[own].min(axis=0), hi_all[own].max(axis=0)
        if np.any(hi <= lo):
            continue
        region: Region = ((int(lo[0]), int(hi[0])), (int(lo[1]), int(hi[1])), (int(lo[2]), int(hi[2])))
        overlaps = np.all((hi_all > lo) & (lo_all < hi), axis=1)
        others = np.flatnonzero(overlaps & (tree.branch != branch))
        own_cov, _ = render_segments(tree, shape, spacing, indices=own, region=region)
        other_cov, _ = render_segments(tree, shape, spacing, indices=others, region=region)
        change = own_cov & ~other_cov
        sl = tuple(slice(a, b) for a, b in region)
        if (change & c.mask[sl] & ~c.touched[sl]).any():
            c.apply("dropped_segment", region, change & c.mask[sl], branch=branch)
            return


def _region_around(c: _Corrupter, cfg: LabelNoiseConfig, pad: int) -> tuple[Region, Region] | None:
    """A box centred on a random vessel voxel, and the same box padded in-plane by ``pad``."""
    vessel = np.argwhere(c.mask & ~c.touched)
    if vessel.size == 0:
        return None
    centre = vessel[int(c.rng.integers(len(vessel)))]
    shape = c.mask.shape
    half = [max(1, round(cfg.region_fraction * shape[i] / 2)) for i in range(2)]
    depth = int(c.rng.integers(cfg.region_slices[0], cfg.region_slices[1] + 1))
    z0 = int(np.clip(centre[2] - depth // 2, 0, max(0, shape[2] - depth)))
    inner: Region = (
        (max(0, centre[0] - half[0]), min(shape[0], centre[0] + half[0] + 1)),
        (max(0, centre[1] - half[1]), min(shape[1], centre[1] + half[1] + 1)),
        (z0, min(shape[2], z0 + depth)),
    )
    outer: Region = (
        (max(0, inner[0][0] - pad), min(shape[0], inner[0][1] + pad)),
        (max(0, inner[1][0] - pad), min(shape[1], inner[1][1] + pad)),
        inner[2],
    )
    return inner, outer


def _morph_region(c: _Corrupter, cfg: LabelNoiseConfig, erode: bool) -> None:
    """Erode (under-segment) or dilate (over-segment) the label in-plane inside a box."""
    boxes = _region_around(c, cfg, pad=cfg.morph_iterations)
    if boxes is None:
        return
    inner, outer = boxes
    padded = c.mask[tuple(slice(a, b) for a, b in outer)]
    if erode:
        # border_value=1: the box edge is not a vessel edge, so it must not erode the label there.
        changed = padded & ~ndi.binary_erosion(padded, _INPLANE, cfg.morph_iterations, border_value=1)
    else:
        changed = ndi.binary_dilation(padded, _INPLANE, cfg.morph_iterations) & ~padded
    crop = tuple(slice(i[0] - o[0], i[1] - o[0]) for i, o in zip(inner, outer, strict=True))
    c.apply("eroded" if erode else "dilated", inner, changed[crop])


def _add_blob(c: _Corrupter, spacing: Spacing3, cfg: LabelNoiseConfig) -> None:
    """Add a false-positive ellipsoid (in µm) at a random place; only background voxels change."""
    shape = c.mask.shape
    radius = float(c.rng.uniform(*cfg.blob_radius_um))
    semi = radius * c.rng.uniform(0.7, 1.3, size=3)
    centre = np.array([c.rng.uniform(0, shape[i] * spacing[i]) for i in range(3)])
    lo = [max(0, int(np.floor((centre[i] - semi[i]) / spacing[i]))) for i in range(3)]
    hi = [min(shape[i], int(np.ceil((centre[i] + semi[i]) / spacing[i])) + 1) for i in range(3)]
    if any(h <= lo_ for lo_, h in zip(lo, hi, strict=True)):
        return
    grids = np.ogrid[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    dist2 = sum(((g * spacing[i] - centre[i]) / semi[i]) ** 2 for i, g in enumerate(grids))
    region: Region = ((lo[0], hi[0]), (lo[1], hi[1]), (lo[2], hi[2]))
    blob = np.asarray(dist2 <= 1.0)
    c.apply("spurious_blob", region, blob & ~c.mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]])
