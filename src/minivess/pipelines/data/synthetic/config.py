"""Configuration models of the synthetic two-photon vessel generator (all pydantic, extra="forbid")."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

PositiveFloat = Annotated[float, Field(gt=0.0)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class _Frozen(BaseModel):
    """Base: unknown keys are errors and instances are immutable (presets are shared)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TreeConfig(_Frozen):
    """How the vessel trees grow. Lengths and radii are in µm (physical units, not voxels)."""

    length_density_per_um2: PositiveFloat = Field(
        0.9e-3,
        description="Target centreline length per tissue volume in µm/µm³ (1e-3 = 1 m/mm³). Reported "
        "mouse cortex values are ~0.6-1e-3 for capillaries; the default is a little higher because "
        "each small crop also holds a feeding vessel. Tips may overshoot by up to one branch interval.",
    )
    capillary_share: Fraction = Field(
        0.7,
        description="Share of each tree's length budget grown as capillary sprouts aimed at the least "
        "vascularised places (the rest grows by bifurcation from the root). Spreads vessels evenly.",
    )
    min_vessel_fraction: Annotated[float, Field(ge=0.0, le=0.3)] = Field(
        0.015,
        description="After growth, capillaries are added until the estimated vessel volume (sum of "
        "segment cylinders, overlaps counted twice) reaches this share of the volume.",
    )
    root_radius_um: tuple[PositiveFloat, PositiveFloat] = Field(
        (4.0, 6.0), description="Range (low, high) of the radius of each main tree's root vessel, µm."
    )
    min_radius_um: PositiveFloat = Field(
        1.5, description="Smallest vessel radius (capillaries), µm; tapering and branching stop here."
    )
    capillary_radius_spread: Annotated[float, Field(ge=0.0, le=3.0)] = Field(
        0.6,
        description="Each capillary branch gets its own radius, uniform in [min_radius, min_radius × "
        "(1 + spread)], and tapers no thinner (capillary calibres vary, ~3-7 µm in diameter).",
    )
    step_um: PositiveFloat = Field(3.0, description="Length of one centreline segment, µm.")
    curvature: Annotated[float, Field(ge=0.0, le=2.0)] = Field(
        0.12,
        description="Random-walk strength of the direction per sqrt(µm) for a capillary; thicker "
        "vessels bend less (scaled by min_radius/radius).",
    )
    planar_bias: Fraction = Field(
        0.3,
        description="How flat non-penetrating vessels run: each branch relaxes to a z-heading drawn "
        "from ±(1 - planar_bias) and bounces off the top and bottom of the stack, so vessels weave "
        "through the whole depth of a thin stack (0 = any dive angle, 1 = perfectly flat).",
    )
    branch_interval_um: PositiveFloat = Field(
        35.0, description="Mean centreline length between bifurcations (exponentially distributed), µm."
    )
    murray_exponent: Annotated[float, Field(ge=2.0, le=4.0)] = Field(
        3.0, description="Murray's law exponent k in r_parent^k = r_child1^k + r_child2^k."
    )
    asymmetry: tuple[Fraction, Fraction] = Field(
        (0.4, 1.0),
        description="Range of the radius ratio r_small/r_large of the two children at a bifurcation.",
    )
    taper_length_um: PositiveFloat = Field(
        250.0, description="Radius decays as exp(-length/taper_length) along a branch between bifurcations."
    )
    root_area_um2: PositiveFloat = Field(
        25_000.0,
        description="One main tree per this much in-plane field area (µm², at least one tree): a "
        "~100 µm crop has one feeding vessel, a ~500 µm MinIVess field about ten.",
    )
    penetrating_probability: Fraction = Field(
        0.3,
        description="Probability that a main tree is a penetrating vessel (enters from the top face "
        "and dives along z) instead of a surface-parallel vessel entering from a side face.",
    )
    n_crossing_trees: Annotated[int, Field(ge=0, le=8)] = Field(
        1,
        description="Independent secondary trees per volume, each aimed to pass close to the main trunk "
        "(a near-crossing) before it is joined to the main tree elsewhere.",
    )
    crossing_gap_um: tuple[Annotated[float, Field(ge=0.0)], Annotated[float, Field(ge=0.0)]] = Field(
        (1.0, 4.0), description="Range of the planned surface-to-surface gap at a near-crossing, µm."
    )
    connect_crossing_trees: bool = Field(
        True,
        description="Join each secondary tree to the main tree by a capillary away from the crossing, so "
        "the vasculature is one connected network (as in cortex).",
    )
    crossing_tree_share: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        0.2, description="Share of the centreline length budget given to each secondary tree."
    )

    @model_validator(mode="after")
    def _ranges(self) -> TreeConfig:
        for name in ("root_radius_um", "asymmetry", "crossing_gap_um"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name}=({low}, {high}): the low end must not exceed the high end; swap them.")
        if self.n_crossing_trees * self.crossing_tree_share >= 0.9:
            raise ValueError(
                f"n_crossing_trees × crossing_tree_share = "
                f"{self.n_crossing_trees * self.crossing_tree_share:.2f} leaves the main tree almost no "
                "length; keep it below 0.9."
            )
        if self.root_radius_um[0] < self.min_radius_um:
            raise ValueError(
                f"root_radius_um low end {self.root_radius_um[0]} is below min_radius_um "
                f"{self.min_radius_um}; raise root_radius_um or lower min_radius_um."
            )
        return self


class ImagingConfig(_Frozen):
    """The two-photon image formation model (plasma label: bright lumen on a dim background)."""

    psf_sigma_um: tuple[PositiveFloat, PositiveFloat] = Field(
        (0.6, 2.0),
        description="Gaussian PSF sigma (lateral, axial) in µm; the axial blur is ~3x the lateral in 2P.",
    )
    attenuation_length_um: PositiveFloat = Field(
        200.0, description="Signal decays as exp(-depth/attenuation_length) with depth (z), µm."
    )
    depth_offset_um: Annotated[float, Field(ge=0.0)] = Field(
        50.0, description="Depth below the pial surface of the first slice, µm (enters the attenuation)."
    )
    peak_photons: PositiveFloat = Field(
        25.0, description="Expected photon count of a bright vessel at the surface; sets the shot noise."
    )
    read_noise_photons: Annotated[float, Field(ge=0.0)] = Field(
        1.0, description="Standard deviation of the additive Gaussian detector noise, in photons."
    )
    background: Annotated[float, Field(ge=0.0)] = Field(
        0.10, description="Diffuse tissue background (autofluorescence), relative to vessel signal 1."
    )
    haze: Annotated[float, Field(ge=0.0)] = Field(
        0.15,
        description="Fraction of the vessel signal scattered into a wide halo (out-of-focus haze).",
    )
    haze_sigma_um: PositiveFloat = Field(8.0, description="Width (Gaussian sigma) of the scattered haze, µm.")
    inhomogeneity: Fraction = Field(
        0.25, description="Amplitude of the smooth multiplicative intensity field (0 = flat illumination)."
    )
    inhomogeneity_scale_um: PositiveFloat = Field(
        40.0, description="Correlation length of the multiplicative intensity field, µm."
    )
    vessel_intensity_jitter: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.15, description="Log-normal sigma of the per-branch brightness factor (uneven plasma labelling)."
    )
    volume_jitter: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.15,
        description="Log-normal sigma of per-volume variation of photons, background, haze and "
        "attenuation (session-to-session variability of a real dataset).",
    )


class DomainShift(_Frozen):
    """Multipliers that move a dataset away from the default domain (for drift checks); 1 = no shift."""

    contrast: PositiveFloat = Field(1.0, description="Multiplies the vessel signal (<1 = lower contrast).")
    noise: PositiveFloat = Field(
        1.0,
        description="Multiplies the relative noise: photons are divided by noise² and the read noise "
        "multiplied by noise (>1 = noisier).",
    )
    background: PositiveFloat = Field(1.0, description="Multiplies the diffuse background and the haze.")
    vessel_density: PositiveFloat = Field(
        1.0, description="Multiplies the centreline length density (>1 = more vessels)."
    )
    psf_scale: PositiveFloat = Field(1.0, description="Multiplies both PSF sigmas (>1 = blurrier).")
    radius_scale: PositiveFloat = Field(1.0, description="Multiplies root and minimum vessel radii.")

    @property
    def is_identity(self) -> bool:
        """Whether every multiplier is 1 (no shift)."""
        return all(value == 1.0 for value in self.model_dump().values())


class LabelNoiseConfig(_Frozen):
    """Label corruptions applied to the mask (the clean mask is kept); every change goes to a ledger."""

    volume_probability: Fraction = Field(
        1.0, description="Probability that a volume gets any corruption at all (others stay clean)."
    )
    dropped_segments: Annotated[int, Field(ge=0)] = Field(
        2, description="Number of thin terminal branches removed from the label (missed capillaries)."
    )
    eroded_regions: Annotated[int, Field(ge=0)] = Field(
        1, description="Number of box regions where the label is eroded in-plane (under-segmentation)."
    )
    dilated_regions: Annotated[int, Field(ge=0)] = Field(
        1, description="Number of box regions where the label is dilated in-plane (over-segmentation)."
    )
    spurious_blobs: Annotated[int, Field(ge=0)] = Field(
        2, description="Number of false-positive ellipsoid blobs added in the background."
    )
    event_probability: Fraction = Field(
        1.0, description="Probability that each counted corruption above actually happens."
    )
    region_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.3, description="In-plane side of an eroded/dilated region as a fraction of the volume's side."
    )
    region_slices: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] = Field(
        (2, 6), description="Range of the number of z-slices an eroded/dilated region spans."
    )
    morph_iterations: Annotated[int, Field(ge=1, le=5)] = Field(
        1, description="In-plane erosion/dilation iterations (voxels) inside a region."
    )
    blob_radius_um: tuple[PositiveFloat, PositiveFloat] = Field(
        (2.0, 5.0), description="Range of a spurious blob's radius, µm."
    )
    max_drop_radius_um: PositiveFloat = Field(
        3.0, description="Only branches with mean radius at most this (µm) can be dropped."
    )

    @model_validator(mode="after")
    def _ranges(self) -> LabelNoiseConfig:
        for name in ("region_slices", "blob_radius_um"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"{name}=({low}, {high}): the low end must not exceed the high end; swap them.")
        return self


class SynthConfig(_Frozen):
    """Everything that defines a synthetic dataset apart from the seed."""

    shape: tuple[
        Annotated[int, Field(ge=8, le=2048)],
        Annotated[int, Field(ge=8, le=2048)],
        Annotated[int, Field(ge=2, le=512)],
    ] = Field((96, 96, 24), description="Volume shape (X, Y, Z) in voxels; Z is the imaging depth axis.")
    spacing: tuple[PositiveFloat, PositiveFloat, PositiveFloat] = Field(
        (0.994, 0.994, 2.0), description="Voxel spacing (X, Y, Z) in µm; two-photon stacks are coarser in Z."
    )
    tree: TreeConfig = Field(default_factory=TreeConfig, description="Vessel tree growth parameters.")
    imaging: ImagingConfig = Field(default_factory=ImagingConfig, description="Image formation parameters.")
    domain_shift: DomainShift = Field(
        default_factory=DomainShift, description="Multipliers moving the data away from the default domain."
    )
    label_noise: LabelNoiseConfig | None = Field(
        None, description="Label corruption settings; None keeps the labels clean (mask == clean_mask)."
    )

    @property
    def extent_um(self) -> tuple[float, float, float]:
        """Physical size of the volume (X, Y, Z) in µm."""
        return (
            self.shape[0] * self.spacing[0],
            self.shape[1] * self.spacing[1],
            self.shape[2] * self.spacing[2],
        )
