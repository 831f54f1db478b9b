"""NIfTI reading and atomic writing shared by the data, training and prediction stages."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from numpy.typing import NDArray

from minivess.errors import DataError

logger = logging.getLogger(__name__)

NIFTI_SUFFIXES = (".nii.gz", ".nii")


def volume_id(path: Path) -> str:
    """The id of a volume file: its name without the NIfTI suffix (and nnU-Net's `_0000` channel tag)."""
    name = path.name
    for suffix in NIFTI_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name.removesuffix("_0000")


def is_nifti(path: Path) -> bool:
    return path.is_file() and path.name.endswith(NIFTI_SUFFIXES)


def load_nifti(path: Path) -> nib.Nifti1Image:
    """Open a NIfTI file, raising DataError (naming the file and the fix) when it cannot be read."""
    try:
        img = nib.load(str(path))
        _ = img.header  # header parse errors surface here
    except Exception as exc:  # nibabel raises many unrelated types for corrupt files
        raise DataError(
            f"cannot read NIfTI file {path}: {exc}. Re-export it as .nii/.nii.gz (e.g. with nibabel or Fiji)."
        ) from exc
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        raise DataError(f"{path} is not a NIfTI image ({type(img).__name__}); convert it to .nii.gz.")
    return img


def read_array(path: Path, dtype: type[np.generic] | None = None) -> NDArray[Any]:
    """Read the voxel array of a 3D NIfTI file (a trailing singleton 4th dim is dropped)."""
    img = load_nifti(path)
    try:
        data = np.asanyarray(img.dataobj)
    except Exception as exc:
        raise DataError(f"cannot read the voxels of {path}: {exc}. The file is truncated or corrupt.") from exc
    if data.ndim == 4 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise DataError(f"{path} has shape {data.shape}; minivess expects 3D volumes (X, Y, Z).")
    return data.astype(dtype) if dtype is not None else data


def spacing_of(img: nib.Nifti1Image) -> tuple[float, float, float]:
    zooms = img.header.get_zooms()
    return (float(zooms[0]), float(zooms[1]), float(zooms[2]))


def write_nifti_atomic(
    path: Path, array: NDArray[Any], affine: NDArray[Any], header: nib.Nifti1Header | None = None
) -> None:
    """Write a NIfTI file under a temporary name in the same folder, then rename (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(array, affine, header=header)
    if header is not None:
        img.set_data_dtype(array.dtype)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix="".join(path.suffixes) or ".nii.gz", dir=path.parent)
    os.close(fd)
    try:
        nib.save(img, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
