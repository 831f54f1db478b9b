from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from minivess.configs.data import AugmentConfig, DataConfig
from minivess.pipelines.data.datasets import eval_dataset, train_dataset, train_loader
from minivess.pipelines.data.manifest import scan_dataset
from minivess.pipelines.data.transforms import deterministic_transforms, torchio_pipeline, train_transforms
from tests.helpers import write_tube_dataset


@pytest.fixture
def manifest(tmp_path: Path):  # type: ignore[no-untyped-def]
    return scan_dataset(write_tube_dataset(tmp_path / "ds", n=3, shape=(40, 36, 12)))


def test_deterministic_part_normalises_to_unit_range(manifest) -> None:  # type: ignore[no-untyped-def]
    record = manifest.volumes[0]
    out = deterministic_transforms()({"image": str(record.image), "label": str(record.mask)})
    assert out["image"].shape == (1, 40, 36, 12)
    assert out["image"].dtype == torch.float32
    assert float(out["image"].min()) >= 0.0 and float(out["image"].max()) <= 1.0
    assert out["label"].dtype == torch.uint8
    assert set(np.unique(np.asarray(out["label"]))) == {0, 1}


@pytest.mark.parametrize("augment", [AugmentConfig(), AugmentConfig(affine=True, elastic=True, probability=1.0)])
def test_training_crops_have_patch_shape_and_binary_labels(manifest, augment: AugmentConfig) -> None:  # type: ignore[no-untyped-def]
    cfg = DataConfig(patch_size=(32, 32, 16), samples_per_volume=3, augment=augment)
    ds = train_dataset(manifest, manifest.ids(), cfg)
    crops = ds[0]
    assert len(crops) == 3
    for crop in crops:
        assert crop["image"].shape == (1, 32, 32, 16)  # Z padded from 12 to 16
        assert crop["image"].dtype == torch.float32
        assert crop["label"].dtype == torch.long
        assert set(torch.unique(crop["label"]).tolist()) <= {0, 1}


def test_positive_crops_contain_vessel(manifest) -> None:  # type: ignore[no-untyped-def]
    cfg = DataConfig(
        patch_size=(16, 16, 8),
        samples_per_volume=8,
        pos_fraction=1.0,
        augment=AugmentConfig(flips=False, bias_field=False, noise=False, gamma=False),
    )
    crops = train_dataset(manifest, manifest.ids(), cfg)[0]
    assert all(int(c["label"].sum()) > 0 for c in crops)


def test_epoch_seeding_repeats_crops_and_augmentation(manifest) -> None:  # type: ignore[no-untyped-def]
    cfg = DataConfig(patch_size=(32, 32, 16), samples_per_volume=2)
    ds = train_dataset(manifest, manifest.ids(), cfg)

    def first_batch(epoch: int) -> torch.Tensor:
        return next(iter(train_loader(ds, batch_size=2, num_workers=0, seed=5, epoch=epoch)))["image"]

    a, b, c = first_batch(1), first_batch(2), first_batch(1)
    assert torch.equal(a, c)
    assert not torch.equal(a, b)


def test_every_torchio_switch_off_gives_no_pipeline() -> None:
    off = AugmentConfig(affine=False, elastic=False, bias_field=False, noise=False, gamma=False)
    assert torchio_pipeline(off) is None
    assert len(train_transforms(DataConfig(augment=off)).transforms) == 2 + 3 + 2  # pad, crop, 3 flips, 2 casts


def test_eval_dataset_keeps_whole_volume_and_spacing(manifest) -> None:  # type: ignore[no-untyped-def]
    item = eval_dataset(manifest, manifest.ids()[:1])[0]
    assert item["image"].shape == (1, 40, 36, 12)
    assert tuple(item["spacing"]) == (1.0, 1.0, 2.0)
