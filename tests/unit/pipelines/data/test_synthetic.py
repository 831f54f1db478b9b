"""Tests of the synthetic vessel generator: determinism, geometry acceptance numbers, configs, shifts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from minivess.errors import ConfigError
from minivess.pipelines.data.synthetic import (
    PRESETS,
    DomainShift,
    LabelNoiseConfig,
    SynthConfig,
    generate_volume,
    get_preset,
    largest_component_fraction,
    volume_seed,
)
from minivess.pipelines.data.synthetic.render import rasterise_centrelines, render_segments
from minivess.pipelines.data.synthetic.vessel_tree import VesselTree, murray_angle, radius_floor_um

SMALL = SynthConfig(shape=(48, 48, 16))


def _arrays_equal(a: object, b: object) -> bool:
    return all(
        np.array_equal(getattr(a, name), getattr(b, name)) and getattr(a, name).dtype == getattr(b, name).dtype
        for name in ("image", "mask", "skeleton", "clean_mask")
    )


def test_same_seed_gives_byte_identical_arrays() -> None:
    first, second = generate_volume(SMALL, 11), generate_volume(SMALL, 11)
    assert _arrays_equal(first, second)
    assert first.image.tobytes() == second.image.tobytes()
    assert first.params == second.params


def test_different_seeds_give_different_volumes() -> None:
    a, b = generate_volume(SMALL, 1), generate_volume(SMALL, 2)
    assert not np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, b.image)


def test_volume_seed_is_deterministic_distinct_and_non_negative() -> None:
    seeds = [volume_seed(7, i) for i in range(50)]
    assert seeds == [volume_seed(7, i) for i in range(50)]
    assert len(set(seeds)) == 50
    assert all(0 <= s < 2**63 for s in seeds)
    assert volume_seed(8, 0) != volume_seed(7, 0)


def test_dtypes_ranges_and_binary_masks() -> None:
    vol = generate_volume(SMALL, 3)
    assert vol.image.dtype == np.float32 and vol.image.shape == (48, 48, 16)
    assert np.isfinite(vol.image).all()
    assert vol.image.min() > -0.5 and 0.2 < vol.image.max() < 5.0  # ~1 = a bright vessel near the surface
    for arr in (vol.mask, vol.skeleton, vol.clean_mask):
        assert arr.dtype == np.uint8 and arr.shape == (48, 48, 16)
        assert set(np.unique(arr).tolist()) <= {0, 1}
    assert np.array_equal(vol.mask, vol.clean_mask) and vol.ledger is None


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_small_volumes_meet_acceptance_numbers(seed: int) -> None:
    vol = generate_volume(SMALL, seed)
    fraction = float(vol.mask.mean())
    assert 0.01 <= fraction <= 0.15
    assert largest_component_fraction(vol.mask) >= 0.8
    assert vol.skeleton.any()
    assert not (vol.skeleton.astype(bool) & ~vol.clean_mask.astype(bool)).any(), "skeleton leaves the mask"


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_default_preset_meets_acceptance_numbers(seed: int) -> None:
    cfg = get_preset("default")
    vol = generate_volume(cfg, seed)
    assert vol.mask.shape == (96, 96, 24)
    assert 0.01 <= float(vol.mask.mean()) <= 0.15
    assert largest_component_fraction(vol.mask) >= 0.8
    assert vol.spacing[2] > vol.spacing[0] == vol.spacing[1]
    assert vol.params["stats"]["vessel_fraction"] == pytest.approx(float(vol.mask.mean()))


def test_vessels_are_spread_through_the_depth() -> None:
    """Thin stacks need vessels in most slices, not one flat layer."""
    occupied = [(generate_volume(get_preset("default"), s).mask.mean(axis=(0, 1)) > 0).mean() for s in range(6)]
    assert np.mean(occupied) >= 0.85  # perfectly flat vessels (planar_bias=1) give ~0.73


def test_label_noise_never_changes_image_vessels_or_skeleton() -> None:
    noisy_cfg = SMALL.model_copy(update={"label_noise": LabelNoiseConfig()})
    clean, noisy = generate_volume(SMALL, 5), generate_volume(noisy_cfg, 5)
    assert np.array_equal(clean.image, noisy.image)
    assert np.array_equal(clean.clean_mask, noisy.clean_mask)
    assert np.array_equal(clean.skeleton, noisy.skeleton)
    assert not np.array_equal(noisy.mask, noisy.clean_mask)
    assert noisy.ledger is not None


# ---- rendering against brute force -----------------------------------------------------------------


def _one_segment(a: tuple[float, float, float], b: tuple[float, float, float], r0: float, r1: float) -> VesselTree:
    return VesselTree(
        starts=np.array([a], dtype=np.float64),
        ends=np.array([b], dtype=np.float64),
        r0=np.array([r0]),
        r1=np.array([r1]),
        branch=np.array([0]),
        tree=np.array([0]),
        branch_parent=np.array([-1]),
        branch_tree=np.array([0]),
        n_bifurcations=0,
        min_radius_um=min(r0, r1),
    )


def test_render_matches_brute_force_tapered_capsule_in_physical_units() -> None:
    shape, spacing = (20, 18, 9), (0.5, 0.5, 2.0)
    tree = _one_segment((1.2, 2.0, 3.1), (8.3, 6.1, 12.7), 2.5, 1.2)
    mask, _ = render_segments(tree, shape, spacing)
    grid = np.stack(np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing, strict=True)], indexing="ij"), -1)
    a, b = tree.starts[0], tree.ends[0]
    t = np.clip(((grid - a) @ (b - a)) / ((b - a) @ (b - a)), 0, 1)
    dist = np.linalg.norm(grid - (a + t[..., None] * (b - a)), axis=-1)
    expected = dist <= 2.5 + t * (1.2 - 2.5)
    assert mask.any() and np.array_equal(mask, expected)


def test_vessel_is_round_in_micrometres_not_in_voxels() -> None:
    """A vessel along X at spacing 0.5×0.5×2 µm spans 4× more voxels in Y than in Z."""
    shape, spacing = (10, 41, 11), (0.5, 0.5, 2.0)
    tree = _one_segment((0.0, 10.0, 10.0), (4.5, 10.0, 10.0), 4.0, 4.0)
    mask, _ = render_segments(tree, shape, spacing)
    section = mask[5]
    assert section.any(axis=1).sum() == 17  # y: |dy| <= 4 µm at 0.5 µm → 8 each side + centre
    assert section.any(axis=0).sum() == 5  # z: |dz| <= 4 µm at 2 µm → 2 each side + centre


def test_skeleton_line_is_26_connected_and_inside_the_floor_radius() -> None:
    spacing = (1.0, 1.0, 2.5)
    floor = radius_floor_um(spacing)
    tree = _one_segment((2.0, 3.0, 1.0), (30.0, 25.0, 20.0), floor, floor)
    skeleton = rasterise_centrelines(tree, (34, 30, 10), spacing)
    mask, _ = render_segments(tree, (34, 30, 10), spacing)
    assert skeleton.sum() >= 28
    assert largest_component_fraction(skeleton) == 1.0
    assert not (skeleton.astype(bool) & ~mask).any()
    assert largest_component_fraction(mask) == 1.0


def test_murray_angle_symmetric_bifurcation() -> None:
    r_child = 1.0 / 2 ** (1 / 3)
    assert math.degrees(murray_angle(1.0, r_child, r_child)) == pytest.approx(37.47, abs=0.05)
    assert murray_angle(1.0, 1.0, 0.0) == pytest.approx(0.0, abs=1e-9)


# ---- domain shift ----------------------------------------------------------------------------------


def _intensity(cfg: SynthConfig, seed: int) -> tuple[float, float, float]:
    vol = generate_volume(cfg, seed)
    vessel = vol.clean_mask.astype(bool)
    return float(vol.image[vessel].mean()), float(vol.image[~vessel].mean()), float(vol.image[~vessel].std())


def _shifted(**kwargs: float) -> SynthConfig:
    return SMALL.model_copy(update={"domain_shift": DomainShift(**kwargs)})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_contrast_shift_lowers_vessel_signal_on_the_same_vessels(seed: int) -> None:
    base, low = generate_volume(SMALL, seed), generate_volume(_shifted(contrast=0.5), seed)
    assert np.array_equal(base.clean_mask, low.clean_mask)  # geometry untouched by imaging shifts
    vessel = base.clean_mask.astype(bool)
    base_gap = base.image[vessel].mean() - base.image[~vessel].mean()
    low_gap = low.image[vessel].mean() - low.image[~vessel].mean()
    assert low_gap < 0.7 * base_gap


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_shift_raises_background_fluctuations(seed: int) -> None:
    _, base_mean, base_std = _intensity(SMALL, seed)
    _, noisy_mean, noisy_std = _intensity(_shifted(noise=2.0), seed)
    assert noisy_std / noisy_mean > 1.5 * base_std / base_mean


@pytest.mark.parametrize("seed", [0, 1])
def test_background_shift_raises_background_level(seed: int) -> None:
    assert _intensity(_shifted(background=2.0), seed)[1] > 1.5 * _intensity(SMALL, seed)[1]


def test_vessel_density_shift_raises_vessel_fraction_on_average() -> None:
    # Default size: in 48×48×16 the trunks alone exceed the length budget, so density barely acts.
    base_cfg = get_preset("default")
    dense_cfg = base_cfg.model_copy(update={"domain_shift": DomainShift(vessel_density=1.8)})
    seeds = range(5)
    base = [generate_volume(base_cfg, s).params["stats"] for s in seeds]
    dense = [generate_volume(dense_cfg, s).params["stats"] for s in seeds]
    assert np.mean([d["vessel_fraction"] for d in dense]) > 1.2 * np.mean([b["vessel_fraction"] for b in base])
    assert np.mean([d["centreline_length_um"] for d in dense]) > 1.3 * np.mean(
        [b["centreline_length_um"] for b in base]
    )


def test_shifted_preset_has_lower_contrast_to_noise_than_default() -> None:
    def cnr(cfg: SynthConfig, seed: int) -> float:
        vessel_mean, bg_mean, bg_std = _intensity(cfg, seed)
        return (vessel_mean - bg_mean) / bg_std

    shifted = get_preset("shifted").model_copy(update={"shape": (48, 48, 16)})
    assert np.mean([cnr(shifted, s) for s in range(3)]) < 0.6 * np.mean([cnr(SMALL, s) for s in range(3)])


# ---- configuration ---------------------------------------------------------------------------------


def test_presets_exist_and_are_anisotropic() -> None:
    assert {"default", "minivess", "shifted", "small", "noisy_labels"} <= set(PRESETS)
    assert get_preset("default").shape == (96, 96, 24)
    minivess = get_preset("minivess")
    assert minivess.shape[:2] == (512, 512) and 5 <= minivess.shape[2] <= 110
    for cfg in PRESETS.values():
        assert cfg.spacing[2] > cfg.spacing[0]
    assert get_preset("noisy_labels").label_noise is not None
    assert not get_preset("shifted").domain_shift.is_identity


def test_unknown_preset_names_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match="default") as info:
        get_preset("nope")
    assert "minivess" in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"shape": (-4, 48, 16)},
        {"shape": (48, 48, 0)},
        {"spacing": (1.0, 1.0, -2.0)},
        {"spacing": (0.0, 1.0, 2.0)},
        {"unknown": 1},
        {"tree": {"root_radius_um": (6.0, 4.0)}},
        {"tree": {"min_radius_um": 5.0, "root_radius_um": (4.0, 6.0)}},
        {"imaging": {"peak_photons": 0.0}},
        {"domain_shift": {"contrast": -1.0}},
        {"label_noise": {"dropped_segments": -1}},
        {"label_noise": {"region_slices": (5, 2)}},
    ],
)
def test_bad_config_raises_value_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SynthConfig.model_validate(kwargs)
    with pytest.raises(ValidationError):
        SynthConfig.model_validate(kwargs)


def test_negative_seed_raises() -> None:
    with pytest.raises(ValueError, match="seed"):
        generate_volume(SMALL, -1)
    with pytest.raises(ValueError, match="seed"):
        volume_seed(-1, 0)


def test_every_config_field_is_documented() -> None:
    from minivess.pipelines.data.synthetic import ImagingConfig, TreeConfig

    for model in (SynthConfig, TreeConfig, ImagingConfig, DomainShift, LabelNoiseConfig):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
