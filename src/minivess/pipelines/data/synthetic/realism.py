"""Realism measurements of a volume (contrast, noise, radii, density, branching) and MIP pictures."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage as ndi
from skimage import morphology

from minivess.pipelines.data.synthetic.generate import SyntheticVolume, largest_component_fraction

logger = logging.getLogger(__name__)

#: Background voxels closer than this to a vessel hold PSF spill-over and haze; they are skipped.
BACKGROUND_CLEARANCE_UM = 3.0


class RealismStats(BaseModel):
    """What the realism check measures on one volume (all lengths in µm)."""

    model_config = ConfigDict(extra="forbid")

    vessel_fraction: float = Field(description="Share of voxels labelled vessel (clean mask).")
    largest_component_fraction: float = Field(description="Share of vessel voxels in the largest 26-component.")
    vessel_mean: float = Field(description="Mean image intensity inside vessels.")
    background_mean: float = Field(description="Mean intensity of background ≥ 3 µm from any vessel.")
    background_std: float = Field(description="Standard deviation of that background.")
    snr: float = Field(description="vessel_mean / background_std.")
    cnr: float = Field(description="(vessel_mean − background_mean) / background_std.")
    radius_um: dict[str, float] = Field(
        description="Percentiles (p10, p50, p90) and mean of the distance transform sampled on the "
        "measured skeleton: the local radius, biased up by ~half a voxel by the voxel grid."
    )
    true_radius_um: dict[str, float] = Field(
        description="Length-weighted percentiles of the generator's centreline radii (ground truth)."
    )
    branch_points: int = Field(description="Junction clusters (≥ 3 neighbours) of the measured skeleton.")
    branch_point_density_per_mm3: float = Field(description="branch_points per mm³ of tissue.")
    length_density_mm_per_mm3: float = Field(
        description="Generator centreline length inside the volume per tissue volume (mm/mm³)."
    )
    histogram_edges: list[float] = Field(description="Intensity histogram bin edges (shared by both).")
    vessel_histogram: list[float] = Field(description="Normalised intensity histogram inside vessels.")
    background_histogram: list[float] = Field(description="Normalised histogram of the clear background.")


def _percentiles(values: NDArray[np.float64], weights: NDArray[np.float64] | None = None) -> dict[str, float]:
    if values.size == 0:
        return {"p10": 0.0, "p50": 0.0, "p90": 0.0, "mean": 0.0}
    if weights is None:
        weights = np.ones_like(values)
    order = np.argsort(values)
    cdf = np.cumsum(weights[order]) / weights.sum()
    ranked = values[order]
    pick = {q: float(ranked[min(int(np.searchsorted(cdf, q / 100.0)), values.size - 1)]) for q in (10, 50, 90)}
    return {
        "p10": pick[10],
        "p50": pick[50],
        "p90": pick[90],
        "mean": float(np.average(values, weights=weights)),
    }


def count_branch_points(skeleton: NDArray[np.bool_]) -> int:
    """Junctions of a 3D skeleton: 26-connected clusters of voxels with ≥ 3 skeleton neighbours."""
    kernel = np.ones((3, 3, 3), dtype=np.int32)
    kernel[1, 1, 1] = 0
    neighbours = ndi.convolve(skeleton.astype(np.int32), kernel, mode="constant")
    junction = skeleton & (neighbours >= 3)
    _, n = ndi.label(junction, structure=np.ones((3, 3, 3), dtype=bool))
    return int(n)


def measure_realism(volume: SyntheticVolume, bins: int = 40) -> RealismStats:
    """Measure contrast, noise, radii, vessel density and branching on one volume.

    The radius and branch measurements work on the *mask* the way one would on real labels
    (skeletonise, distance transform), so the numbers are comparable with published morphometry.

    Args:
        volume: A generated volume.
        bins: Intensity histogram bins.

    Returns:
        The measurements.
    """
    spacing = volume.spacing
    vessel = volume.clean_mask.astype(bool)
    image = volume.image.astype(np.float64)
    clearance = ndi.distance_transform_edt(~vessel, sampling=spacing)
    background = clearance >= BACKGROUND_CLEARANCE_UM
    v_vals, b_vals = image[vessel], image[background]
    v_mean = float(v_vals.mean()) if v_vals.size else 0.0
    b_mean = float(b_vals.mean()) if b_vals.size else 0.0
    b_std = float(b_vals.std()) if b_vals.size else 0.0
    # Range from the 0.1th to the 99.9th percentile (read noise makes some values negative).
    low, top = (float(v) for v in np.percentile(image, [0.1, 99.9])) if image.size else (0.0, 1.0)
    edges = np.linspace(min(low, 0.0), max(top, 1e-6), bins + 1)
    v_hist = np.histogram(np.clip(v_vals, edges[0], edges[-1]), bins=edges)[0].astype(np.float64)
    b_hist = np.histogram(np.clip(b_vals, edges[0], edges[-1]), bins=edges)[0].astype(np.float64)
    skeletonize: Any = morphology.skeletonize  # untyped library function
    skeleton = np.asarray(skeletonize(vessel), dtype=bool)
    depth = ndi.distance_transform_edt(vessel, sampling=spacing)
    tissue_mm3 = float(np.prod([n * s for n, s in zip(vessel.shape, spacing, strict=True)])) * 1e-9
    branch_points = count_branch_points(skeleton)
    tree = volume.tree
    if tree is not None and tree.n_segments:
        # Only segments whose midpoint lies among the voxel centres count (vessels are cut at the edges).
        mid = 0.5 * (tree.starts + tree.ends)
        top_corner = (np.asarray(vessel.shape) - 1) * np.asarray(spacing)
        inside = np.all((mid >= 0.0) & (mid <= top_corner), axis=1)
        lengths = tree.lengths()[inside]
        true_r = _percentiles(0.5 * (tree.r0 + tree.r1)[inside], lengths)
        length_mm = float(lengths.sum()) * 1e-3
    else:
        true_r, length_mm = _percentiles(np.zeros(0)), 0.0
    eps = 1e-12
    return RealismStats(
        vessel_fraction=float(vessel.mean()),
        largest_component_fraction=largest_component_fraction(vessel),
        vessel_mean=v_mean,
        background_mean=b_mean,
        background_std=b_std,
        snr=v_mean / max(b_std, eps),
        cnr=(v_mean - b_mean) / max(b_std, eps),
        radius_um=_percentiles(np.asarray(depth[skeleton], dtype=np.float64)),
        true_radius_um=true_r,
        branch_points=branch_points,
        branch_point_density_per_mm3=branch_points / tissue_mm3,
        length_density_mm_per_mm3=length_mm / tissue_mm3,
        histogram_edges=[float(e) for e in edges],
        vessel_histogram=[float(h) for h in v_hist / max(v_hist.sum(), 1.0)],
        background_histogram=[float(h) for h in b_hist / max(b_hist.sum(), 1.0)],
    )


def _to_png(path: Path, picture: NDArray[np.floating], scale: int) -> Path:
    """Save a 2D array (X, Y) as an 8-bit single-channel PNG, x to the right, upscaled by ``scale``.

    Grey levels span 0 to the 99.5th percentile, so a few saturated voxels do not darken the rest.
    """
    top = float(np.percentile(picture, 99.5)) or 1.0
    grey = np.clip(picture.T / top, 0.0, 1.0)
    grey = np.kron(grey, np.ones((scale, scale)))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(grey * 255).astype(np.uint8), mode="L").save(path, optimize=True)
    return path


def save_mips(volume: SyntheticVolume, folder: Path, stem: str, scale: int = 1) -> list[Path]:
    """Write max-intensity projections along Z of the image and of the mask as PNGs.

    Args:
        volume: A generated volume.
        folder: Where to write (created if missing).
        stem: File name prefix; writes ``<stem>_image_mip.png`` and ``<stem>_mask_mip.png``.
        scale: Integer upscaling (nearest neighbour) so small volumes are visible.

    Returns:
        The two PNG paths (image, mask).
    """
    if scale < 1:
        raise ValueError(f"scale must be ≥ 1, got {scale}.")
    folder = Path(folder)
    image_png = _to_png(folder / f"{stem}_image_mip.png", volume.image.max(axis=2), scale)
    mask_png = _to_png(folder / f"{stem}_mask_mip.png", volume.mask.max(axis=2).astype(np.float32), scale)
    return [image_png, mask_png]
