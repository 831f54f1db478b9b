"""Epoch weights for soups: written atomically, only the last N kept, listed in epoch order."""

from __future__ import annotations

from pathlib import Path

import torch

from minivess.pipelines.training.checkpoint import EPOCHS_DIR, epoch_weights_path, save_epoch_weights, saved_epochs


def test_only_the_last_n_epochs_are_kept(tmp_path: Path) -> None:
    for epoch in range(1, 8):
        save_epoch_weights(tmp_path, epoch, {"w": torch.full((2,), float(epoch))}, keep=3)
    assert saved_epochs(tmp_path) == [5, 6, 7]
    assert float(torch.load(epoch_weights_path(tmp_path, 6), weights_only=True)["w"][0]) == 6.0


def test_listing_ignores_foreign_files_and_sorts_numerically(tmp_path: Path) -> None:
    folder = tmp_path / EPOCHS_DIR
    folder.mkdir()
    for name in ("epoch_010.pt", "epoch_002.pt", "epoch_x.pt", "notes.txt"):
        (folder / name).write_bytes(b"")
    assert saved_epochs(tmp_path) == [2, 10]
    assert saved_epochs(tmp_path / "missing") == []
