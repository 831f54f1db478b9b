"""CUDA + AMP training (runs only where CUDA exists; skipped with its reason shown elsewhere)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from minivess.configs.loading import load_experiment
from minivess.pipelines.training import runs
from minivess.settings import get_settings
from tests.integration.conftest import tiny_overrides

pytestmark = [pytest.mark.integration, pytest.mark.gpu]


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_one_epoch_on_cuda_with_amp(tiny_synthetic: Path, amp: str) -> None:
    cfg = load_experiment(
        None, [*tiny_overrides(tiny_synthetic, epochs=1), "trainer.device=cuda", f"trainer.amp={amp}"]
    )
    result = runs.train(cfg, get_settings())
    assert result.status == "FINISHED"
    metrics = result.history[-1]
    assert math.isfinite(metrics["train_loss"])
    assert 0.0 <= metrics["val_dice"] <= 1.0
