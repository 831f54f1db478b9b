"""Everything checked and resolved before a run touches MLflow: config, adapter, device, data, splits."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel

from minivess.configs.experiment import ExperimentConfig
from minivess.errors import ConfigError, DataError
from minivess.pipelines.data.manifest import DatasetManifest, scan_dataset, verify_voxels
from minivess.pipelines.data.splits import Splits, make_kfold, make_splits
from minivess.pipelines.models.base import ModelAdapter
from minivess.pipelines.models.registry import get_adapter
from minivess.pipelines.tracking.naming import VAL_METRICS
from minivess.pipelines.training.checkpoint import ModelSpec
from minivess.pipelines.training.runtime import resolve_amp, resolve_device
from minivess.settings import DEFAULT_SYNTHETIC, Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidatedExperiment:
    """A config whose model, patch, device and precision have been checked together."""

    config: ExperimentConfig
    adapter: ModelAdapter
    options: BaseModel
    device: torch.device
    amp_dtype: torch.dtype | None


def validate_experiment(cfg: ExperimentConfig) -> ValidatedExperiment:
    """Check the parts of a config that depend on each other (pydantic checked each part alone).

    Raises:
        ConfigError: unknown model, invalid model options, a patch the model cannot take, an unknown
            early-stopping metric, or an unavailable device/precision. Nothing has been written.
    """
    adapter = get_adapter(cfg.model.name)
    options = adapter.parse_options(cfg.model.options)
    adapter.validate_patch(tuple(cfg.data.patch_size), options)  # type: ignore[arg-type]
    if cfg.model.grad_checkpointing and not adapter.supports_grad_checkpointing:
        raise ConfigError(
            f"model '{adapter.name}' does not support gradient checkpointing; set model.grad_checkpointing=false."
        )
    if cfg.trainer.early_stopping.metric not in VAL_METRICS:
        raise ConfigError(
            f"trainer.early_stopping.metric='{cfg.trainer.early_stopping.metric}' is not a validation metric; "
            f"use one of {', '.join(VAL_METRICS)}."
        )
    device = resolve_device(cfg.trainer.device)
    amp_dtype = resolve_amp(cfg.trainer.amp, device)
    return ValidatedExperiment(cfg, adapter, options, device, amp_dtype)


def dataset_dir(cfg: ExperimentConfig, settings: Settings) -> Path:
    return cfg.data.dir or settings.resolved_data_dir / DEFAULT_SYNTHETIC


def ensure_default_dataset(folder: Path, settings: Settings) -> None:
    """Generate the default synthetic dataset when it is absent, but only inside the home (offline first run).

    A folder the user pointed us at (``MINIVESS_DATA_DIR``) is read-only to us: a missing dataset there is an
    error naming the folder, never a reason to write generated data into it.

    Raises:
        DataError: ``MINIVESS_DATA_DIR`` is set and has no default dataset.
    """
    if folder.exists():
        return
    if settings.data_dir is not None:
        raise DataError(
            f"no dataset at {folder} (MINIVESS_DATA_DIR={settings.resolved_data_dir} has no "
            f"'{DEFAULT_SYNTHETIC}' dataset) and minivess never writes into your folders. Name a dataset "
            f"(--set data.dir=DIR, or the dataset in your request), create one with `minivess data synth --out "
            f"{folder}`, or unset MINIVESS_DATA_DIR to use the generated dataset in the home."
        )
    from minivess.pipelines.data.synthetic import get_preset, write_dataset

    logger.warning("no dataset at %s: generating the default synthetic dataset (12 volumes)", folder)
    write_dataset(folder, n=12, config=get_preset("default"), seed=0)


def load_data(cfg: ExperimentConfig, settings: Settings) -> tuple[DatasetManifest, Splits]:
    """Scan the dataset and read every volume once, so a bad file fails here, before any run exists.

    Raises:
        DataError: the dataset is missing or invalid; the message names the folder or the file.
    """
    folder = dataset_dir(cfg, settings)
    if cfg.data.dir is None:
        ensure_default_dataset(folder, settings)
    manifest = scan_dataset(folder)
    verify_voxels(manifest)
    if cfg.data.folds is not None:
        splits = fold_splits(manifest.ids(), manifest.version, cfg)
    else:
        splits = make_splits(
            manifest.ids(), manifest.version, cfg.data.val_fraction, cfg.data.test_fraction, cfg.data.split_seed
        )
    return manifest, splits


def fold_splits(ids: list[str], dataset_version: str, cfg: ExperimentConfig) -> Splits:
    """The k-fold split of ``data.fold``: test = that fold, val/train = ``make_splits`` of the other folds.

    The held-out fold is the test split (not val) so that nothing of it steers training: val still picks the best
    checkpoint and fits a temperature, and every volume is predicted out of fold exactly once over the k runs.
    Folds and the inner val split use the same seeded order as ``make_splits`` (``data.split_seed``).

    Raises:
        ConfigError: more folds than volumes.
        DataError: the other folds are too few to fill val and leave one volume for training.
    """
    folds, fold = cfg.data.folds, cfg.data.fold
    if folds is None:
        raise ConfigError("fold_splits needs data.folds; set data.folds=K (K ≥ 2) and data.fold in [0, K).")
    seed = cfg.data.split_seed
    rest, held_out = make_kfold(ids, dataset_version, k=folds, seed=seed).folds[fold]
    inner = make_splits(rest, dataset_version, val_fraction=cfg.data.val_fraction, test_fraction=0.0, seed=seed)
    return Splits(train=inner.train, val=inner.val, test=held_out, seed=seed, dataset_version=dataset_version)


def model_spec(exp: ValidatedExperiment, manifest: DatasetManifest) -> ModelSpec:
    """The model spec for this data; re-checks the patch at the data's spacing (DynUNet plans from it).

    Raises:
        ConfigError: the patch does not fit the network at this spacing (nothing written yet).
    """
    median = np.median(np.asarray([v.spacing for v in manifest.volumes]), axis=0)
    spacing = (float(median[0]), float(median[1]), float(median[2]))
    patch = exp.config.data.patch_size
    exp.adapter.validate_patch(patch, exp.options, spacing=spacing)
    options: dict[str, Any] = exp.options.model_dump(mode="json")
    return ModelSpec(adapter=exp.adapter.name, options=options, patch_size=patch, spacing=spacing)
