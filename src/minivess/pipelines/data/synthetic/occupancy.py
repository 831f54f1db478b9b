"""A coarse occupancy grid of grown vessels, so capillary tips can join (anastomose) what they meet."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


class Occupancy:
    """Which branch first occupied each cubic cell (side ``cell_um``) of the volume's box.

    Args:
        hi: Upper corner of the box spanned by voxel centres, µm (the lower corner is 0).
        cell_um: Cell side, µm.
        margin_um: Extra space around the box that is still tracked (vessels entering or leaving).
    """

    def __init__(self, hi: FloatArray, cell_um: float, margin_um: float) -> None:
        self.cell = cell_um
        self.origin = -margin_um
        dims = np.ceil((hi + 2.0 * margin_um) / cell_um).astype(np.int64) + 1
        self.owner = np.full(tuple(int(d) for d in dims), -1, dtype=np.int32)
        # Cells whose centre lies outside the box: "crowded" for sprouting, so sprouts aim inwards.
        centres = [self.origin + (np.arange(int(d)) + 0.5) * cell_um for d in dims]
        out = [(c < 0.0) | (c > h) for c, h in zip(centres, hi, strict=True)]
        self.outside = out[0][:, None, None] | out[1][None, :, None] | out[2][None, None, :]

    def _index(self, pos: FloatArray) -> tuple[int, int, int] | None:
        shape = self.owner.shape
        i = math.floor((float(pos[0]) - self.origin) / self.cell)
        j = math.floor((float(pos[1]) - self.origin) / self.cell)
        k = math.floor((float(pos[2]) - self.origin) / self.cell)
        if 0 <= i < shape[0] and 0 <= j < shape[1] and 0 <= k < shape[2]:
            return (i, j, k)
        return None

    def mark(self, pos: FloatArray, radius: float, branch: int) -> None:
        """Claim the cells within ``radius`` of ``pos`` (a cube of cells) for ``branch`` if unclaimed."""
        centre = self._index(pos)
        if centre is None:
            return
        half = max(0, math.ceil(radius / self.cell) - 1)
        sl = tuple(slice(max(0, c - half), c + half + 1) for c in centre)
        block = self.owner[sl]
        block[block < 0] = branch

    def owner_at(self, pos: FloatArray) -> int:
        """The branch occupying the cell of ``pos`` (-1: none or outside the grid)."""
        idx = self._index(pos)
        return -1 if idx is None else int(self.owner[idx])

    def crowding(self, pos: FloatArray, reach: int = 4) -> float:
        """Share of the in-volume cells within ``reach`` cells of ``pos`` that are occupied.

        A point outside the volume counts as fully crowded, so sprouts aim inwards; near a face only
        the cells inside are counted, so the faces do not repel vessels.
        """
        centre = [math.floor((float(pos[i]) - self.origin) / self.cell) for i in range(3)]
        if not all(0 <= centre[i] < self.owner.shape[i] for i in range(3)):
            return 1.0
        sl = tuple(slice(max(0, c - reach), c + reach + 1) for c in centre)
        inside = ~self.outside[sl]
        if self.outside[tuple(centre)] or not inside.any():
            return 1.0
        return float(np.count_nonzero((self.owner[sl] >= 0) & inside)) / float(np.count_nonzero(inside))
