"""The vessel network of one volume: a main tree, near-crossing secondary trees and their connectors."""

from __future__ import annotations

import dataclasses
import logging
import math

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from minivess.pipelines.data.synthetic.builder import TreeBuilder
from minivess.pipelines.data.synthetic.config import DomainShift, TreeConfig
from minivess.pipelines.data.synthetic.vessel_tree import CrossingPlan, FloatArray, Tip, VesselTree

logger = logging.getLogger(__name__)


def grow_network(
    cfg: TreeConfig,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    shift: DomainShift,
    rng: np.random.Generator,
) -> VesselTree:
    """Grow every vessel of one volume.

    One main tree per ``root_area_um2`` of field (at least one) enters through a side face (a
    surface-parallel vessel) or the top face (a penetrating vessel); together they fill most of the
    length budget, and each is joined to the trees before it (by anastomosis or a connector). Each
    secondary tree enters elsewhere, is aimed to pass within a few µm of tree 0's trunk without
    touching it (a near-crossing), and is then joined to the network far from that crossing.

    Args:
        cfg: Tree growth parameters.
        shape: Volume shape (X, Y, Z) in voxels.
        spacing: Voxel spacing (X, Y, Z) in µm.
        shift: Domain shift (vessel density and radius multipliers are used here).
        rng: The random generator; the same state gives the same network.

    Returns:
        The network's segments.
    """
    builder = TreeBuilder(cfg, shape, spacing, shift, rng)
    extent = math.prod(n * s for n, s in zip(shape, spacing, strict=True))
    total = cfg.length_density_per_um2 * shift.vessel_density * extent
    share = cfg.crossing_tree_share
    n_roots = max(1, round(shape[0] * spacing[0] * shape[1] * spacing[1] / cfg.root_area_um2))
    root_budget = total * (1.0 - cfg.n_crossing_trees * share) / n_roots
    kinds: list[str] = []
    placed: list[FloatArray] = []
    first_radius = 0.0
    for tree in range(n_roots):
        radius = _root_radius(cfg, shift, builder.min_r, rng)
        first_radius = first_radius or radius
        branch = builder.new_branch(-1, tree)
        penetrating = bool(rng.uniform() < cfg.penetrating_probability)
        if penetrating:
            root = _penetrating_root(builder, radius, branch, tree, placed)
        else:
            root = _side_root(builder, radius, branch, tree)
        kinds.append("penetrating" if penetrating else "surface")
        placed.append(root.pos)
        builder.grow(root, root_budget)
        if tree > 0:
            _connect(builder, tree, None)
    for tree in range(n_roots, n_roots + cfg.n_crossing_trees):
        plan = _aim_secondary(builder, tree, first_radius, rng)
        if plan is None:
            logger.debug("no trunk point of tree 0 inside the volume; secondary tree %d skipped", tree)
            continue
        tip, crossing = plan
        builder.new_branch(-1, tree)
        builder.grow(tip, total * share)
        builder.crossings.append(crossing)
        if cfg.connect_crossing_trees:
            _connect(builder, tree, crossing)
    builder.top_up(None, cfg.min_vessel_fraction * extent)
    return dataclasses.replace(builder.build(), main_tree=kinds[0], root_kinds=tuple(kinds))


def _root_radius(cfg: TreeConfig, shift: DomainShift, min_r: float, rng: np.random.Generator) -> float:
    low, high = cfg.root_radius_um
    return max(min_r, float(rng.uniform(low, high)) * shift.radius_scale)


def _side_root(builder: TreeBuilder, radius: float, branch: int, tree: int) -> Tip:
    """A surface-parallel vessel entering through one of the four side faces."""
    rng, hi = builder.rng, builder.hi
    axis = int(rng.integers(2))
    other = 1 - axis
    from_low = bool(rng.integers(2))
    pos = np.zeros(3)
    pos[axis] = -builder.cfg.step_um if from_low else hi[axis] + builder.cfg.step_um
    pos[other] = float(rng.uniform(0.15, 0.85)) * hi[other]
    pos[2] = float(rng.uniform(0.15, 0.85)) * hi[2]
    angle = float(rng.uniform(-0.6, 0.6))
    inward = np.zeros(3)
    inward[axis] = 1.0 if from_low else -1.0
    inward[other] = math.tan(angle)
    inward[2] = float(rng.normal(0.0, 0.05))
    return Tip(pos, builder.unit(inward), radius, branch, tree, planar=True, entered=False)


def _penetrating_root(builder: TreeBuilder, radius: float, branch: int, tree: int, placed: list[FloatArray]) -> Tip:
    """A penetrating vessel diving from the top face (z = 0), placed away from earlier roots."""
    rng, hi = builder.rng, builder.hi
    candidates = np.column_stack([rng.uniform(0.1, 0.9, 8) * hi[0], rng.uniform(0.1, 0.9, 8) * hi[1]])
    if placed:
        others = np.array([p[:2] for p in placed])
        spread = np.min(np.linalg.norm(candidates[:, None, :] - others[None, :, :], axis=-1), axis=1)
        xy = candidates[int(np.argmax(spread))]  # Mitchell's best candidate: spread the roots out
    else:
        xy = candidates[0]
    pos = np.array([xy[0], xy[1], -builder.cfg.step_um])
    direction = builder.unit(np.array([rng.normal(0.0, 0.15), rng.normal(0.0, 0.15), 1.0]))
    return Tip(pos, direction, radius, branch, tree, planar=False, entered=False)


def _aim_secondary(
    builder: TreeBuilder, tree: int, main_r: float, rng: np.random.Generator
) -> tuple[Tip, CrossingPlan] | None:
    """A root aimed to pass the main trunk at a planned surface-to-surface gap."""
    # The trunk: tree 0's thickest vessels inside the volume (its root may split right at entry).
    own = builder.inside_segments.get(0, [])
    if not own:
        return None
    thickest = max(builder.r0[k] for k in own)
    trunk = [k for k in own if builder.r0[k] >= 0.8 * thickest]
    radius = max(builder.min_r, float(rng.uniform(0.6, 0.9)) * min(main_r, builder.cfg.root_radius_um[1]))
    gap = float(rng.uniform(*builder.cfg.crossing_gap_um))
    for _ in range(10):
        k = trunk[int(rng.integers(len(trunk)))]
        point = 0.5 * (builder.starts[k] + builder.ends[k])
        trunk_dir = builder.unit(builder.ends[k] - builder.starts[k])
        approach = _approach_direction(trunk_dir, rng)
        normal = builder.unit(np.cross(trunk_dir, approach).astype(np.float64), np.array([0.0, 0.0, 1.0]))
        separation = 0.5 * (builder.r0[k] + builder.r1[k]) + radius + gap
        candidates = [point + sign * separation * normal for sign in (1.0, -1.0)]
        # Keep the whole passing vessel inside: a target on a face would let it slip out.
        margin = np.minimum(radius, 0.5 * builder.hi)
        inside = [c for c in candidates if np.all(c >= margin) and np.all(c <= builder.hi - margin)]
        if inside:
            break
    else:
        return None
    target = inside[0]
    start = target - _distance_to_exit(target, -approach, builder.hi) * approach - builder.cfg.step_um * approach
    tip = Tip(start, approach, radius, len(builder.branch_parent), tree, planar=True, entered=False)
    tip.target = target
    crossing = CrossingPlan(point_um=(float(target[0]), float(target[1]), float(target[2])), gap_um=gap, tree=tree)
    return tip, crossing


def _approach_direction(trunk_dir: FloatArray, rng: np.random.Generator) -> FloatArray:
    """An in-plane direction roughly perpendicular to the trunk's in-plane heading."""
    if math.hypot(trunk_dir[0], trunk_dir[1]) < 0.3:  # penetrating trunk: any in-plane heading
        angle = float(rng.uniform(0.0, 2.0 * math.pi))
    else:
        angle = math.atan2(trunk_dir[1], trunk_dir[0]) + math.pi / 2 + float(rng.uniform(-0.5, 0.5))
    return np.array([math.cos(angle), math.sin(angle), 0.0])


def _distance_to_exit(point: FloatArray, direction: FloatArray, hi: FloatArray) -> float:
    """Distance from a point inside [0, hi] along ``direction`` to the box boundary."""
    distances = []
    for axis in range(3):
        if direction[axis] > 1e-9:
            distances.append((hi[axis] - point[axis]) / direction[axis])
        elif direction[axis] < -1e-9:
            distances.append(-point[axis] / direction[axis])
    return float(min(distances)) if distances else 0.0


def _connect(builder: TreeBuilder, tree: int, crossing: CrossingPlan | None) -> None:
    """Join ``tree`` to the trees grown before it by a capillary (away from its planned crossing)."""
    # Own points: segment ends pulled into the volume, kept where that stays inside the vessel (a
    # tree that only grazes a face has no segment fully inside but may still show).
    own, own_list = [], []
    for k in range(len(builder.ends)):
        if builder.seg_tree[k] == tree:
            clipped = np.clip(builder.ends[k], 0.0, builder.hi)
            if float(np.linalg.norm(clipped - builder.ends[k])) <= 0.5 * builder.r1[k]:
                own.append(k)
                own_list.append(clipped)
    others = [k for t in range(tree) for k in builder.inside_segments.get(t, [])]
    if not own or not others:
        return
    own_pts = np.array(own_list)
    other_pts = np.array([builder.ends[k] for k in others])
    own_idx: NDArray[np.intp] = np.arange(len(own))
    other_idx: NDArray[np.intp] = np.arange(len(others))
    if crossing is not None:
        cross = np.asarray(crossing.point_um)
        keep_out = 15.0 + 3.0 * (crossing.gap_um + builder.cfg.root_radius_um[1])
        own_ok = np.linalg.norm(own_pts - cross, axis=1) > keep_out
        other_ok = np.linalg.norm(other_pts - cross, axis=1) > keep_out
        if own_ok.any() and other_ok.any():
            own_idx, other_idx = np.flatnonzero(own_ok).astype(np.intp), np.flatnonzero(other_ok).astype(np.intp)
    dist, nearest = cKDTree(other_pts[other_idx]).query(own_pts[own_idx])
    best = int(np.argmin(dist))
    k_own = own[int(own_idx[best])]
    k_other = others[int(other_idx[int(nearest[best])])]
    # Centrelines closer than half their radii overlap clearly: the voxels already connect.
    if float(dist[best]) <= 0.5 * (builder.r1[k_own] + builder.r1[k_other]):
        return
    _add_connector(builder, own_pts[own_idx[best]], builder.ends[k_other], builder.seg_branch[k_own], tree)


def _add_connector(builder: TreeBuilder, a: FloatArray, b: FloatArray, parent: int, tree: int) -> None:
    """A gently curved capillary from ``a`` to ``b`` (a sine bow, so it is not ruler-straight)."""
    length = float(np.linalg.norm(b - a))
    n_seg = max(1, math.ceil(length / builder.cfg.step_um))
    axis = builder.perpendicular(builder.unit(b - a), True)
    bow = float(builder.rng.uniform(-0.15, 0.15)) * length
    t = np.linspace(0.0, 1.0, n_seg + 1)
    points = a[None, :] + t[:, None] * (b - a)[None, :] + (bow * np.sin(np.pi * t))[:, None] * axis[None, :]
    points = np.clip(points, 0.0, builder.hi)  # a connector must stay rendered end to end
    branch = builder.new_branch(parent, tree)
    builder.n_bifurcations += 1
    r = builder.min_r
    for i in range(n_seg):
        builder.add_segment(points[i], points[i + 1], r, r, branch, tree)


def realised_crossing_gaps(tree: VesselTree, reach_um: float = 10.0) -> list[float | None]:
    """Surface-to-surface gap actually left at each planned near-crossing (negative: they touch).

    The gap is the smallest distance between the secondary tree's surface within ``reach_um`` of the
    planned point and the main tree's surface; None when the secondary tree never came that close.
    """
    gaps: list[float | None] = []
    t = np.linspace(0.0, 1.0, 7)[None, :, None]

    def samples(sel: NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
        a, b = tree.starts[sel][:, None, :], tree.ends[sel][:, None, :]
        ra, rb = tree.r0[sel][:, None], tree.r1[sel][:, None]
        return (a + t * (b - a)).reshape(-1, 3), (ra + t[..., 0] * (rb - ra)).reshape(-1)

    main_pts, main_r = samples(tree.tree == 0)
    index = cKDTree(main_pts) if len(main_pts) else None
    for crossing in tree.crossings:
        pts, radii = samples(tree.tree == crossing.tree)
        near = np.linalg.norm(pts - np.asarray(crossing.point_um), axis=1) <= reach_um
        if index is None or not near.any():
            gaps.append(None)
            continue
        dist, nearest = index.query(pts[near])
        gaps.append(float(np.min(dist - radii[near] - main_r[nearest])))
    return gaps
