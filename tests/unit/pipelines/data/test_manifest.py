from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from minivess.errors import DataError
from minivess.pipelines.data.manifest import DatasetManifest, scan_dataset, verify_voxels
from tests.helpers import tube_volume, write_pair, write_tube_dataset


def test_scan_reads_shape_spacing_fraction_and_checksum(tmp_path: Path) -> None:
    root = write_tube_dataset(tmp_path / "ds", n=3)
    manifest = scan_dataset(root)
    assert manifest.ids() == ["vol00", "vol01", "vol02"]
    record = manifest.volumes[0]
    _, mask = tube_volume(seed=0)
    assert record.shape == (32, 32, 16)
    assert record.spacing == (1.0, 1.0, 2.0)
    assert record.vessel_fraction == pytest.approx(mask.mean())
    assert len(record.sha256) == 64


def test_version_changes_when_a_file_changes(tmp_path: Path) -> None:
    root = write_tube_dataset(tmp_path / "ds", n=2)
    before = scan_dataset(root).version
    assert scan_dataset(root).version == before
    image, mask = tube_volume(seed=7)
    write_pair(root, "vol01", image, mask)
    assert scan_dataset(root).version != before


def test_manifest_round_trips_through_json(tmp_path: Path) -> None:
    manifest = scan_dataset(write_tube_dataset(tmp_path / "ds", n=2))
    manifest.save(tmp_path / "m.json")
    assert DatasetManifest.model_validate_json((tmp_path / "m.json").read_text()) == manifest


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist.*minivess data synth"):
        scan_dataset(tmp_path / "nope")


def test_wrong_layout(tmp_path: Path) -> None:
    (tmp_path / "ds").mkdir()
    with pytest.raises(DataError, match="not a MinIVess-layout dataset"):
        scan_dataset(tmp_path / "ds")


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "ds" / "raw").mkdir(parents=True)
    (tmp_path / "ds" / "seg").mkdir()
    with pytest.raises(DataError, match="no NIfTI images"):
        scan_dataset(tmp_path / "ds")


def test_missing_mask_names_the_file(tmp_path: Path) -> None:
    root = write_tube_dataset(tmp_path / "ds", n=2)
    (root / "seg" / "vol01.nii.gz").unlink()
    with pytest.raises(DataError, match=r"no mask for 1 image.*vol01"):
        scan_dataset(root)


def test_shape_mismatch(tmp_path: Path) -> None:
    image, mask = tube_volume()
    write_pair(tmp_path / "ds", "a", image, mask[:, :, :8])
    with pytest.raises(DataError, match=r"shape mismatch.*a\.nii\.gz"):
        scan_dataset(tmp_path / "ds")


def test_spacing_mismatch(tmp_path: Path) -> None:
    image, mask = tube_volume()
    write_pair(tmp_path / "ds", "a", image, mask, spacing=(1, 1, 2), mask_spacing=(1, 1, 1))
    with pytest.raises(DataError, match="spacing mismatch"):
        scan_dataset(tmp_path / "ds")


def test_non_binary_mask(tmp_path: Path) -> None:
    image, mask = tube_volume()
    write_pair(tmp_path / "ds", "a", image, (mask * 255).astype(np.uint8))
    with pytest.raises(DataError, match=r"not binary \(values: 0, 255\)"):
        scan_dataset(tmp_path / "ds")


def test_unreadable_nifti(tmp_path: Path) -> None:
    root = write_tube_dataset(tmp_path / "ds", n=1)
    (root / "raw" / "vol00.nii.gz").write_bytes(b"not a nifti file")
    with pytest.raises(DataError, match=r"cannot read NIfTI file .*vol00\.nii\.gz"):
        scan_dataset(root)


def test_a_truncated_image_passes_the_scan_but_not_verify_voxels(tmp_path: Path) -> None:
    root = write_tube_dataset(tmp_path / "ds", n=2)
    image = root / "raw" / "vol01.nii.gz"
    image.write_bytes(image.read_bytes()[: image.stat().st_size // 2])  # the header survives
    manifest = scan_dataset(root)
    with pytest.raises(DataError, match=r"cannot read the voxels of .*vol01\.nii\.gz.*truncated"):
        verify_voxels(manifest)
