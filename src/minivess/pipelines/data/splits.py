"""Deterministic train/val/test and k-fold splits of a manifest, saved as JSON."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from minivess.errors import ConfigError, DataError
from minivess.fileio import write_json_atomic

SplitName = Literal["train", "val", "test"]


class Splits(BaseModel):
    """Volume ids per split, with what made them (so a split can be reproduced and audited)."""

    model_config = ConfigDict(extra="forbid")

    train: list[str]
    val: list[str]
    test: list[str]
    seed: int
    dataset_version: str = Field(description="Manifest version the split was made from.")

    def get(self, name: SplitName) -> list[str]:
        return list(getattr(self, name))

    def save(self, path: Path) -> None:
        write_json_atomic(path, self)

    @classmethod
    def load(cls, path: Path) -> Splits:
        try:
            return cls.model_validate_json(path.read_text())
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read splits file {path}: {exc}. Recreate it with `minivess data split`.") from exc


class KFold(BaseModel):
    """K folds of (train, val) ids; every id is in exactly one val fold."""

    model_config = ConfigDict(extra="forbid")

    folds: list[tuple[list[str], list[str]]]
    seed: int
    dataset_version: str


def _order(ids: list[str], seed: int) -> list[str]:
    """A seeded order that depends only on the ids and the seed (not on listing order or platform RNG)."""
    return sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())


def make_splits(
    ids: list[str], dataset_version: str, val_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0
) -> Splits:
    """Split ids into train/val/test; the same ids and seed always give the same split.

    Each non-zero fraction gets at least one volume, and train always keeps at least one.

    Raises:
        ConfigError: fractions outside [0, 1) or summing to ≥ 1.
        DataError: too few volumes for the requested splits.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ConfigError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} must each be in [0, 1) and sum to < 1."
        )
    n = len(ids)
    n_val = max(1, round(n * val_fraction)) if val_fraction > 0 else 0
    n_test = max(1, round(n * test_fraction)) if test_fraction > 0 else 0
    if n - n_val - n_test < 1:
        raise DataError(
            f"{n} volume(s) cannot fill val ({n_val}) and test ({n_test}) and leave one for training; "
            "add volumes (`minivess data synth --n 12`) or lower data.val_fraction/data.test_fraction."
        )
    order = _order(ids, seed)
    return Splits(
        val=sorted(order[:n_val]),
        test=sorted(order[n_val : n_val + n_test]),
        train=sorted(order[n_val + n_test :]),
        seed=seed,
        dataset_version=dataset_version,
    )


def make_kfold(ids: list[str], dataset_version: str, k: int = 5, seed: int = 0) -> KFold:
    """K-fold cross-validation folds (round-robin over the seeded order)."""
    if k < 2 or k > len(ids):
        raise ConfigError(f"k={k} folds needs 2 ≤ k ≤ number of volumes ({len(ids)}).")
    order = _order(ids, seed)
    folds = []
    for fold in range(k):
        val = sorted(order[fold::k])
        train = sorted(set(order) - set(val))
        folds.append((train, val))
    return KFold(folds=folds, seed=seed, dataset_version=dataset_version)
