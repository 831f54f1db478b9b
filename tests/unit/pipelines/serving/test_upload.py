"""`read_upload`: every refusal reason (with its HTTP status), a bounded gzip bomb, and the accepted forms."""

from __future__ import annotations

import gzip
import time

import nibabel as nib
import numpy as np
import pytest

from minivess.pipelines.serving.segmenter import UploadError, UploadLimits, read_upload

AFFINE = np.diag([0.5, 0.5, 2.0, 1.0])


def _nifti(shape: tuple[int, ...], dtype: type[np.generic] = np.float32) -> bytes:
    return bytes(nib.Nifti1Image(np.ones(shape, dtype), AFFINE).to_bytes())


def _header_only(shape: tuple[int, ...]) -> bytes:
    """A NIfTI header that claims ``shape`` and carries no voxels (a few hundred bytes)."""
    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.float32)
    header["vox_offset"] = 352
    return bytes(header.binaryblock) + b"\0" * 4


def _refused(data: bytes, limits: UploadLimits = UploadLimits()) -> UploadError:
    with pytest.raises(UploadError) as caught:
        read_upload(data, limits)
    return caught.value


@pytest.mark.parametrize("compress", [False, True], ids=["nii", "nii.gz"])
def test_a_3d_volume_is_read_with_its_affine(compress: bool) -> None:
    raw = _nifti((8, 6, 4))
    image = read_upload(gzip.compress(raw) if compress else raw)
    assert image.shape == (8, 6, 4)
    np.testing.assert_array_equal(image.affine, AFFINE)
    np.testing.assert_array_equal(np.asanyarray(image.dataobj), np.ones((8, 6, 4), np.float32))


def test_a_4d_volume_with_one_frame_is_3d() -> None:
    assert read_upload(_nifti((8, 6, 4, 1))).shape == (8, 6, 4, 1)


def test_an_empty_upload_is_refused() -> None:
    error = _refused(b"")
    assert (error.reason, error.status) == ("empty", 400)


@pytest.mark.parametrize(
    "data",
    [b"this is not a volume" * 40, b"\x1f\x8b" + b"\x00corrupt gzip stream" * 20, gzip.compress(b"plain text" * 50)],
    ids=["text", "corrupt-gzip", "gzipped-text"],
)
def test_bytes_that_are_not_nifti_are_refused(data: bytes) -> None:
    error = _refused(data)
    assert (error.reason, error.status) == ("not_nifti", 400)


def test_a_truncated_volume_is_refused_before_its_voxels_are_read() -> None:
    raw = _nifti((16, 16, 8))
    error = _refused(raw[: len(raw) // 2])
    assert (error.reason, error.status) == ("not_nifti", 400)
    assert "truncated" in str(error)


@pytest.mark.parametrize("shape", [(32, 32), (8, 8, 1), (8, 8, 4, 3)], ids=["2d", "flat-3d", "4d"])
def test_a_volume_that_is_not_3d_is_refused(shape: tuple[int, ...]) -> None:
    error = _refused(_nifti(shape))
    assert (error.reason, error.status) == ("not_3d", 422)
    assert str(shape) in str(error)


def test_an_upload_over_the_byte_limit_is_refused() -> None:
    error = _refused(_nifti((16, 16, 8)), UploadLimits(max_bytes=1000))
    assert (error.reason, error.status) == ("too_large", 413)


def test_a_volume_over_the_voxel_limit_is_refused_from_its_header() -> None:
    error = _refused(_header_only((1024, 1024, 128)))  # 128 Mi voxels claimed in 356 bytes
    assert (error.reason, error.status) == ("too_large", 413)
    assert "voxels" in str(error)
    small = _refused(_nifti((16, 16, 8)), UploadLimits(max_voxels=1000))
    assert (small.reason, small.status) == ("too_large", 413)


def test_a_gzip_bomb_is_stopped_at_the_limit() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # 64 MiB of zeros in ~64 KiB
    assert len(bomb) < 1024 * 1024
    started = time.perf_counter()
    error = _refused(bomb, UploadLimits(max_bytes=1024 * 1024))
    assert (error.reason, error.status) == ("too_large", 413)
    assert "decompresses" in str(error)
    assert time.perf_counter() - started < 1.0  # inflated no further than the limit
