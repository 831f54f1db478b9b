"""Fixtures for integration tests: a tiny synthetic dataset made by our generator."""

from __future__ import annotations

from pathlib import Path

import pytest

from minivess.pipelines.data.synthetic import get_preset, write_dataset

TINY_SHAPE = (48, 48, 16)


@pytest.fixture(scope="session")
def tiny_synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five 48×48×16 synthetic volumes (generated once per session; tests must not modify them)."""
    root = tmp_path_factory.mktemp("synthetic") / "tiny"
    config = get_preset("default").model_copy(update={"shape": TINY_SHAPE})
    write_dataset(root, n=5, config=config, seed=0)
    return root


def tiny_overrides(data_dir: Path, epochs: int = 2) -> list[str]:
    """A CPU-cheap SegResNet run: one step per epoch, 2 train / 1 val / 1 test volumes... (5 volumes)."""
    return [
        f"data.dir={data_dir}",
        "data.patch_size=[32,32,16]",
        "data.samples_per_volume=2",
        "data.val_fraction=0.2",
        "data.test_fraction=0.2",
        "model.name=segresnet",
        "model.options.init_filters=4",
        f"trainer.epochs={epochs}",
        "trainer.batch_size=3",
    ]
