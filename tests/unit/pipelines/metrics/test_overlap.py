"""Tests for Dice: hand-counted cases, a numpy reference, empty masks and torchmetrics' float-input trap."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from minivess.pipelines.metrics import dice_score
from tests.unit.pipelines.metrics.synthetic import perturb, tubes


def test_hand_counted() -> None:
    target = np.zeros((4, 4, 4), dtype=bool)
    target[0:2, :, 0] = True  # 8 voxels
    pred = np.zeros_like(target)
    pred[0, :, 0] = True  # 4 voxels, all inside the target
    assert dice_score(pred, target) == pytest.approx(2 * 4 / (4 + 8))


def test_float_inputs_are_not_treated_as_logits() -> None:
    # torchmetrics argmaxes floating inputs over the channel axis: with one channel every voxel would become
    # foreground and two disjoint masks would score 1.0.
    pred = torch.zeros(4, 4, 4)
    target = torch.zeros(4, 4, 4)
    pred[0] = 1.0
    target[1] = 1.0
    assert dice_score(pred, target) == 0.0


@pytest.mark.parametrize("seed", range(3))
def test_matches_numpy_formula(seed: int) -> None:
    target = tubes((24, 24, 12), seed=seed)
    pred = perturb(target, seed=seed + 1)
    expected = 2 * np.sum(pred & target) / (np.sum(pred) + np.sum(target))
    assert dice_score(pred, target) == pytest.approx(float(expected), rel=1e-6)


def test_empty_conventions() -> None:
    empty = np.zeros((4, 4, 4), dtype=bool)
    full = np.ones((4, 4, 4), dtype=bool)
    assert dice_score(empty, empty) == 1.0
    assert dice_score(empty, full) == 0.0
    assert dice_score(full, empty) == 0.0


def test_threshold_and_bad_input() -> None:
    target = tubes((16, 16, 8), seed=0)
    probs = np.where(target, 0.6, 0.4)
    assert dice_score(probs, target, threshold=0.5) == 1.0
    with pytest.raises(ValueError, match="not binary"):
        dice_score(probs, target)
    with pytest.raises(ValueError, match="same shape"):
        dice_score(target, target[:-1])
    with pytest.raises(ValueError, match="threshold"):
        dice_score(probs, target, threshold=float("nan"))


def test_threshold_boundary_counts_as_foreground() -> None:
    # Convention: pred >= threshold is foreground (as MONAI's AsDiscrete), so exactly 0.5 is foreground.
    target = np.ones((4, 4, 4), dtype=bool)
    assert dice_score(np.full((4, 4, 4), 0.5), target, threshold=0.5) == 1.0
    assert dice_score(np.full((4, 4, 4), 0.4999), target, threshold=0.5) == 0.0


def test_bfloat16_probabilities_from_autocast() -> None:
    target = tubes((16, 16, 8), seed=1)
    probs = torch.from_numpy(np.where(target, 0.9, 0.1)).to(torch.bfloat16)
    assert dice_score(probs, torch.from_numpy(target), threshold=0.5) == 1.0
