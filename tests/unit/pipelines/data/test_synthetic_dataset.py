"""Tests of write_dataset: MinIVess layout, byte-identical files, NIfTI headers, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from minivess.pipelines.data.synthetic import (
    GENERATOR_VERSION,
    DatasetLedger,
    LabelNoiseConfig,
    SynthConfig,
    generate_volume,
    volume_seed,
    write_dataset,
)

SMALL = SynthConfig(shape=(48, 48, 16))
NOISY = SMALL.model_copy(update={"label_noise": LabelNoiseConfig()})


def _load(path: Path) -> Any:
    """nibabel's load is typed as returning the base image class; the files are Nifti1Image."""
    return nib.load(str(path))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_and_return_value(tmp_path: Path) -> None:
    calls: list[tuple[int, Path]] = []
    paths = write_dataset(tmp_path / "ds", 3, SMALL, seed=4, on_volume=lambda i, p: calls.append((i, p)))
    root = tmp_path / "ds"
    assert paths == [root / "raw" / f"synth_{i:03d}.nii.gz" for i in range(3)]
    assert calls == list(enumerate(paths))
    assert set(_files(root)) == {
        "dataset.json",
        *(f"{d}/synth_{i:03d}.nii.gz" for d in ("raw", "seg", "skel") for i in range(3)),
        *(f"json/synth_{i:03d}.json" for i in range(3)),
    }
    manifest = json.loads((root / "dataset.json").read_text())
    assert manifest["n"] == 3 and manifest["seed"] == 4 and manifest["generator_version"] == GENERATOR_VERSION
    assert SynthConfig.model_validate(manifest["config"]) == SMALL
    sidecar = json.loads((root / "json" / "synth_001.json").read_text())
    assert sidecar["volume_seed"] == volume_seed(4, 1) and sidecar["dataset_seed"] == 4
    assert sidecar["spacing_um"] == list(SMALL.spacing)
    assert 0.01 <= sidecar["stats"]["vessel_fraction"] <= 0.15


def test_same_seed_writes_byte_identical_files(tmp_path: Path) -> None:
    write_dataset(tmp_path / "a", 2, NOISY, seed=9)
    write_dataset(tmp_path / "b", 2, NOISY, seed=9)
    first, second = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert first.keys() == second.keys() and len(first) > 10
    assert first == second
    write_dataset(tmp_path / "c", 2, NOISY, seed=10)
    assert _files(tmp_path / "c")["raw/synth_000.nii.gz"] != first["raw/synth_000.nii.gz"]


def test_gzip_header_has_no_timestamp_or_file_name(tmp_path: Path) -> None:
    """Two writes a second apart would differ if gzip stored the time; check the header itself."""
    write_dataset(tmp_path, 1, SMALL, seed=3)
    for folder in ("raw", "seg", "skel"):
        data = (tmp_path / folder / "synth_000.nii.gz").read_bytes()
        assert data[:2] == b"\x1f\x8b"  # gzip magic
        assert data[4:8] == b"\x00\x00\x00\x00"  # MTIME = 0
        assert data[3] & 0x08 == 0  # no FNAME field


def test_nifti_header_holds_anisotropic_spacing_and_arrays_round_trip(tmp_path: Path) -> None:
    cfg = SMALL.model_copy(update={"spacing": (0.7, 0.7, 3.5)})
    write_dataset(tmp_path, 1, cfg, seed=2)
    expected = generate_volume(cfg, volume_seed(2, 0))  # volume i depends on (seed, i) only
    for folder, array, dtype in (
        ("raw", expected.image, np.float32),
        ("seg", expected.mask, np.uint8),
        ("skel", expected.skeleton, np.uint8),
    ):
        img = _load(tmp_path / folder / "synth_000.nii.gz")
        assert img.header.get_zooms() == pytest.approx((0.7, 0.7, 3.5))
        assert np.allclose(img.affine, np.diag([0.7, 0.7, 3.5, 1.0]))
        assert img.header.get_xyzt_units()[0] == "micron"
        data = np.asanyarray(img.dataobj)
        assert data.dtype == dtype and np.array_equal(data, array)


def test_label_noise_writes_clean_masks_and_ledger(tmp_path: Path) -> None:
    write_dataset(tmp_path, 2, NOISY, seed=1)
    ledger = DatasetLedger.model_validate_json((tmp_path / "label_noise_ledger.json").read_text())
    assert set(ledger.volumes) == {"synth_000", "synth_001"} and ledger.seed == 1
    for name, entry in ledger.volumes.items():
        seg = np.asanyarray(_load(tmp_path / "seg" / f"{name}.nii.gz").dataobj)
        clean = np.asanyarray(_load(tmp_path / "seg_clean" / f"{name}.nii.gz").dataobj)
        removed = (clean.astype(bool) & ~seg.astype(bool)).sum(axis=(0, 1))
        added = (~clean.astype(bool) & seg.astype(bool)).sum(axis=(0, 1))
        assert entry.per_slice_removed == removed.tolist()
        assert entry.per_slice_added == added.tolist()
        assert entry.voxels_changed > 0
    manifest = json.loads((tmp_path / "dataset.json").read_text())
    assert manifest["label_noise_ledger"] == "label_noise_ledger.json"


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    write_dataset(tmp_path, 2, SMALL, seed=0)
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]


def test_volume_order_does_not_matter(tmp_path: Path) -> None:
    write_dataset(tmp_path / "three", 3, SMALL, seed=5)
    write_dataset(tmp_path / "one", 1, SMALL, seed=5)
    three, one = _files(tmp_path / "three"), _files(tmp_path / "one")
    for folder in ("raw", "seg", "skel"):
        assert three[f"{folder}/synth_000.nii.gz"] == one[f"{folder}/synth_000.nii.gz"]


@pytest.mark.parametrize(("n", "seed"), [(0, 1), (-2, 1), (1, -1)])
def test_bad_arguments_raise(tmp_path: Path, n: int, seed: int) -> None:
    with pytest.raises(ValueError):
        write_dataset(tmp_path, n, SMALL, seed=seed)
    assert not (tmp_path / "dataset.json").exists()
