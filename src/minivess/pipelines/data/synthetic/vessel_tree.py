"""Vessel trees as tapered centreline segments in physical (µm) coordinates, and their geometry rules."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def radius_floor_um(spacing: tuple[float, float, float]) -> float:
    """Smallest radius that keeps a rendered vessel 26-connected at this spacing.

    A centreline point always lies within half a voxel diagonal of the nearest voxel centre, so a
    vessel at least that thick leaves no gaps between consecutive voxels, however it is oriented.
    It mirrors an annotator, who marks a thin vessel on the nearest slice rather than skipping it.
    """
    return 0.5 * math.sqrt(sum(s * s for s in spacing)) * 1.02


@dataclass(frozen=True)
class CrossingPlan:
    """Where a secondary tree was aimed to pass a main trunk (a near-crossing)."""

    point_um: tuple[float, float, float]
    gap_um: float
    tree: int


@dataclass(frozen=True)
class VesselTree:
    """Centreline segments of every tree in a volume (all coordinates and radii in µm).

    Segment ``k`` runs from ``starts[k]`` (radius ``r0[k]``) to ``ends[k]`` (radius ``r1[k]``) and belongs
    to branch ``branch[k]`` of tree ``tree[k]``; branch ``b``'s parent is ``branch_parent[b]`` (-1: root).
    """

    starts: FloatArray
    ends: FloatArray
    r0: FloatArray
    r1: FloatArray
    branch: IntArray
    tree: IntArray
    branch_parent: IntArray
    branch_tree: IntArray
    n_bifurcations: int
    min_radius_um: float
    n_anastomoses: int = 0
    crossings: tuple[CrossingPlan, ...] = ()
    main_tree: str = "surface"
    root_kinds: tuple[str, ...] = ()

    @property
    def n_segments(self) -> int:
        """Number of centreline segments."""
        return int(self.starts.shape[0])

    @property
    def n_branches(self) -> int:
        """Number of branches (runs of segments between bifurcations)."""
        return int(self.branch_parent.shape[0])

    def lengths(self) -> FloatArray:
        """Length of every segment, µm."""
        return np.asarray(np.linalg.norm(self.ends - self.starts, axis=1), dtype=np.float64)

    def leaf_branches(self) -> IntArray:
        """Ids of branches that have no child branch (terminal vessels)."""
        has_child = np.zeros(self.n_branches, dtype=bool)
        parents = self.branch_parent[self.branch_parent >= 0]
        has_child[parents] = True
        return np.flatnonzero(~has_child).astype(np.int64)


@dataclass
class Tip:
    """A growing vessel end."""

    pos: FloatArray
    direction: FloatArray
    radius: float
    branch: int
    tree: int
    planar: bool
    target: FloatArray | None = None  # a point the tip is steered through (a planned near-crossing)
    entered: bool = True
    elevation: float = 0.0  # planar vessels: the z-component of the heading they relax towards
    floor: float = 0.0  # the branch tapers no thinner than this (its own capillary calibre)


def murray_angle(r_parent: float, r_child: float, r_other: float) -> float:
    """Murray's optimal angle (radians) between a parent and one child: cos θ = (r0⁴+r1⁴−r2⁴)/(2 r0² r1²)."""
    cos_theta = (r_parent**4 + r_child**4 - r_other**4) / (2.0 * r_parent**2 * r_child**2)
    return math.acos(min(1.0, max(-1.0, cos_theta)))
