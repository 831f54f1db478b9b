"""MONAI datasets and loaders over a manifest split: cached deterministic part, random part per epoch."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from monai import transforms as mt
from monai.data import CacheDataset, DataLoader

from minivess.configs.data import DataConfig
from minivess.pipelines.data.manifest import DatasetManifest
from minivess.pipelines.data.transforms import deterministic_transforms, eval_transforms, train_transforms

logger = logging.getLogger(__name__)


def volume_items(manifest: DatasetManifest, ids: list[str]) -> list[dict[str, Any]]:
    """MONAI data dicts: image and label paths plus id and spacing (passed through untouched)."""
    items = []
    for vid in ids:
        record = manifest.by_id(vid)
        items.append(
            {
                "image": str(record.image),
                "label": str(record.mask),
                "id": vid,
                "spacing": np.asarray(record.spacing),
            }
        )
    return items


class EpochSeededDataset(CacheDataset):
    """CacheDataset whose random transforms are reseeded from (seed, epoch) at each epoch.

    That makes an epoch's crops and augmentations a function of the seed and epoch number only,
    so a run resumed after a crash continues exactly as if it had not stopped.
    """

    def set_epoch(self, seed: int, epoch: int) -> None:
        epoch_seed = (seed * 1_000_003 + epoch) % (2**31)
        if isinstance(self.transform, mt.Randomizable):
            self.transform.set_random_state(seed=epoch_seed)
        torch.manual_seed(epoch_seed)  # TorchIO draws from torch's global generator


def train_dataset(manifest: DatasetManifest, ids: list[str], cfg: DataConfig) -> EpochSeededDataset:
    transform = mt.Compose([*deterministic_transforms().transforms, *train_transforms(cfg).transforms])
    return EpochSeededDataset(
        data=volume_items(manifest, ids),
        transform=transform,
        cache_rate=cfg.cache_rate,
        num_workers=1,
        progress=False,
    )


def eval_dataset(manifest: DatasetManifest, ids: list[str], cache_rate: float = 1.0) -> CacheDataset:
    transform = mt.Compose([*deterministic_transforms().transforms, *eval_transforms().transforms])
    return CacheDataset(
        data=volume_items(manifest, ids),
        transform=transform,
        cache_rate=cache_rate,
        num_workers=1,
        progress=False,
    )


def train_loader(dataset: EpochSeededDataset, batch_size: int, num_workers: int, seed: int, epoch: int) -> DataLoader:
    """A loader whose shuffle order is a function of (seed, epoch)."""
    dataset.set_epoch(seed, epoch)
    generator = torch.Generator().manual_seed(seed * 7919 + epoch)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=num_workers,
        generator=generator,
        drop_last=False,
    )


def eval_loader(dataset: CacheDataset) -> DataLoader:
    return DataLoader(dataset, batch_size=1, shuffle=False, num_workers=0)
