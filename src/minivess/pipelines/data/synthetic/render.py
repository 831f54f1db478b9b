"""Rasterise vessel segments: binary masks (tapered capsules in µm) and centreline skeletons."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from minivess.pipelines.data.synthetic.vessel_tree import FloatArray, IntArray, VesselTree

Shape3 = tuple[int, int, int]
Spacing3 = tuple[float, float, float]
Region = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]


def segment_boxes(tree: VesselTree, shape: Shape3, spacing: Spacing3) -> tuple[IntArray, IntArray]:
    """Voxel bounding boxes [lo, hi) of every segment's capsule, clipped to the volume.

    Returns:
        ``(lo, hi)``, each (N, 3) int64; a segment entirely outside has ``hi <= lo`` on some axis.
    """
    s = np.asarray(spacing, dtype=np.float64)
    rmax = np.maximum(tree.r0, tree.r1)[:, None]
    low = np.minimum(tree.starts, tree.ends) - rmax
    high = np.maximum(tree.starts, tree.ends) + rmax
    lo = np.clip(np.floor(low / s).astype(np.int64), 0, np.asarray(shape))
    hi = np.clip(np.ceil(high / s).astype(np.int64) + 1, 0, np.asarray(shape))
    return lo, hi


def render_segments(
    tree: VesselTree,
    shape: Shape3,
    spacing: Spacing3,
    *,
    indices: IntArray | None = None,
    values: FloatArray | None = None,
    region: Region | None = None,
) -> tuple[NDArray[np.bool_], NDArray[np.float32]]:
    """Voxels whose centre lies within a segment's (linearly tapered) radius, in physical units.

    Each segment is evaluated only inside its own bounding box, so the cost grows with the vessel
    volume, not with the volume size times the number of segments.

    Args:
        tree: The segments.
        shape: Volume shape (X, Y, Z).
        spacing: Voxel spacing (X, Y, Z) in µm; distances are measured in µm so vessels are round.
        indices: Which segments to render (default: all).
        values: Optional per-segment value (N,); the second output holds the maximum value of the
            segments covering each voxel (0 elsewhere).
        region: Optional ((x0, x1), (y0, y1), (z0, z1)) voxel sub-box; outputs then cover only it.

    Returns:
        ``(mask, value_map)``: a bool array and a float32 array shaped like the region (or volume);
        ``value_map`` is all zeros when ``values`` is None.
    """
    if region is None:
        region = ((0, shape[0]), (0, shape[1]), (0, shape[2]))
    r_lo = np.array([b[0] for b in region], dtype=np.int64)
    r_hi = np.array([b[1] for b in region], dtype=np.int64)
    out_shape = tuple(int(v) for v in r_hi - r_lo)
    mask = np.zeros(out_shape, dtype=bool)
    value_map = np.zeros(out_shape, dtype=np.float32)
    if tree.n_segments == 0:
        return mask, value_map
    lo_all, hi_all = segment_boxes(tree, shape, spacing)
    lo_all = np.maximum(lo_all, r_lo)
    hi_all = np.minimum(hi_all, r_hi)
    chosen = np.arange(tree.n_segments) if indices is None else np.asarray(indices, dtype=np.int64)
    visible = chosen[np.all(hi_all[chosen] > lo_all[chosen], axis=1)]
    s = np.asarray(spacing, dtype=np.float64)
    for k in visible:
        lo, hi = lo_all[k], hi_all[k]
        inside = _capsule(tree, int(k), lo, hi, s)
        sl = tuple(slice(int(lo[i] - r_lo[i]), int(hi[i] - r_lo[i])) for i in range(3))
        mask[sl] |= inside
        if values is not None:
            np.maximum(value_map[sl], np.where(inside, np.float32(values[k]), np.float32(0.0)), out=value_map[sl])
    return mask, value_map


def _capsule(tree: VesselTree, k: int, lo: IntArray, hi: IntArray, s: FloatArray) -> NDArray[np.bool_]:
    """Inside-test of segment ``k``'s tapered capsule over the voxel box [lo, hi)."""
    a = tree.starts[k]
    ab = tree.ends[k] - a
    gx = (np.arange(lo[0], hi[0]) * s[0] - a[0])[:, None, None]
    gy = (np.arange(lo[1], hi[1]) * s[1] - a[1])[None, :, None]
    gz = (np.arange(lo[2], hi[2]) * s[2] - a[2])[None, None, :]
    length2 = float(ab @ ab)
    # A zero-length segment is a sphere around its start (t = 0).
    t = np.clip((gx * ab[0] + gy * ab[1] + gz * ab[2]) / max(length2, 1e-12), 0.0, 1.0)
    d2 = (gx - t * ab[0]) ** 2 + (gy - t * ab[1]) ** 2 + (gz - t * ab[2]) ** 2
    r = tree.r0[k] + t * (tree.r1[k] - tree.r0[k])
    return np.asarray(d2 <= r * r)


def rasterise_centrelines(
    tree: VesselTree, shape: Shape3, spacing: Spacing3, indices: IntArray | None = None
) -> NDArray[np.uint8]:
    """A uint8 skeleton: the voxels nearest to densely sampled centreline points (26-connected lines).

    Points are sampled every half of the smallest voxel side, so consecutive samples fall in the same
    or neighbouring voxels; lines may show staircase corners (not minimally thin).
    """
    skeleton = np.zeros(shape, dtype=np.uint8)
    chosen = np.arange(tree.n_segments) if indices is None else np.asarray(indices, dtype=np.int64)
    if chosen.size == 0:
        return skeleton
    s = np.asarray(spacing, dtype=np.float64)
    starts, ends = tree.starts[chosen], tree.ends[chosen]
    lengths = np.linalg.norm(ends - starts, axis=1)
    n_pts = np.ceil(lengths / (0.5 * float(s.min()))).astype(np.int64) + 1
    seg = np.repeat(np.arange(chosen.size), n_pts)
    first = np.repeat(np.cumsum(n_pts) - n_pts, n_pts)
    t = (np.arange(seg.size) - first) / np.repeat(np.maximum(n_pts - 1, 1), n_pts)
    points = starts[seg] + t[:, None] * (ends - starts)[seg]
    vox = np.rint(points / s).astype(np.int64)
    keep = np.all((vox >= 0) & (vox < np.asarray(shape)), axis=1)
    vox = vox[keep]
    skeleton[vox[:, 0], vox[:, 1], vox[:, 2]] = 1
    return skeleton
