"""Per-slice label-quality scores with cleanlab's segmentation method, streamed over volumes in bounded memory.

cleanlab's segmentation API is 2-D, so each volume is cut into slices along ``axis`` (default Z, the imaging
axis annotators draw on) and every slice is one "image" with 2-class probabilities ``[1 - p, p]``.

* ``score`` is cleanlab's ``segmentation.rank.get_label_quality_scores(method="softmin")``: a soft minimum
  (temperature 0.1) of each pixel's probability of its given label. It lies in [0, 1]; **lower = the label more
  likely wrong** (cleanlab's convention); rank 1 is the lowest score. It depends on the slice alone.
* ``suspicious_fraction`` is the share of the slice's pixels that cleanlab's confident learning flags, as
  ``segmentation.filter.find_label_issues`` would over the whole dataset: per-class thresholds (mean probability
  of class k over pixels labelled k) and the estimated number T of label errors come from *all* slices, and the
  T pixels with the lowest self-confidence (all of them predicted otherwise than labelled) are flagged. cleanlab
  needs every pixel in memory for that; here it is three passes over batches of slices (thresholds; T and a
  histogram of the candidates' scores; the exact cutoff and per-slice counts). Pixels tied with the T-th score
  are all flagged (cleanlab breaks such ties arbitrarily).

Memory is bounded by ``batch_slices`` slices at a time. A slice whose side exceeds ``max_side`` is shrunk by
the smallest integer factor that fits: probabilities by block mean, labels by block majority (ties →
background, as cleanlab's own ``downsample``); partial edge blocks average their real pixels only.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from minivess.errors import DataError
from minivess.fileio import exclusive, write_bytes_atomic
from minivess.pipelines.annotation.layout import ANNOTATION_DIR, ISSUE_COLUMN_TYPES, ISSUE_COLUMNS, ISSUE_TABLE_FILE
from minivess.pipelines.data.manifest import DatasetManifest, scan_dataset
from minivess.pipelines.data.nifti import read_array
from minivess.settings import Settings

if TYPE_CHECKING:  # the training stack (torch, MLflow) loads only when issues are found, not for the table
    from minivess.pipelines.annotation.oof import FoldCallback
    from minivess.pipelines.training.events import TrainingObserver

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SLICES: Final = 8
DEFAULT_MAX_SIDE: Final = 512
SOFTMIN_TEMPERATURE: Final = 0.1
_CUTOFF_BINS: Final = 1 << 16
DEFAULT_PRESET: Final = "segresnet_tiny"


def annotation_dir(settings: Settings, dataset_version: str) -> Path:
    """``HOME/annotation/<dataset_version>``: everything the annotation loop stores for one dataset version."""
    return settings.home_dir / ANNOTATION_DIR / dataset_version


class SliceIssue(BaseModel):
    """One scored 2-D slice: a row of the label-issue table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: int = Field(ge=1, description="1 = most likely mislabelled (lowest score; ties: larger suspicious share).")
    volume_id: str = Field(description="Volume id (the file name without .nii.gz).")
    axis: int = Field(ge=0, le=2, description="Array axis the slice is cut along (2 = Z).")
    slice_index: int = Field(ge=0, description="Index along that axis in the file's own array.")
    score: float = Field(description="cleanlab softmin label quality in [0, 1]; lower = more likely wrong.")
    suspicious_fraction: float = Field(ge=0.0, le=1.0, description="Share of the slice's pixels cleanlab flags.")
    suspicious_pixels: int = Field(ge=0, description="Pixels cleanlab flags (after any downsampling).")
    pixels: int = Field(ge=1, description="Pixels scored (after any downsampling).")
    downsample: int = Field(ge=1, description="In-plane shrink factor applied before scoring (1 = none).")
    label_fraction: float = Field(ge=0.0, le=1.0, description="Share of the slice labelled vessel.")


@dataclass
class _Batch:
    """Consecutive slices of one volume: labels (B, h, w) in {0, 1} and probabilities (B, 2, h, w)."""

    volume_id: str
    start: int
    labels: NDArray[np.int64]
    probs: NDArray[np.float32]
    factor: int

    def flat(self) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        """Pixels as cleanlab's classification API takes them: labels (n,), probabilities (n, 2)."""
        return self.labels.reshape(-1), np.moveaxis(self.probs, 1, -1).reshape(-1, 2)


@dataclass
class _SliceMeta:
    volume_id: str
    index: int
    score: float
    pixels: int
    factor: int
    label_fraction: float


def _shrink_factor(shape: tuple[int, ...], max_side: int) -> int:
    return max(1, math.ceil(max(shape) / max_side))


def _block_mean(x: NDArray[np.float32], factor: int) -> NDArray[np.float32]:
    """Mean over factor×factor blocks of (B, H, W); partial edge blocks average their real pixels only."""
    b, h, w = x.shape
    hh, ww = -(-h // factor), -(-w // factor)
    padded = np.zeros((b, hh * factor, ww * factor), dtype=np.float32)
    padded[:, :h, :w] = x
    count = np.zeros((hh * factor, ww * factor), dtype=np.float32)
    count[:h, :w] = 1.0
    sums = padded.reshape(b, hh, factor, ww, factor).sum(axis=(2, 4))
    return np.asarray(sums / count.reshape(hh, factor, ww, factor).sum(axis=(1, 3)), dtype=np.float32)


def _check_volume(volume_id: str, probs: NDArray[Any], labels: NDArray[Any], axis: int) -> None:
    if probs.ndim != 3 or probs.shape != labels.shape:
        raise ValueError(
            f"volume {volume_id}: probabilities {probs.shape} and labels {labels.shape} must be the same 3-D shape."
        )
    if probs.shape[axis] == 0:
        raise ValueError(f"volume {volume_id} has no slices along axis {axis}.")


def _check_batch(volume_id: str, probs: NDArray[np.float32], labels: NDArray[Any]) -> None:
    if not (np.isfinite(probs).all() and probs.min() >= 0.0 and probs.max() <= 1.0):
        raise ValueError(f"volume {volume_id}: vessel probabilities must be finite and in [0, 1].")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"volume {volume_id}: labels must be binary (0 = background, 1 = vessel).")


def _batches(
    probs_by_volume: Mapping[str, NDArray[Any]],
    labels_by_volume: Mapping[str, NDArray[Any]],
    axis: int,
    batch_slices: int,
    max_side: int,
) -> Iterator[_Batch]:
    """Batches of at most ``batch_slices`` slices, volume by volume, downsampled where a side exceeds max_side."""
    for volume_id, volume_probs in probs_by_volume.items():
        if volume_id not in labels_by_volume:
            raise ValueError(f"volume {volume_id} has probabilities but no labels; pass both for every volume.")
        probs, labels = np.asarray(volume_probs), np.asarray(labels_by_volume[volume_id])
        _check_volume(volume_id, probs, labels, axis)
        probs, labels = np.moveaxis(probs, axis, 0), np.moveaxis(labels, axis, 0)
        factor = _shrink_factor(probs.shape[1:], max_side)
        for start in range(0, probs.shape[0], batch_slices):
            p = np.asarray(probs[start : start + batch_slices], dtype=np.float32)
            y = np.asarray(labels[start : start + batch_slices])
            _check_batch(volume_id, p, y)
            y = y.astype(np.float32)
            if factor > 1:
                p, y = _block_mean(p, factor), _block_mean(y, factor)
            stacked = np.stack([1.0 - p, p], axis=1).astype(np.float32)
            yield _Batch(volume_id, start, (y > 0.5).astype(np.int64), stacked, factor)


def _confidence_bins(confidence: NDArray[np.float32]) -> NDArray[np.int64]:
    """Histogram bin of a self-confidence in [0, 0.5] (mislabel candidates never exceed 0.5)."""
    return np.minimum((confidence.astype(np.float64) * (2 * _CUTOFF_BINS)).astype(np.int64), _CUTOFF_BINS - 1)


def _flagged_per_slice(
    batches: Callable[[], Iterator[_Batch]], histogram: NDArray[np.int64], n_issues: int, n_slices: int
) -> NDArray[np.int64]:
    """Pass 3: per slice, the pixels among the ``n_issues`` lowest-confidence mispredicted ones (ties included)."""
    counts = np.zeros(n_slices, dtype=np.int64)
    cumulative = np.cumsum(histogram)
    n_issues = min(n_issues, int(cumulative[-1]))
    if n_issues <= 0:
        return counts
    cut = int(np.searchsorted(cumulative, n_issues))  # the bin holding the n_issues-th lowest confidence
    below = int(cumulative[cut - 1]) if cut else 0
    edge_values: list[NDArray[np.float32]] = []
    edge_slices: list[NDArray[np.int64]] = []
    offset = 0
    for batch in batches():
        labels, probs = batch.flat()
        confidence = np.where(labels == 1, probs[:, 1], probs[:, 0])
        wrong = probs.argmax(axis=1) != labels
        bins = _confidence_bins(confidence)
        slice_of = offset + np.arange(labels.size) // batch.labels[0].size
        counts += np.bincount(slice_of[wrong & (bins < cut)], minlength=n_slices)
        edge = wrong & (bins == cut)
        edge_values.append(confidence[edge])
        edge_slices.append(slice_of[edge])
        offset += batch.labels.shape[0]
    values, slices = np.concatenate(edge_values), np.concatenate(edge_slices)
    cutoff = np.sort(values)[n_issues - below - 1]
    counts += np.bincount(slices[values <= cutoff], minlength=n_slices)
    return counts


def _check_args(axis: int, batch_slices: int, max_side: int, softmin_temperature: float) -> None:
    if axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2 (2 = Z slices), got {axis}.")
    if batch_slices < 1 or max_side < 1:
        raise ValueError(f"batch_slices ({batch_slices}) and max_side ({max_side}) must be ≥ 1.")
    if not softmin_temperature > 0:
        raise ValueError(f"softmin_temperature must be > 0 (cleanlab's default is 0.1), got {softmin_temperature}.")


def slice_label_issues(
    probs_by_volume: Mapping[str, NDArray[Any]],
    labels_by_volume: Mapping[str, NDArray[Any]],
    axis: int = 2,
    batch_slices: int = DEFAULT_BATCH_SLICES,
    max_side: int = DEFAULT_MAX_SIDE,
    softmin_temperature: float = SOFTMIN_TEMPERATURE,
) -> list[SliceIssue]:
    """Score every slice's label with cleanlab and rank the slices, most suspicious first.

    Args:
        probs_by_volume: Volume id → out-of-sample vessel probability (X, Y, Z) in [0, 1]; read three times,
            a batch at a time, so memory-mapped arrays or a lazy mapping keep memory bounded.
        labels_by_volume: Volume id → binary label of the same shape.
        axis: Axis the slices are cut along. Defaults to 2 (Z).
        batch_slices: Slices scored at once (peak ≈ batch_slices × H × W × ~160 bytes, measured by
            benchmarks/label_issues_memory.py). Defaults to 8.
        max_side: Slices with a longer side are shrunk by an integer factor first. Defaults to 512.
        softmin_temperature: cleanlab's softmin temperature. Defaults to 0.1 (cleanlab's default).

    Returns:
        One row per slice, ordered by rank (lowest score first); scores do not depend on the batching.

    Raises:
        ValueError: Bad arguments, no volumes, mismatched shapes, probabilities outside [0, 1], non-binary
            labels, or a volume without labels.
    """
    _check_args(axis, batch_slices, max_side, softmin_temperature)
    if not probs_by_volume:
        raise ValueError("no volumes to score; pass at least one volume's probabilities and labels.")
    from cleanlab.experimental.label_issues_batched import LabelInspector
    from cleanlab.segmentation.rank import get_label_quality_scores

    def batches() -> Iterator[_Batch]:
        return _batches(probs_by_volume, labels_by_volume, axis, batch_slices, max_side)

    inspector = LabelInspector(num_class=2, store_results=False, verbose=False, n_jobs=1)
    for batch in batches():  # pass 1: confident thresholds over every pixel
        inspector.update_confident_thresholds(*batch.flat())
    histogram = np.zeros(_CUTOFF_BINS, dtype=np.int64)
    meta: list[_SliceMeta] = []
    for batch in batches():  # pass 2: number of issues, candidates' confidence histogram, slice scores
        labels, probs = batch.flat()
        confidence = inspector.score_label_quality(labels, probs)
        histogram += np.bincount(_confidence_bins(confidence[probs.argmax(axis=1) != labels]), minlength=_CUTOFF_BINS)
        scores, _ = get_label_quality_scores(
            batch.labels, batch.probs, method="softmin", verbose=False, temperature=softmin_temperature
        )
        pixels = int(batch.labels[0].size)
        meta.extend(
            _SliceMeta(batch.volume_id, batch.start + i, float(s), pixels, batch.factor, float(lab.mean()))
            for i, (s, lab) in enumerate(zip(scores, batch.labels, strict=True))
        )
    n_issues = int(inspector.get_num_issues(silent=True))
    flagged = _flagged_per_slice(batches, histogram, n_issues, len(meta))
    logger.info("cleanlab: %d slices scored, %d pixels flagged", len(meta), int(flagged.sum()))
    return _ranked(meta, flagged, axis)


def _ranked(meta: Sequence[_SliceMeta], flagged: NDArray[np.int64], axis: int) -> list[SliceIssue]:
    order = sorted(
        range(len(meta)),
        key=lambda i: (meta[i].score, -flagged[i] / meta[i].pixels, meta[i].volume_id, meta[i].index),
    )
    return [
        SliceIssue(
            rank=rank, volume_id=meta[i].volume_id, axis=axis, slice_index=meta[i].index, score=meta[i].score,
            suspicious_fraction=float(flagged[i]) / meta[i].pixels, suspicious_pixels=int(flagged[i]),
            pixels=meta[i].pixels, downsample=meta[i].factor, label_fraction=meta[i].label_fraction,
        )
        for rank, i in enumerate(order, start=1)
    ]  # fmt: skip


def save_issue_table(path: Path, rows: Sequence[SliceIssue], metadata: Mapping[str, str] | None = None) -> Path:
    """Write the rows as a Parquet table (atomically), with optional key/value file metadata.

    Returns:
        ``path``.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = {name: [getattr(r, name) for r in rows] for name in ISSUE_COLUMNS}
    table = pa.table({name: pa.array(columns[name], type=typ) for name, typ in ISSUE_COLUMN_TYPES.items()})
    if metadata:
        table = table.replace_schema_metadata({f"minivess.{k}": v for k, v in metadata.items()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    write_bytes_atomic(path, sink.getvalue().to_pybytes())
    return path


def load_issue_table(path: Path) -> list[SliceIssue]:
    """Read a table written by :func:`save_issue_table`, rows in rank order.

    Raises:
        DataError: The file is missing, unreadable or lacks the table's columns.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=list(ISSUE_COLUMNS))
    except (OSError, pa.ArrowException, KeyError) as exc:
        raise DataError(f"cannot read the label-issue table {path}: {exc}; run `minivess labels find` again.") from exc
    rows = [SliceIssue.model_validate(r) for r in table.to_pylist()]
    return sorted(rows, key=lambda r: r.rank)


def issue_table_path(settings: Settings, dataset_version: str) -> Path:
    """``HOME/annotation/<dataset_version>/label_issues.parquet`` (the analytics warehouse loads it)."""
    return annotation_dir(settings, dataset_version) / ISSUE_TABLE_FILE


class _MaskVolumes(Mapping[str, NDArray[Any]]):
    """Volume id → the dataset's current label, read from its NIfTI file when looked up."""

    def __init__(self, manifest: DatasetManifest, ids: Sequence[str]) -> None:
        self._manifest, self._ids = manifest, list(ids)

    def __getitem__(self, key: str) -> NDArray[Any]:
        if key not in self._ids:
            raise KeyError(key)
        return read_array(self._manifest.by_id(key).mask)

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


class LabelIssueResult(BaseModel):
    """What :func:`find_label_issues_for_dataset` stored."""

    dataset_version: str
    table_path: Path
    fold_runs: list[str] = Field(description="MLflow run ids, one per fold, in fold order.")
    oof_index: Path = Field(description="The oof.json index of the out-of-fold probabilities.")
    rows: list[SliceIssue] = Field(description="Every scored slice, in rank order.")


def find_label_issues_for_dataset(
    data_dir: Path,
    settings: Settings,
    folds: int = 5,
    epochs: int | None = None,
    preset: str = DEFAULT_PRESET,
    overrides: Sequence[str] = (),
    calibrate: bool = True,
    axis: int = 2,
    on_fold: FoldCallback | None = None,
    observer: TrainingObserver | None = None,
) -> LabelIssueResult:
    """Out-of-fold probabilities → cleanlab slice scores → the ranked table under the home.

    Args:
        data_dir: The dataset folder; only read (nothing is written into it).
        settings: Home and tracking store.
        folds: Cross-validation folds (one training run each). Defaults to 5.
        epochs: Epochs per fold run (``trainer.epochs``); default the preset's.
        preset: Experiment preset of the fold runs. Defaults to ``segresnet_tiny``.
        overrides: Further dotted overrides for every fold run.
        calibrate: Temperature-scale each fold's probabilities (fitted on its val split). Defaults to True.
        axis: Slice axis. Defaults to 2 (Z).
        on_fold: Called as ``on_fold(fold, run_id)`` after each fold.
        observer: Receives each fold run's training events.

    Returns:
        The table's path (``HOME/annotation/<version>/label_issues.parquet``), the fold runs and the rows.

    Raises:
        ConfigError, DataError, TrainingError: As :func:`oof.out_of_fold_probabilities`.
    """
    from minivess.pipelines.annotation.oof import OOF_INDEX, out_of_fold_probabilities

    extra = [*overrides, *([f"trainer.epochs={epochs}"] if epochs is not None else [])]
    version = scan_dataset(data_dir).version
    # One find per dataset version at a time: a second one would overwrite the probabilities this one is scoring.
    with exclusive(annotation_dir(settings, version) / "find"):
        oof = out_of_fold_probabilities(
            data_dir, settings, folds, preset, extra, calibrate=calibrate, on_fold=on_fold, observer=observer
        )
        manifest = scan_dataset(data_dir)
        rows = slice_label_issues(oof.probabilities(), _MaskVolumes(manifest, oof.volume_ids), axis=axis)
        fold_runs = [r.run_id for r in oof.runs]
        path = save_issue_table(
            issue_table_path(settings, oof.dataset_version),
            rows,
            {"dataset_version": oof.dataset_version, "fold_runs": ",".join(fold_runs), "calibrated": str(calibrate)},
        )
    return LabelIssueResult(
        dataset_version=oof.dataset_version, table_path=path, fold_runs=fold_runs,
        oof_index=oof.folder / OOF_INDEX, rows=rows,
    )  # fmt: skip
