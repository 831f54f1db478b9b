"""Dataset manifest: scan a MinIVess-layout folder into validated, checksummed volume records."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from minivess.errors import DataError
from minivess.fileio import write_json_atomic
from minivess.pipelines.data.nifti import is_nifti, load_nifti, read_array, spacing_of, volume_id

logger = logging.getLogger(__name__)

# Folder names accepted for images and masks: MinIVess (raw/seg), generic (images/labels), nnU-Net.
IMAGE_DIRS = ("raw", "images", "imagesTr")
MASK_DIRS = ("seg", "labels", "labelsTr")
SKELETON_DIRS = ("skel",)
SPACING_RTOL = 1e-3


class VolumeRecord(BaseModel):
    """One image/mask pair, with the facts later stages need without opening the files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    image: Path
    mask: Path
    skeleton: Path | None = None
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float] = Field(description="Voxel size in µm (X, Y, Z).")
    vessel_fraction: float = Field(ge=0.0, le=1.0)
    sha256: str = Field(description="SHA-256 over the image and mask file bytes.")


class DatasetManifest(BaseModel):
    """Every volume of a dataset folder; `version` changes whenever any file changes."""

    model_config = ConfigDict(extra="forbid")

    root: Path
    volumes: list[VolumeRecord]

    @model_validator(mode="after")
    def _schema_checks(self) -> DatasetManifest:
        """Pandera checks across volumes (unique ids, positive spacing …) on every build and load.

        Raises:
            DataError: naming each failing column, check and the first bad volumes (not a ValidationError:
                the files, not the caller's arguments, are wrong).
        """
        from minivess.pipelines.data.schemas import validate_manifest  # pandas/pandera load on first manifest

        validate_manifest(self)
        return self

    @property
    def version(self) -> str:
        digest = hashlib.sha256("".join(v.id + v.sha256 for v in self.volumes).encode())
        return digest.hexdigest()[:12]

    def ids(self) -> list[str]:
        return [v.id for v in self.volumes]

    def by_id(self, volume: str) -> VolumeRecord:
        for record in self.volumes:
            if record.id == volume:
                return record
        raise DataError(f"volume '{volume}' is not in the dataset at {self.root}; known: {', '.join(self.ids())}")

    def save(self, path: Path) -> None:
        write_json_atomic(path, self)


def verify_voxels(manifest: DatasetManifest, on_volume: Callable[[str], None] | None = None) -> None:
    """Read every image's voxels once (``scan_dataset`` reads masks fully but only image headers).

    A truncated or corrupt ``.nii.gz`` keeps a readable header; this is the check ``data info`` makes when it
    summarises, run before a training run is created so the file is named instead of failing mid-run.

    Raises:
        DataError: a volume cannot be read; the message names the file.
    """
    for record in manifest.volumes:
        read_array(record.image)
        if on_volume:
            on_volume(record.id)


def _find_dir(root: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (root / name).is_dir():
            return root / name
    return None


def _sha256(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _check_pair(image: Path, mask: Path) -> tuple[tuple[int, int, int], tuple[float, float, float], float]:
    img, msk = load_nifti(image), load_nifti(mask)
    img_shape, msk_shape = tuple(int(s) for s in img.shape[:3]), tuple(int(s) for s in msk.shape[:3])
    if img_shape != msk_shape:
        raise DataError(
            f"shape mismatch: image {image} is {img_shape} but mask {mask} is {msk_shape}. "
            "Re-export the mask on the image's grid."
        )
    img_spacing, msk_spacing = spacing_of(img), spacing_of(msk)
    if not np.allclose(img_spacing, msk_spacing, rtol=SPACING_RTOL):
        raise DataError(
            f"spacing mismatch: image {image} has {img_spacing} µm but mask {mask} has {msk_spacing} µm. "
            "Copy the image header's zooms into the mask."
        )
    labels = read_array(mask)
    values = np.unique(labels)
    if not np.isin(values, (0, 1)).all():
        shown = ", ".join(str(v) for v in values[:8])
        raise DataError(
            f"mask {mask} is not binary (values: {shown}{' …' if len(values) > 8 else ''}). "
            "Save vessels as 1 and background as 0 (e.g. threshold the mask at 0.5)."
        )
    fraction = float(labels.mean()) if labels.size else 0.0
    return img_shape, img_spacing, fraction  # type: ignore[return-value]


def scan_dataset(root: Path, on_volume: Callable[[str], None] | None = None) -> DatasetManifest:
    """Scan a MinIVess-layout folder (``raw/`` images + ``seg/`` masks, matched by file name).

    Args:
        root: The dataset folder.
        on_volume: Called with each volume id once it has been checked (progress).

    Returns:
        The manifest, volumes sorted by id.

    Raises:
        DataError: Missing folder, no volumes, a missing mask, unreadable NIfTI, a shape or spacing
            mismatch, or a non-binary mask. The message names the file and the fix.
    """
    root = root.expanduser()
    if not root.is_dir():
        raise DataError(f"dataset folder {root} does not exist. Create one with `minivess data synth --out {root}`.")
    image_dir, mask_dir = _find_dir(root, IMAGE_DIRS), _find_dir(root, MASK_DIRS)
    if image_dir is None or mask_dir is None:
        raise DataError(
            f"{root} is not a MinIVess-layout dataset: expected image files in one of {'/, '.join(IMAGE_DIRS)}/ "
            f"and masks in one of {'/, '.join(MASK_DIRS)}/ with the same file names."
        )
    images = {volume_id(p): p for p in sorted(image_dir.iterdir()) if is_nifti(p)}
    if not images:
        raise DataError(f"no NIfTI images (.nii/.nii.gz) in {image_dir}; the dataset folder is empty.")
    masks = {volume_id(p): p for p in sorted(mask_dir.iterdir()) if is_nifti(p)}
    missing = sorted(set(images) - set(masks))
    if missing:
        raise DataError(
            f"no mask for {len(missing)} image(s) in {mask_dir}: {', '.join(missing[:5])}"
            f"{' …' if len(missing) > 5 else ''}. Add {mask_dir / (missing[0] + '.nii.gz')} (same name as the image)."
        )
    skeleton_dir = _find_dir(root, SKELETON_DIRS)
    records = []
    for vid, image in images.items():
        mask = masks[vid]
        shape, spacing, fraction = _check_pair(image, mask)
        skeleton = skeleton_dir / mask.name if skeleton_dir and (skeleton_dir / mask.name).is_file() else None
        records.append(
            VolumeRecord(
                id=vid,
                image=image.resolve(),
                mask=mask.resolve(),
                skeleton=skeleton.resolve() if skeleton else None,
                shape=shape,
                spacing=spacing,
                vessel_fraction=fraction,
                sha256=_sha256(image, mask),
            )
        )
        if on_volume:
            on_volume(vid)
    extra = sorted(set(masks) - set(images))
    if extra:
        logger.warning("%d mask(s) without an image in %s are ignored: %s", len(extra), mask_dir, ", ".join(extra[:5]))
    return DatasetManifest(root=root.resolve(), volumes=records)
