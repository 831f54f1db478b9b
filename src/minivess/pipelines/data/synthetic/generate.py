"""Generate one synthetic two-photon volume (image, mask, skeleton, optional label noise) from a seed."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

from minivess.pipelines.data.synthetic.config import SynthConfig
from minivess.pipelines.data.synthetic.imaging import form_image, sample_imaging_params
from minivess.pipelines.data.synthetic.label_noise import apply_label_noise
from minivess.pipelines.data.synthetic.ledger import LabelNoiseLedger
from minivess.pipelines.data.synthetic.network import grow_network, realised_crossing_gaps
from minivess.pipelines.data.synthetic.render import rasterise_centrelines, render_segments
from minivess.pipelines.data.synthetic.vessel_tree import VesselTree

logger = logging.getLogger(__name__)

GENERATOR_VERSION = "1.0.0"
"""Bumped whenever the same seed and config would give different arrays."""

_CONNECTIVITY_26 = np.ones((3, 3, 3), dtype=bool)


@dataclass(frozen=True)
class SyntheticVolume:
    """One generated volume; arrays are (X, Y, Z) with Z the depth axis.

    Attributes:
        image: float32 in units of a bright vessel's expected signal at the surface (×
            ``params["imaging"]["photons_per_unit"]`` = photons); background voxels may be slightly
            negative (unclipped zero-mean read noise).
        mask: uint8 {0, 1}; the corrupted label when label noise is on.
        skeleton: uint8 {0, 1}; the rasterised centrelines of the clean vessels.
        clean_mask: uint8 {0, 1}; the true vessels (equal to ``mask`` without label noise).
        spacing: Voxel spacing (X, Y, Z) in µm.
        params: Generation parameters and statistics (JSON-serialisable).
        ledger: What label noise changed where; None when label noise is off.
        tree: The centreline segments the volume was rendered from.
    """

    image: NDArray[np.float32]
    mask: NDArray[np.uint8]
    skeleton: NDArray[np.uint8]
    clean_mask: NDArray[np.uint8]
    spacing: tuple[float, float, float]
    params: dict[str, Any]
    ledger: LabelNoiseLedger | None = None
    tree: VesselTree | None = field(default=None, repr=False, compare=False)


def volume_seed(seed: int, index: int) -> int:
    """The seed of volume ``index`` of a dataset seeded ``seed`` (independent of generation order).

    Raises:
        ValueError: A negative seed or index.
    """
    if seed < 0 or index < 0:
        raise ValueError(f"seed ({seed}) and index ({index}) must be ≥ 0; pass a non-negative integer seed.")
    state = np.random.SeedSequence(entropy=seed, spawn_key=(index,)).generate_state(1, dtype=np.uint64)
    return int(state[0] >> np.uint64(1))  # 63 bits: fits any signed 64-bit seed API


def largest_component_fraction(mask: NDArray[np.generic]) -> float:
    """Share of foreground voxels in the largest 26-connected component (1.0 for an empty mask)."""
    labels, n = ndi.label(mask.astype(bool), structure=_CONNECTIVITY_26)
    if n == 0:
        return 1.0
    sizes = np.bincount(labels.ravel())[1:]
    return float(sizes.max() / sizes.sum())


def generate_volume(config: SynthConfig, seed: int) -> SyntheticVolume:
    """Generate one synthetic two-photon volume.

    The seed feeds three independent random streams (vessel network, imaging, label noise), so
    turning label noise on or changing imaging settings never changes the vessels.

    Args:
        config: What to generate (shape, spacing, tree, imaging, domain shift, label noise).
        seed: Non-negative integer; the same seed and config give byte-identical arrays.

    Returns:
        The volume with its arrays, parameters, statistics and (with label noise) ledger.

    Raises:
        ValueError: A negative seed.
    """
    if seed < 0:
        raise ValueError(f"seed must be ≥ 0, got {seed}; pass a non-negative integer.")
    shape = config.shape
    spacing = config.spacing
    tree_ss, image_ss, noise_ss = np.random.SeedSequence(seed).spawn(3)
    tree = grow_network(config.tree, shape, spacing, config.domain_shift, np.random.default_rng(tree_ss))
    image_rng = np.random.default_rng(image_ss)
    brightness = image_rng.lognormal(0.0, config.imaging.vessel_intensity_jitter, size=max(tree.n_branches, 1))
    mask_b, density = render_segments(tree, shape, spacing, values=brightness[tree.branch])
    clean = mask_b.astype(np.uint8)
    skeleton = rasterise_centrelines(tree, shape, spacing)
    imaging = sample_imaging_params(config.imaging, config.domain_shift, image_rng)
    image = form_image(density, spacing, imaging, image_rng)
    ledger: LabelNoiseLedger | None = None
    mask = clean
    if config.label_noise is not None:
        mask, ledger = apply_label_noise(clean, tree, spacing, config.label_noise, np.random.default_rng(noise_ss))
    params = {
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "shape": list(shape),
        "spacing_um": list(spacing),
        "image_units": "expected signal of a bright vessel at the surface (x photons_per_unit = photons)",
        "imaging": _jsonable(imaging),
        "domain_shift": config.domain_shift.model_dump(),
        "label_noise": config.label_noise is not None,
        "stats": _stats(tree, clean, mask, image),
    }
    logger.debug("generated volume seed=%d: %s", seed, params["stats"])
    return SyntheticVolume(image, mask, skeleton, clean, spacing, params, ledger, tree)


def _stats(
    tree: VesselTree, clean: NDArray[np.uint8], mask: NDArray[np.uint8], image: NDArray[np.float32]
) -> dict[str, Any]:
    vessel = clean.astype(bool)
    lengths = tree.lengths()
    return {
        "vessel_fraction": float(vessel.mean()),
        "mask_fraction": float(mask.mean()),
        "largest_component_fraction": largest_component_fraction(vessel),
        "n_segments": tree.n_segments,
        "n_branches": tree.n_branches,
        "n_bifurcations": tree.n_bifurcations,
        "n_anastomoses": tree.n_anastomoses,
        "main_tree": tree.main_tree,
        "root_kinds": list(tree.root_kinds),
        "n_trees": int(tree.branch_tree.max()) + 1 if tree.n_branches else 0,
        "crossings": [
            {"point_um": list(c.point_um), "planned_gap_um": c.gap_um, "realised_gap_um": gap}
            for c, gap in zip(tree.crossings, realised_crossing_gaps(tree), strict=True)
        ],
        "centreline_length_um": float(lengths.sum()),
        "min_radius_um": tree.min_radius_um,
        "max_radius_um": float(max(tree.r0.max(), tree.r1.max())) if tree.n_segments else 0.0,
        "image_mean_vessel": float(image[vessel].mean()) if vessel.any() else 0.0,
        "image_mean_background": float(image[~vessel].mean()) if (~vessel).any() else 0.0,
    }


def _jsonable(value: Any) -> Any:
    """Plain Python types (numpy scalars → float/int) so json.dumps never fails."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
