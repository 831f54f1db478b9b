"""Pieces of the engine that need no data: direction-aware improvement, schedules, devices, checkpoints."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
import torch

from minivess.configs.experiment import LossConfig, OptimConfig
from minivess.errors import ConfigError, TrainingError
from minivess.pipelines.training.checkpoint import (
    ModelSpec,
    TrainingProgress,
    load_checkpoint,
    save_checkpoint,
)
from minivess.pipelines.training.engine import improved
from minivess.pipelines.training.losses import build_loss
from minivess.pipelines.training.optim import build_optimizer, build_scheduler
from minivess.pipelines.training.runtime import resolve_amp, resolve_device


def test_improved_respects_metric_direction() -> None:
    assert improved("val_dice", 0.5, None, 0.0)
    assert improved("val_dice", 0.6, 0.5, 0.0)
    assert not improved("val_dice", 0.55, 0.5, 0.1)
    assert improved("val_hd95", 3.0, 4.0, 0.0)
    assert not improved("val_hd95", 5.0, 4.0, 0.0)
    assert not improved("val_dice", math.nan, None, 0.0)


@pytest.mark.parametrize("schedule", ["cosine", "poly", "constant"])
def test_schedules_start_at_lr_and_never_increase_after_warmup(schedule: str) -> None:
    model = torch.nn.Linear(2, 2)
    cfg = OptimConfig(lr=0.1, schedule=schedule, warmup_epochs=2)  # type: ignore[arg-type]
    opt = build_optimizer(model, cfg)
    sched = build_scheduler(opt, cfg, epochs=10)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] < lrs[1] < lrs[2] == pytest.approx(0.1)  # warm-up reaches the peak
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(lrs[2:]))
    if schedule != "constant":
        assert lrs[-1] < 0.1


def test_cpu_device_and_amp_rules() -> None:
    cpu = resolve_device("cpu")
    assert resolve_amp("auto", cpu) is None
    assert resolve_amp("bf16", cpu) == torch.bfloat16
    with pytest.raises(ConfigError, match="fp16 is not supported on CPU"):
        resolve_amp("fp16", cpu)
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("toaster")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="device 'cuda:1' needs CUDA, which is not available"):
            resolve_device("cuda:1")


def test_a_gpu_index_the_machine_lacks_is_named_with_the_gpus_it_has(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(ConfigError, match=r"device 'cuda:2' does not exist: this machine has 2 GPU\(s\), cuda:0 to"):
        resolve_device("cuda:2")


@pytest.mark.parametrize("name", ["dice_ce", "dice_ce_cldice"])
def test_losses_are_lower_for_the_right_answer(name: str) -> None:
    loss = build_loss(LossConfig(name=name))  # type: ignore[arg-type]
    target = torch.zeros(1, 1, 16, 16, 8, dtype=torch.long)
    target[:, :, 6:10, :, 3:5] = 1
    good = torch.cat([(1 - target) * 8.0 - 4.0, target * 8.0 - 4.0], dim=1).float()
    bad = torch.flip(good, dims=[1])
    assert float(loss(good, target)) < float(loss(bad, target))


def test_checkpoint_round_trip_and_missing_file(tmp_path: Path) -> None:
    spec = ModelSpec(adapter="segresnet", options={"init_filters": 4}, patch_size=(32, 32, 16), spacing=(1.0, 1.0, 2.0))
    progress = TrainingProgress(run_id="abc", epoch=3, best_metric=0.7, best_epoch=2, history=[{"train_loss": 1.0}])
    save_checkpoint(tmp_path / "last.pt", spec, progress, {"model": {"w": torch.ones(2)}})
    spec2, progress2, states = load_checkpoint(tmp_path / "last.pt")
    assert (spec2, progress2) == (spec, progress)
    assert torch.equal(states["model"]["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left behind
    with pytest.raises(TrainingError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_unlogged_epochs_fill_only_the_gap() -> None:
    from minivess.pipelines.training.engine import unlogged_epochs

    history = [{"train_loss": 3.0}, {"train_loss": 2.0}, {"train_loss": 1.0}]
    assert unlogged_epochs(history, {1, 2}) == [(3, {"train_loss": 1.0})]
    assert unlogged_epochs(history, {1, 2, 3}) == []
