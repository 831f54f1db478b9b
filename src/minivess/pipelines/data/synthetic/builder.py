"""Grow vessel trees step by step: random-walk tips, Murray bifurcations, sprouts, anastomoses."""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from minivess.pipelines.data.synthetic.config import DomainShift, TreeConfig
from minivess.pipelines.data.synthetic.occupancy import Occupancy
from minivess.pipelines.data.synthetic.vessel_tree import (
    CrossingPlan,
    FloatArray,
    Tip,
    VesselTree,
    murray_angle,
    radius_floor_um,
)

logger = logging.getLogger(__name__)


@dataclass
class TreeBuilder:
    """Grows trees segment by segment; ``build()`` freezes the result into a VesselTree."""

    cfg: TreeConfig
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    shift: DomainShift
    rng: np.random.Generator
    starts: list[FloatArray] = field(default_factory=list)
    ends: list[FloatArray] = field(default_factory=list)
    r0: list[float] = field(default_factory=list)
    r1: list[float] = field(default_factory=list)
    seg_branch: list[int] = field(default_factory=list)
    seg_tree: list[int] = field(default_factory=list)
    branch_parent: list[int] = field(default_factory=list)
    branch_tree: list[int] = field(default_factory=list)
    length_inside: dict[int, float] = field(default_factory=dict)
    inside_segments: dict[int, list[int]] = field(default_factory=dict)
    inside_all: list[int] = field(default_factory=list)
    crossings: list[CrossingPlan] = field(default_factory=list)
    n_bifurcations: int = 0
    n_anastomoses: int = 0
    volume_inside: float = 0.0  # estimated vessel volume inside the box, µm³

    def __post_init__(self) -> None:
        # The box spanned by voxel centres: a centreline inside it is always rendered.
        self.hi = np.array([(n - 1) * s for n, s in zip(self.shape, self.spacing, strict=True)], dtype=np.float64)
        self.hi_tuple = (float(self.hi[0]), float(self.hi[1]), float(self.hi[2]))
        scale = self.shift.radius_scale
        self.min_r = max(self.cfg.min_radius_um * scale, radius_floor_um(self.spacing))
        self.max_branch_um = 3.0 * float(np.max(self.hi)) + 10.0 * self.cfg.step_um
        margin = 2.0 * self.cfg.step_um + self.cfg.root_radius_um[1] * scale
        self.occupancy = Occupancy(self.hi, self.cfg.step_um, margin)

    def inside(self, pos: FloatArray) -> bool:
        """Whether a point lies in the box spanned by voxel centres."""
        hi = self.hi_tuple  # plain floats: this runs for every step, numpy reductions cost ~10x more
        return bool(0.0 <= pos[0] <= hi[0] and 0.0 <= pos[1] <= hi[1] and 0.0 <= pos[2] <= hi[2])

    def unit(self, vec: FloatArray, fallback: FloatArray | None = None) -> FloatArray:
        norm = float(np.linalg.norm(vec))
        if norm < 1e-9:
            return fallback if fallback is not None else np.array([1.0, 0.0, 0.0])
        return vec / norm

    def perpendicular(self, direction: FloatArray, planar: bool) -> FloatArray:
        """A random unit vector perpendicular to ``direction`` (tilted towards the xy plane if planar)."""
        vec = self.rng.standard_normal(3)
        if planar:
            vec[2] *= 1.0 - self.cfg.planar_bias
        vec -= float(vec @ direction) * direction
        return self.unit(vec, np.array([0.0, 0.0, 1.0]) if abs(direction[2]) < 0.9 else np.array([1.0, 0.0, 0.0]))

    def new_branch(self, parent: int, tree: int) -> int:
        self.branch_parent.append(parent)
        self.branch_tree.append(tree)
        return len(self.branch_parent) - 1

    def add_segment(self, a: FloatArray, b: FloatArray, ra: float, rb: float, branch: int, tree: int) -> None:
        self.starts.append(a)
        self.ends.append(b)
        self.r0.append(ra)
        self.r1.append(rb)
        self.seg_branch.append(branch)
        self.seg_tree.append(tree)
        self.occupancy.mark(b, rb, branch)
        if self.inside(b):
            length = float(np.linalg.norm(b - a))
            self.length_inside[tree] = self.length_inside.get(tree, 0.0) + length
            self.volume_inside += math.pi * (0.5 * (ra + rb)) ** 2 * length  # overlaps counted twice
            if self.inside(a):
                self.inside_segments.setdefault(tree, []).append(len(self.starts) - 1)
                self.inside_all.append(len(self.starts) - 1)

    def capillary_radius(self) -> float:
        """A capillary's own calibre: uniform in [min_r, min_r × (1 + capillary_radius_spread)]."""
        return self.min_r * (1.0 + float(self.rng.uniform(0.0, self.cfg.capillary_radius_spread)))

    def random_elevation(self) -> float:
        """The z-heading a planar branch relaxes to: shallow dives, up to ±(1 − planar_bias)."""
        return float(self.rng.uniform(-1.0, 1.0)) * (1.0 - self.cfg.planar_bias)

    def _turn(self, tip: Tip) -> FloatArray:
        """Random-walk the direction: thick vessels bend less, planar ones relax to their elevation."""
        sigma = self.cfg.curvature * math.sqrt(self.cfg.step_um) * min(1.0, self.min_r / tip.radius)
        d = self.unit(tip.direction + sigma * self.rng.standard_normal(3), tip.direction)
        if tip.target is not None:
            to_target = tip.target - tip.pos
            if float(to_target @ tip.direction) <= 0.0:
                tip.target = None  # passed it: free random walk from here on
            else:
                return self.unit(d + self.unit(to_target, d), d)
        if not tip.planar:
            return d
        # Bounce off the top and bottom of the stack so planar vessels weave through its whole depth.
        margin = tip.radius
        if tip.pos[2] < margin:
            tip.elevation = abs(tip.elevation)
        elif tip.pos[2] > self.hi[2] - margin:
            tip.elevation = -abs(tip.elevation)
        pull = 0.3
        dz = (1.0 - pull) * d[2] + pull * tip.elevation
        xy = d[:2]
        norm_xy = float(np.hypot(xy[0], xy[1]))
        if norm_xy < 1e-6:
            xy = self.rng.standard_normal(2)
            norm_xy = float(np.hypot(xy[0], xy[1]))
        xy = xy * (math.sqrt(max(0.0, 1.0 - dz * dz)) / norm_xy)
        return np.array([xy[0], xy[1], dz])

    def _murray_children(self, radius: float, side_branch: bool) -> tuple[float, float]:
        """Child radii with r^k = r_big^k + r_small^k (a side branch is a thin offshoot of a trunk)."""
        k = self.cfg.murray_exponent
        if side_branch:
            small = max(self.min_r, radius * float(self.rng.uniform(0.25, 0.5)))
            big = max(radius**k - small**k, 0.0) ** (1.0 / k)
            return max(self.min_r, big), small
        low, high = self.cfg.asymmetry
        ratio = float(self.rng.uniform(low, high))
        big = radius / (1.0 + ratio**k) ** (1.0 / k)
        return max(self.min_r, big), max(self.min_r, ratio * big)

    def _child_direction(self, direction: FloatArray, axis: FloatArray, theta: float, planar: bool) -> FloatArray:
        theta += float(self.rng.normal(0.0, math.radians(8.0)))
        d = math.cos(theta) * direction + math.sin(theta) * axis
        if planar:
            d[2] *= 1.0 - self.cfg.planar_bias
        return self.unit(d, direction)

    def bifurcate(self, tip: Tip) -> list[Tip]:
        """Split a tip in two with Murray's-law radii and Murray's optimal branching angles."""
        # A penetrating trunk sheds thin side branches and keeps its course, as in cortex.
        r_big, r_small = self._murray_children(tip.radius, side_branch=not tip.planar)
        r0 = max(tip.radius, r_big)
        theta_big = murray_angle(r0, r_big, r_small)
        theta_small = murray_angle(r0, r_small, r_big)
        axis = self.perpendicular(tip.direction, True)
        self.n_bifurcations += 1
        children = []
        for radius, theta, sign, main in ((r_big, theta_big, 1.0, True), (r_small, theta_small, -1.0, False)):
            # The larger child continues the parent's course (a penetrating trunk keeps diving).
            planar = tip.planar or not main
            d = self._child_direction(tip.direction, sign * axis, theta, planar)
            branch = self.new_branch(tip.branch, tip.tree)
            elevation = tip.elevation if main else self.random_elevation()
            # Below arteriole calibre Murray's law stops shrinking vessels: capillaries keep their own.
            floor = min(tip.radius, self.capillary_radius())
            radius = max(radius, floor)
            children.append(
                Tip(tip.pos.copy(), d, radius, branch, tip.tree, planar=planar, elevation=elevation, floor=floor)
            )
        return children

    def _joins(self, tip: Tip, pos: FloatArray, walked: float) -> bool:
        """Whether a capillary tip at ``pos`` has run into another vessel (anastomosis)."""
        if tip.target is not None or tip.radius > 1.5 * self.min_r or walked < 3.0 * self.cfg.step_um:
            return False
        other = self.occupancy.owner_at(pos)
        if other < 0 or other == tip.branch:
            return False
        parent = self.branch_parent[tip.branch]
        return other != parent and self.branch_parent[other] != tip.branch

    def walk(self, tip: Tip, budget: float, tips: deque[Tip]) -> None:
        """Advance one tip until it leaves the volume, joins another vessel or bifurcates.

        Once the tree's length budget is spent a tip may still run one branch interval (so it can
        reach a neighbour or the volume's edge) before it stops.
        """
        step, taper = self.cfg.step_um, self.cfg.taper_length_um
        next_split = float(self.rng.exponential(self.cfg.branch_interval_um))
        walked, outside_steps, grace = 0.0, 0, self.cfg.branch_interval_um
        while walked < self.max_branch_um and grace > 0.0:
            if self.inside(tip.pos):
                tip.entered = True
            elif tip.entered or outside_steps > 30:
                return
            else:
                outside_steps += 1
            direction = self._turn(tip)
            new_pos = tip.pos + step * direction
            new_r = max(self.min_r, tip.floor, tip.radius * math.exp(-step / taper))
            joined = self._joins(tip, new_pos, walked)
            self.add_segment(tip.pos, new_pos, tip.radius, new_r, tip.branch, tip.tree)
            tip.pos, tip.direction, tip.radius = new_pos, direction, new_r
            walked += step
            if joined:
                self.n_anastomoses += 1
                return
            under_budget = self.length_inside.get(tip.tree, 0.0) < budget
            if not under_budget and tip.target is None:  # an aimed tip always reaches its target
                grace -= step
            if under_budget and tip.target is None and walked >= next_split and self.inside(new_pos):
                tips.extend(self.bifurcate(tip))
                return

    def sprout(self, tree: int | None, candidates: int = 12, probes: int = 8) -> Tip | None:
        """Start a capillary side branch towards the least vascularised place (space filling).

        The emptiest of a few random points of the volume (fewest occupied cells nearby) is the
        target; the sprout starts at the closest of a few random points on the tree's vessels and
        heads for it. Tissue needs a capillary within tens of µm everywhere, which this mimics
        without simulating oxygen.
        """
        segs = self.inside_all if tree is None else self.inside_segments.get(tree, [])
        if not segs:
            return None
        voids = self.rng.uniform(0.0, 1.0, size=(probes, 3)) * self.hi
        void = min(voids, key=lambda v: self.occupancy.crowding(v))
        options: list[tuple[float, int, float]] = []
        for _ in range(max(1, candidates)):
            k = segs[int(self.rng.integers(len(segs)))]
            t = float(self.rng.uniform())
            distance = float(np.linalg.norm(self.starts[k] + t * (self.ends[k] - self.starts[k]) - void))
            options.append((distance, k, t))
        _, k, t = min(options, key=lambda o: o[0])
        a, b = self.starts[k], self.ends[k]
        pos = a + t * (b - a)
        r_parent = self.r0[k] + t * (self.r1[k] - self.r0[k])
        radius = max(self.min_r, min(r_parent, self.capillary_radius()))
        heading = self.unit(void - pos, self.perpendicular(self.unit(b - a), True))
        heading = self.unit(heading + 0.3 * self.rng.standard_normal(3), heading)
        limit = 1.0 - self.cfg.planar_bias
        elevation = min(limit, max(-limit, float(heading[2])))
        self.n_bifurcations += 1
        owner = self.seg_tree[k]
        branch = self.new_branch(self.seg_branch[k], owner)
        return Tip(pos, heading, radius, branch, owner, planar=True, elevation=elevation, floor=radius)

    def grow(self, root: Tip, budget: float) -> None:
        """Grow one tree from ``root`` until its in-volume centreline length reaches ``budget`` µm.

        The tree bifurcates until ``1 - capillary_share`` of the budget is used; the rest is grown as
        void-seeking capillary sprouts (see ``sprout``), which spreads vessels through the volume.
        """
        tips: deque[Tip] = deque([root])
        split_budget = budget * (1.0 - self.cfg.capillary_share)
        max_sprouts = int(4 * budget / self.cfg.step_um) + 10
        sprouts = 0
        while True:
            while tips:
                self.walk(tips.popleft(), split_budget, tips)
            if self.length_inside.get(root.tree, 0.0) >= budget or sprouts >= max_sprouts:
                return
            tip = self.sprout(root.tree)
            if tip is None:
                return
            tips.append(tip)
            sprouts += 1

    def top_up(self, tree: int | None, target_volume_um3: float) -> None:
        """Add capillary sprouts until the estimated vessel volume reaches ``target_volume_um3``.

        Guards the rare volume whose trunk is thin and whose length budget fills quickly, so every
        volume keeps a usable share of vessel voxels. Each sprout runs at most one branch interval.
        """
        for _ in range(int(4 * target_volume_um3 / max(self.min_r**2 * self.cfg.step_um, 1e-9)) + 10):
            if self.volume_inside >= target_volume_um3:
                return
            tip = self.sprout(tree)
            if tip is None:
                return
            tips: deque[Tip] = deque([tip])
            self.walk(tip, 0.0, tips)  # budget 0: no bifurcations, just the grace length

    def build(self) -> VesselTree:
        """Freeze the grown segments into arrays."""
        n = len(self.starts)
        return VesselTree(
            starts=np.array(self.starts, dtype=np.float64).reshape(n, 3),
            ends=np.array(self.ends, dtype=np.float64).reshape(n, 3),
            r0=np.array(self.r0, dtype=np.float64),
            r1=np.array(self.r1, dtype=np.float64),
            branch=np.array(self.seg_branch, dtype=np.int64),
            tree=np.array(self.seg_tree, dtype=np.int64),
            branch_parent=np.array(self.branch_parent, dtype=np.int64),
            branch_tree=np.array(self.branch_tree, dtype=np.int64),
            n_bifurcations=self.n_bifurcations,
            n_anastomoses=self.n_anastomoses,
            min_radius_um=self.min_r,
            crossings=tuple(self.crossings),
        )
