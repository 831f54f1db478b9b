"""Synthetic vessel-like volumes for the metric tests (tubes around random line segments)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def line(shape: tuple[int, int, int], x: int, y: int, z0: int, z1: int) -> NDArray[np.bool_]:
    """A 1-voxel-thick straight line along Z at (x, y), covering z0 <= z < z1."""
    vol = np.zeros(shape, dtype=np.bool_)
    vol[x, y, z0:z1] = True
    return vol


def tubes(shape: tuple[int, int, int], seed: int, n_segments: int = 4) -> NDArray[np.bool_]:
    """Union of cylinders (radius 0.8-2.5 voxels) around random segments: branching, vessel-like."""
    rng = np.random.default_rng(seed)
    grid = np.moveaxis(np.indices(shape), 0, -1).astype(np.float64)
    vol = np.zeros(shape, dtype=np.bool_)
    upper = np.asarray(shape, dtype=np.float64) - 1
    for _ in range(n_segments):
        a = rng.uniform(0, upper)
        b = rng.uniform(0, upper)
        radius = rng.uniform(0.8, 2.5)
        ab = b - a
        t = np.clip(((grid - a) @ ab) / float(ab @ ab), 0.0, 1.0)
        closest = a + t[..., None] * ab
        vol |= np.linalg.norm(grid - closest, axis=-1) <= radius
    return vol


def perturb(vol: NDArray[np.bool_], seed: int, flip_fraction: float = 0.02) -> NDArray[np.bool_]:
    """A plausible 'prediction': the volume shifted by one voxel on a random axis, with random voxel flips."""
    rng = np.random.default_rng(seed)
    out = np.roll(vol, int(rng.choice([-1, 1])), axis=int(rng.integers(0, 3)))
    flips = rng.random(vol.shape) < flip_fraction
    return np.asarray(out ^ flips, dtype=np.bool_)
