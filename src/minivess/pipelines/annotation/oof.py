"""Out-of-fold vessel probabilities: one k-fold training run per fold, each predicting only its held-out fold.

Fold ``f`` of ``k`` is trained with ``data.folds=k, data.fold=f`` (``training.setup.fold_splits``): its test split
is the held-out fold, val is carved from the other folds. With ``calibrate`` the run's temperature is fitted
on that val split by ``calibrate_run`` (and its calibration measured on the held-out fold), so no label of a
held-out volume influences its own probabilities. Probabilities are stored as float16 ``.npy`` arrays on the
file's own voxel grid (slice indices match the NIfTI file), one volume at a time, under
``HOME/annotation/<dataset_version>/oof/``, with ``oof.json`` naming the fold runs.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field

from minivess.configs.loading import load_experiment
from minivess.errors import DataError
from minivess.fileio import write_bytes_atomic, write_json_atomic
from minivess.pipelines.annotation.label_issues import DEFAULT_PRESET, annotation_dir
from minivess.pipelines.data.manifest import DatasetManifest, scan_dataset
from minivess.pipelines.training import runs
from minivess.pipelines.training.evaluation import open_run, segment_probability
from minivess.pipelines.training.events import TrainingObserver
from minivess.pipelines.uncertainty.run_calibration import calibrate_run
from minivess.settings import Settings

logger = logging.getLogger(__name__)

OOF_DIR: Final = "oof"
OOF_INDEX: Final = "oof.json"
TAG_OOF_FOLD: Final = "minivess.oof_fold"

FoldCallback = Callable[[int, str], None]


class FoldRun(BaseModel):
    """One fold's training run and the held-out volumes it predicted."""

    model_config = ConfigDict(extra="forbid")

    fold: int = Field(description="Held-out fold index, 0-based.")
    run_id: str = Field(description="MLflow run trained on the other folds.")
    temperature: float = Field(description="Temperature applied to its probabilities (1.0 = uncalibrated).")
    volumes: list[str] = Field(description="Held-out volume ids (the run's test split).")


class OOFResult(BaseModel):
    """The ``oof.json`` index: which run predicted which volume, and where its probabilities are."""

    model_config = ConfigDict(extra="forbid")

    dataset_version: str
    data_dir: Path
    folds: int
    preset: str
    overrides: list[str]
    calibrated: bool = Field(description="True when each fold's temperature was fitted on its val split.")
    runs: list[FoldRun]
    folder: Path = Field(description="The oof/ folder holding <volume>.npy (float16 vessel probability, X×Y×Z).")

    @property
    def volume_ids(self) -> list[str]:
        return sorted(v for run in self.runs for v in run.volumes)

    def path(self, volume_id: str) -> Path:
        return self.folder / f"{volume_id}.npy"

    def probabilities(self) -> Mapping[str, NDArray[np.float16]]:
        """Volume id → memory-mapped float16 probabilities (read lazily: nothing is held in memory)."""
        return _NpyVolumes({v: self.path(v) for v in self.volume_ids})


class _NpyVolumes(Mapping[str, NDArray[np.float16]]):
    """A read-only mapping that memory-maps each ``.npy`` when it is looked up."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self._paths = paths

    def __getitem__(self, key: str) -> NDArray[np.float16]:
        path = self._paths[key]
        try:
            array: NDArray[np.float16] = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read out-of-fold probabilities {path}: {exc}; recompute them.") from exc
        return array

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


def load_oof(folder: Path) -> OOFResult:
    """Read the ``oof.json`` index of an ``oof/`` folder.

    Raises:
        DataError: No index there, or it cannot be parsed.
    """
    try:
        return OOFResult.model_validate_json((folder / OOF_INDEX).read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {folder / OOF_INDEX}: {exc}; compute out-of-fold probabilities again.") from exc


def out_of_fold_probabilities(
    data_dir: Path,
    settings: Settings,
    folds: int = 5,
    preset: str = DEFAULT_PRESET,
    overrides: Sequence[str] = (),
    calibrate: bool = True,
    on_fold: FoldCallback | None = None,
    observer: TrainingObserver | None = None,
) -> OOFResult:
    """Train one run per fold and store every volume's held-out (optionally calibrated) vessel probability.

    Args:
        data_dir: The dataset folder (raw/ + seg/); only read.
        settings: Home and tracking store (runs are logged to MLflow like any training run).
        folds: Number of folds k (2 ≤ k ≤ number of volumes). Defaults to 5.
        preset: Experiment preset of every fold run. Defaults to ``segresnet_tiny``.
        overrides: Dotted overrides applied to every fold (``trainer.epochs=4``); data.dir/folds/fold are set here.
        calibrate: Fit each fold's temperature on its val split (``calibrate_run``). Defaults to True.
        on_fold: Called as ``on_fold(fold, run_id)`` after each fold's volumes are stored.
        observer: Receives each fold run's training events.

    Returns:
        The index, also written to ``HOME/annotation/<version>/oof/oof.json``.

    Raises:
        ConfigError: A bad preset/override, or more folds than volumes.
        DataError: The dataset is missing/invalid, or a fold leaves too few volumes to train and validate.
        TrainingError: A fold run failed.
    """
    manifest = scan_dataset(data_dir)
    folder = annotation_dir(settings, manifest.version) / OOF_DIR
    fold_runs: list[FoldRun] = []
    for fold in range(folds):
        fold_run = _run_fold(manifest, settings, fold, folds, preset, [*overrides], calibrate, observer, folder)
        fold_runs.append(fold_run)
        if on_fold is not None:
            on_fold(fold, fold_run.run_id)
    result = OOFResult(
        dataset_version=manifest.version,
        data_dir=manifest.root,
        folds=folds,
        preset=preset,
        overrides=list(overrides),
        calibrated=calibrate,
        runs=fold_runs,
        folder=folder,
    )
    missing = sorted(set(manifest.ids()) - set(result.volume_ids))
    if missing:  # make_kfold puts every id in exactly one test fold; this guards the invariant
        raise DataError(f"volumes {missing} were in no held-out fold; this is a bug in the fold split.")
    write_json_atomic(folder / OOF_INDEX, result)
    return result


def _run_fold(
    manifest: DatasetManifest,
    settings: Settings,
    fold: int,
    folds: int,
    preset: str,
    overrides: list[str],
    calibrate: bool,
    observer: TrainingObserver | None,
    folder: Path,
) -> FoldRun:
    """Train fold ``fold``, fit its temperature, and write its held-out volumes' probabilities."""
    cfg = load_experiment(preset, [*overrides, f"data.dir={manifest.root}", f"data.folds={folds}", f"data.fold={fold}"])
    result = runs.train(cfg, settings, observer=observer, tags={TAG_OOF_FOLD: f"{fold}/{folds}"})
    temperature = calibrate_run(result.run_id, settings).temperature if calibrate else 1.0
    run = open_run(result.run_id, settings)
    if run.manifest.version != manifest.version:
        raise DataError(
            f"the dataset at {manifest.root} changed while fold {fold} trained (version {manifest.version} → "
            f"{run.manifest.version}); leave it unchanged and start again."
        )
    held_out = run.splits.get("test")
    for volume_id in held_out:
        record = manifest.by_id(volume_id)
        probability = segment_probability(run.model, run.spec, record.image, run.cfg.inference, run.device, temperature)
        buffer = io.BytesIO()
        np.save(buffer, probability.astype(np.float16))
        write_bytes_atomic(folder / f"{volume_id}.npy", buffer.getvalue())
    logger.info(
        "fold %d/%d: run %s, T = %.3f, %d held-out volumes", fold, folds, result.run_id, temperature, len(held_out)
    )
    return FoldRun(fold=fold, run_id=result.run_id, temperature=temperature, volumes=held_out)
