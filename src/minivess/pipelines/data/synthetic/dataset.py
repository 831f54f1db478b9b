"""Write a synthetic dataset in the MinIVess layout, deterministically and atomically."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
from numpy.typing import NDArray

from minivess.fileio import write_bytes_atomic
from minivess.pipelines.data.synthetic.config import SynthConfig
from minivess.pipelines.data.synthetic.generate import GENERATOR_VERSION, generate_volume, volume_seed
from minivess.pipelines.data.synthetic.ledger import DatasetLedger, LabelNoiseLedger

logger = logging.getLogger(__name__)

#: Sub-folders of a dataset: images, (possibly noisy) masks, skeletons, clean masks, sidecars.
RAW, SEG, SKEL, SEG_CLEAN, JSON_DIR = "raw", "seg", "skel", "seg_clean", "json"
DATASET_JSON = "dataset.json"
LEDGER_JSON = "label_noise_ledger.json"


def volume_name(index: int, n: int) -> str:
    """The id of volume ``index`` in a dataset of ``n`` (``synth_000``; wider when n > 1000)."""
    width = max(3, len(str(max(n - 1, 0))))
    return f"synth_{index:0{width}d}"


def nifti_bytes(array: NDArray[Any], spacing: tuple[float, float, float]) -> bytes:
    """A gzipped NIfTI-1 file as bytes: affine diag(spacing), units µm, no timestamp or file name.

    gzip normally stores the modification time and file name; ``mtime=0`` and compressing bytes
    (not a named file) make the output depend on the array and spacing only.
    """
    affine = np.diag([spacing[0], spacing[1], spacing[2], 1.0])
    nifti: Any = nib  # nibabel is only partly typed; keep strict mypy quiet either way
    img = nifti.Nifti1Image(array, affine)
    img.header.set_xyzt_units(xyz="micron")
    img.header.set_qform(affine, code=1)
    img.header.set_sform(affine, code=1)
    data: bytes = img.to_bytes()
    return gzip.compress(data, compresslevel=6, mtime=0)


def _json_bytes(payload: Any) -> bytes:
    return (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode("utf-8")


def write_dataset(
    out_dir: Path,
    n: int,
    config: SynthConfig,
    seed: int,
    on_volume: Callable[[int, Path], None] | None = None,
) -> list[Path]:
    """Generate ``n`` volumes and write them in the MinIVess layout under ``out_dir``.

    Layout (ids ``synth_000`` …)::

        raw/<id>.nii.gz        image, float32
        seg/<id>.nii.gz        mask, uint8 {0,1} (the corrupted one when label noise is on)
        skel/<id>.nii.gz       centreline skeleton, uint8 {0,1}
        seg_clean/<id>.nii.gz  clean mask (only when label noise is on)
        json/<id>.json         sidecar: seeds, spacing, generation parameters, statistics
        dataset.json           n, seed, generator version, full config, volume ids (written last)
        label_noise_ledger.json  per-volume ledgers (only when label noise is on)

    Arrays are (X, Y, Z) with affine diag(spacing), so the header zooms hold the spacing in µm.
    Volume ``i`` uses ``volume_seed(seed, i)``: any volume can be regenerated alone. Every file is
    written atomically and is byte-identical for the same seed and config. Existing files of the same
    names are replaced; other files in ``out_dir`` are left alone.

    Args:
        out_dir: Dataset folder (created if missing).
        n: Number of volumes (≥ 1).
        config: Generator configuration.
        seed: Dataset seed (≥ 0).
        on_volume: Progress callback, called as ``on_volume(index, image_path)`` after each volume.

    Returns:
        The image paths (``out_dir/raw/<id>.nii.gz``) in index order.

    Raises:
        ValueError: ``n`` < 1 or a negative seed.
    """
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}; ask for at least one volume.")
    if seed < 0:
        raise ValueError(f"seed must be ≥ 0, got {seed}; pass a non-negative integer.")
    out_dir = Path(out_dir)
    noisy = config.label_noise is not None
    images: list[Path] = []
    ledgers: dict[str, LabelNoiseLedger] = {}
    for index in range(n):
        name = volume_name(index, n)
        vseed = volume_seed(seed, index)
        volume = generate_volume(config, vseed)
        spacing = volume.spacing
        image_path = out_dir / RAW / f"{name}.nii.gz"
        write_bytes_atomic(image_path, nifti_bytes(volume.image, spacing))
        write_bytes_atomic(out_dir / SEG / f"{name}.nii.gz", nifti_bytes(volume.mask, spacing))
        write_bytes_atomic(out_dir / SKEL / f"{name}.nii.gz", nifti_bytes(volume.skeleton, spacing))
        if noisy:
            write_bytes_atomic(out_dir / SEG_CLEAN / f"{name}.nii.gz", nifti_bytes(volume.clean_mask, spacing))
        if volume.ledger is not None:
            ledgers[name] = volume.ledger
        sidecar = {"id": name, "index": index, "dataset_seed": seed, "volume_seed": vseed, **volume.params}
        write_bytes_atomic(out_dir / JSON_DIR / f"{name}.json", _json_bytes(sidecar))
        images.append(image_path)
        logger.info("wrote %s (%d/%d)", name, index + 1, n)
        if on_volume is not None:
            on_volume(index, image_path)
    if noisy:
        ledger = DatasetLedger(seed=seed, volumes=ledgers)
        write_bytes_atomic(out_dir / LEDGER_JSON, (ledger.model_dump_json(indent=2) + "\n").encode("utf-8"))
    manifest = {
        "name": "minivess-synthetic",
        "generator_version": GENERATOR_VERSION,
        "n": n,
        "seed": seed,
        "ids": [volume_name(i, n) for i in range(n)],
        "spacing_um": list(config.spacing),
        "image_units": "expected signal of a bright vessel at the surface (x photons_per_unit = photons)",
        "layout": {"image": RAW, "mask": SEG, "skeleton": SKEL, "clean_mask": SEG_CLEAN if noisy else None},
        "label_noise_ledger": LEDGER_JSON if noisy else None,
        "config": config.model_dump(mode="json"),
    }
    write_bytes_atomic(out_dir / DATASET_JSON, _json_bytes(manifest))
    return images
