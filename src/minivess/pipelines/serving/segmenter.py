"""A model loaded once to segment many volumes: what the HTTP service and the viewer share.

Uploads are checked before any voxel is read (size, NIfTI header, dimensionality, voxel count), so a bad
request costs nothing and fails with a reason a client can show.
"""

from __future__ import annotations

import gzip
import io
import logging
import math
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import nibabel as nib
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from minivess.errors import DataError
from minivess.pipelines.training.evaluation import OpenedRun, binary_entropy, open_run, segment_probability
from minivess.pipelines.training.inference import Predictor
from minivess.settings import Settings

logger = logging.getLogger(__name__)
Engine = Literal["auto", "torch", "onnx"]
GZIP_MAGIC: Final = b"\x1f\x8b"
MAX_UPLOAD_BYTES: Final = 256 * 1024 * 1024  # compressed or not, what a request may send
MAX_VOXELS: Final = 64 * 1024 * 1024  # 512 × 512 × 256; a MinIVess volume is at most ~512 × 512 × 110


class UploadError(DataError):
    """An uploaded volume is refused; ``reason`` is a stable code and ``status`` the HTTP status it maps to."""

    def __init__(self, reason: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = MAX_UPLOAD_BYTES
    max_voxels: int = MAX_VOXELS


def read_upload(data: bytes, limits: UploadLimits = UploadLimits()) -> nib.Nifti1Image:
    """A 3-D NIfTI image from uploaded bytes (.nii or .nii.gz), or an `UploadError` saying what is wrong.

    Decompression is bounded by ``limits.max_bytes`` (a small gzip cannot expand into gigabytes), and the
    voxel count is read from the header before the voxels are.
    """
    if not data:
        raise UploadError("empty", "the upload is empty: send a .nii or .nii.gz volume.")
    if len(data) > limits.max_bytes:
        raise UploadError("too_large", f"the upload is {len(data)} bytes; the limit is {limits.max_bytes}.", 413)
    raw = _gunzip(data, limits.max_bytes) if data[:2] == GZIP_MAGIC else data
    try:
        image = nib.Nifti1Image.from_bytes(raw) if _nifti_version(raw) == 1 else nib.Nifti2Image.from_bytes(raw)
    except UploadError:
        raise
    except Exception as exc:  # nibabel raises many types for a corrupt header
        raise UploadError("not_nifti", f"the upload is not a readable NIfTI volume: {exc}") from exc
    shape = tuple(int(n) for n in image.shape)
    spatial = shape[:3] if len(shape) == 3 or (len(shape) == 4 and shape[3] == 1) else None
    if spatial is None or len(spatial) < 3 or min(spatial) < 2:
        raise UploadError(
            "not_3d", f"the upload has shape {shape}; a 3-D volume (X, Y, Z, each ≥ 2 voxels) is needed.", 422
        )
    voxels = math.prod(spatial)  # Python ints: a forged NIfTI-2 shape cannot overflow the check
    if voxels > limits.max_voxels:
        raise UploadError("too_large", f"the volume has {voxels} voxels; the limit is {limits.max_voxels}.", 413)
    # nibabel reads voxels lazily: a truncated file would only fail later, deep inside inference
    offset = int(getattr(image.dataobj, "offset", 0))  # the image's header copy has vox_offset reset to 0
    needed = offset + math.prod(shape) * image.header.get_data_dtype().itemsize
    if len(raw) < needed:
        raise UploadError("not_nifti", f"the upload is truncated: its header needs {needed} bytes, it has {len(raw)}.")
    return image


def _nifti_version(raw: bytes) -> int:
    if len(raw) >= 348 and raw[344:347] == b"n+1":
        return 1
    if len(raw) >= 540 and raw[4:7] == b"n+2":
        return 2
    raise UploadError("not_nifti", "the upload is not a NIfTI file (no n+1/n+2 magic): send a .nii or .nii.gz volume.")


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise UploadError("not_nifti", f"the upload looks gzipped but does not decompress: {exc}") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise UploadError("too_large", f"the upload decompresses to more than {limit} bytes.", 413)
    return out


class SegmenterInfo(BaseModel):
    """Which model answers: shown by /healthz, the viewer and the start-up line."""

    model_ref: str
    run_id: str
    adapter: str
    engine: Literal["torch", "onnx"]
    patch_size: tuple[int, int, int]
    temperature: float


@dataclass
class Segmentation:
    """A segmented volume on the input's own grid, with the input's affine and header."""

    mask: NDArray[Any]  # uint8 (X, Y, Z)
    probability: NDArray[Any]  # float32 vessel probability (temperature applied)
    affine: NDArray[Any]
    header: Any
    seconds: float

    @property
    def vessel_fraction(self) -> float:
        return float(self.mask.mean())

    @property
    def entropy(self) -> NDArray[Any]:
        """Predictive entropy per voxel (nats, float32)."""
        return binary_entropy(self.probability).astype(np.float32)

    def mask_nifti(self) -> bytes:
        """The mask as .nii.gz bytes (uint8, the input's affine)."""
        return _nifti_bytes(self.mask.astype(np.uint8), self.affine, self.header, np.uint8)

    def uncertainty_nifti(self) -> bytes:
        """The predictive entropy as .nii.gz bytes (float32, the input's affine)."""
        return _nifti_bytes(self.entropy, self.affine, self.header, np.float32)


def _nifti_bytes(array: NDArray[Any], affine: NDArray[Any], header: Any, dtype: type[np.generic]) -> bytes:
    header = header.copy()
    header.set_data_dtype(dtype)
    image = nib.Nifti1Image(array, affine, header)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=1, mtime=0) as stream:
        stream.write(image.to_bytes())
    return buffer.getvalue()


class Segmenter:
    """A run's model (by run reference or registry alias) with its predictor, ready for many volumes.

    One volume is segmented at a time (a lock): inference already uses every thread it is given, and
    concurrent volumes would only multiply peak memory.
    """

    def __init__(self, run: OpenedRun, predictor: Predictor, info: SegmenterInfo, scratch: Path) -> None:
        self.run = run
        self.predictor = predictor
        self.info = info
        self.scratch = scratch  # uploads are written here (under the minivess home) while they are segmented
        self._lock = threading.Lock()

    @classmethod
    def open(cls, model_ref: str, settings: Settings, engine: Engine = "auto") -> Segmenter:
        """Load ``model_ref`` (``champion``, ``challenger[:<model>]``, a run id/prefix or ``last``).

        ``auto`` uses ONNX Runtime when the run has an ONNX export (`minivess export`), else torch.
        """
        from minivess.errors import TrainingError
        from minivess.pipelines.serving.onnx_run import onnx_predictor

        run = open_run(model_ref, settings)
        predictor: Predictor = run.model
        chosen: Literal["torch", "onnx"] = "torch"
        if engine in ("auto", "onnx"):
            try:
                predictor, chosen = onnx_predictor(run), "onnx"
            except TrainingError as exc:
                if engine == "onnx":
                    raise
                logger.warning("%s: serving with torch, not ONNX Runtime: %s", model_ref, exc)
        info = SegmenterInfo(
            model_ref=model_ref,
            run_id=run.run_id,
            adapter=run.spec.adapter,
            engine=chosen,
            patch_size=run.spec.patch_size,
            temperature=run.temperature,
        )
        return cls(run, predictor, info, settings.home_dir / "tmp")

    def segment_file(self, path: Path, threshold: float | None = None) -> Segmentation:
        """Segment a NIfTI file; vessel where p > 0.5, or p ≥ ``threshold`` (e.g. a conformal threshold)."""
        from minivess.pipelines.data.nifti import load_nifti

        source = load_nifti(path)
        started = time.perf_counter()
        with self._lock:
            probability = segment_probability(
                self.predictor, self.run.spec, path, self.run.cfg.inference, self.run.device, self.run.temperature
            )
        mask = (probability >= threshold) if threshold is not None else (probability > 0.5)
        return Segmentation(
            mask.astype(np.uint8), probability, source.affine, source.header, time.perf_counter() - started
        )

    def segment_bytes(
        self, data: bytes, limits: UploadLimits = UploadLimits(), threshold: float | None = None
    ) -> Segmentation:
        """Segment an uploaded volume (checked by `read_upload` first)."""
        image = read_upload(data, limits)
        self.scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="upload-", dir=self.scratch) as folder:
            path = Path(folder) / "volume.nii"  # uncompressed: written and read back fastest
            nib.save(image, str(path))
            try:
                return self.segment_file(path, threshold)
            except DataError as exc:  # the server's scratch path means nothing to the client
                raise UploadError("bad_volume", str(exc).replace(str(path), "the upload"), 422) from exc
