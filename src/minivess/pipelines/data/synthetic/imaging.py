"""Two-photon image formation: PSF blur, haze, depth attenuation, bias field, Poisson–Gaussian noise."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

from minivess.pipelines.data.synthetic.config import DomainShift, ImagingConfig

Spacing3 = tuple[float, float, float]


def smooth_field(
    shape: tuple[int, int, int],
    spacing: Spacing3,
    scale_um: float,
    rng: np.random.Generator,
    n_waves: int = 8,
) -> NDArray[np.float32]:
    """A smooth random field with zero mean and unit standard deviation (random Fourier features).

    Wavelengths are drawn between 1.5× and 4× ``scale_um`` so the field varies over tens of µm,
    like uneven illumination and labelling, never at the scale of a vessel.
    """
    axes = [np.arange(n, dtype=np.float64) * s for n, s in zip(shape, spacing, strict=True)]
    field = np.zeros(shape, dtype=np.float32)
    for _ in range(n_waves):
        direction = rng.standard_normal(3)
        direction /= max(float(np.linalg.norm(direction)), 1e-9)
        k = 2.0 * math.pi / (scale_um * float(rng.uniform(1.5, 4.0)))
        phase = float(rng.uniform(0.0, 2.0 * math.pi))
        # cos(a + b + c) = cos(a + b)·cos(c) − sin(a + b)·sin(c): 2D trig, then two 3D products.
        ab = (k * direction[0] * axes[0])[:, None] + (k * direction[1] * axes[1])[None, :] + phase
        c = k * direction[2] * axes[2]
        field += np.cos(ab).astype(np.float32)[:, :, None] * np.cos(c).astype(np.float32)[None, None, :]
        field -= np.sin(ab).astype(np.float32)[:, :, None] * np.sin(c).astype(np.float32)[None, None, :]
    field *= np.float32(math.sqrt(2.0 / n_waves))  # each cosine has variance 1/2
    return field


def _jitter(rng: np.random.Generator, sigma: float) -> float:
    return float(rng.lognormal(0.0, sigma)) if sigma > 0 else 1.0


def sample_imaging_params(cfg: ImagingConfig, shift: DomainShift, rng: np.random.Generator) -> dict[str, Any]:
    """Per-volume imaging parameters: the config with session jitter and the domain shift applied."""
    j = cfg.volume_jitter
    return {
        "photons_per_unit": cfg.peak_photons * _jitter(rng, j) / shift.noise**2,
        "read_noise_photons": cfg.read_noise_photons * shift.noise,
        "background": cfg.background * _jitter(rng, j) * shift.background,
        "haze": cfg.haze * _jitter(rng, j) * shift.background,
        "haze_sigma_um": cfg.haze_sigma_um,
        "attenuation_length_um": cfg.attenuation_length_um * _jitter(rng, j),
        "depth_offset_um": cfg.depth_offset_um,
        "contrast": shift.contrast,
        "psf_sigma_um": [cfg.psf_sigma_um[0] * shift.psf_scale, cfg.psf_sigma_um[1] * shift.psf_scale],
        "inhomogeneity": cfg.inhomogeneity,
        "inhomogeneity_scale_um": cfg.inhomogeneity_scale_um,
    }


def form_image(
    vessel_density: NDArray[np.float32],
    spacing: Spacing3,
    params: dict[str, Any],
    rng: np.random.Generator,
) -> NDArray[np.float32]:
    """Simulate a plasma-labelled two-photon stack from the fluorophore density of the vessels.

    The expected signal is ``(contrast·PSF⊛V + haze·G⊛(contrast·PSF⊛V) + background) · field · exp(-depth/L)``
    with ``V`` the per-voxel vessel brightness (0 outside vessels), an anisotropic Gaussian PSF, a wide
    Gaussian ``G`` for scattered haze, a log-normal smooth ``field`` and exponential attenuation with
    depth. Photon counts are Poisson with mean ``signal · photons_per_unit`` plus Gaussian read noise.

    Args:
        vessel_density: Per-voxel vessel brightness (X, Y, Z); ~1 inside vessels, 0 outside.
        spacing: Voxel spacing (X, Y, Z) in µm (converts the µm sigmas to voxels).
        params: Output of ``sample_imaging_params``.
        rng: Random generator for the field and the noise.

    Returns:
        float32 image in units of the expected signal of a bright vessel at the surface: multiply by
        ``params["photons_per_unit"]`` to get photon counts. Background voxels can be slightly
        negative (zero-mean Gaussian read noise is not clipped, so noise never shifts the mean).
    """
    shape = vessel_density.shape
    lateral, axial = params["psf_sigma_um"]
    psf_vox = (lateral / spacing[0], lateral / spacing[1], axial / spacing[2])
    vessel = ndi.gaussian_filter(vessel_density, psf_vox, mode="nearest") * np.float32(params["contrast"])
    haze_vox = tuple(params["haze_sigma_um"] / s for s in spacing)
    haze = ndi.gaussian_filter(vessel, haze_vox, mode="nearest") * np.float32(params["haze"])
    field = np.exp(
        np.float32(params["inhomogeneity"])
        * smooth_field((shape[0], shape[1], shape[2]), spacing, params["inhomogeneity_scale_um"], rng)
    )
    depth_um = params["depth_offset_um"] + np.arange(shape[2], dtype=np.float64) * spacing[2]
    attenuation = np.exp(-depth_um / params["attenuation_length_um"]).astype(np.float32)
    expected = (vessel + haze + np.float32(params["background"])) * field * attenuation[None, None, :]
    photons = float(params["photons_per_unit"])
    counts = rng.poisson(np.maximum(expected, 0.0).astype(np.float64) * photons).astype(np.float32)
    counts += rng.normal(0.0, params["read_noise_photons"], size=shape).astype(np.float32)
    # No clipping at 0: a clipped read noise would bias the mean upwards as the noise grows.
    image: NDArray[np.float32] = (counts / np.float32(photons)).astype(np.float32)
    return image
