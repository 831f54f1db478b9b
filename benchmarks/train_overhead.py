"""Engine overhead: training steps/s of our engine ÷ a bare PyTorch + MONAI loop (same model, data, batch).

Both sides train SegResNet on the same cached dataset with the same loader settings for the same number
of epochs. Our engine is timed from the start of epoch 1 to the start of the last epoch, so the span
covers training, the scheduler, atomic checkpoints and MLflow logging but no validation (val_interval is
larger than the timed epochs). Prints one JSON line; goal: ratio ≥ 0.95.

    .venv/bin/python benchmarks/train_overhead.py [--epochs 4] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch
from monai.losses import DiceCELoss

from minivess.configs.loading import load_experiment
from minivess.pipelines.data.datasets import train_dataset, train_loader
from minivess.pipelines.data.manifest import scan_dataset
from minivess.pipelines.data.synthetic import get_preset, write_dataset
from minivess.pipelines.training import runs
from minivess.pipelines.training.events import NullObserver
from minivess.pipelines.training.inference import build_model
from minivess.pipelines.training.runtime import autocast, resolve_amp, resolve_device, seed_everything
from minivess.pipelines.training.setup import load_data, model_spec, validate_experiment
from minivess.settings import get_settings


class EpochClock(NullObserver):
    def __init__(self) -> None:
        self.epoch_starts: list[float] = []
        self.steps: list[int] = []

    def epoch_started(self, epoch: int, steps: int) -> None:
        self.epoch_starts.append(time.perf_counter())
        self.steps.append(steps)


def bare_loop(cfg, device: torch.device, epochs: int) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    settings = get_settings()
    exp = validate_experiment(cfg)
    manifest, splits = load_data(cfg, settings)
    seed_everything(cfg.trainer.seed)
    model = build_model(model_spec(exp, manifest)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    amp = resolve_amp(cfg.trainer.amp, device)
    dataset = train_dataset(manifest, splits.train, cfg.data)
    warm = next(iter(train_loader(dataset, cfg.trainer.batch_size, 0, cfg.trainer.seed, 0)))
    loss_fn(model(warm["image"].to(device)), warm["label"].to(device)).backward()  # warm-up, untimed
    steps, tic = 0, time.perf_counter()
    for epoch in range(1, epochs + 1):
        for batch in train_loader(dataset, cfg.trainer.batch_size, cfg.data.num_workers, cfg.trainer.seed, epoch):
            x, y = batch["image"].to(device), batch["label"].to(device)
            opt.zero_grad(set_to_none=True)
            with autocast(device, amp):
                loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            float(loss.detach())  # the engine reads the loss every step too
            steps += 1
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps, time.perf_counter() - tic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4, help="epochs per side (the last one is not timed for ours)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", default="auto")
    args = parser.parse_args()
    os.environ.setdefault("MINIVESS_HOME", tempfile.mkdtemp(prefix="bench-overhead-"))
    data = Path(os.environ["MINIVESS_HOME"]) / "data"
    if not (data / "raw").is_dir():
        write_dataset(data, n=12, config=get_preset("default"), seed=0)
    scan_dataset(data)
    timed = args.epochs - 1
    overrides = [
        f"data.dir={data}",
        "data.patch_size=[64,64,16]",
        "data.samples_per_volume=2",
        "model.options.init_filters=8",
        "trainer.batch_size=2",
        f"trainer.epochs={args.epochs}",
        f"trainer.val_interval={args.epochs}",
        f"trainer.device={args.device}",
        f"trainer.amp={args.amp}",
        "optim.schedule=constant",
    ]
    cfg = load_experiment(None, overrides)
    device = resolve_device(args.device)
    base_steps, base_seconds = bare_loop(cfg, device, timed)
    clock = EpochClock()
    runs.train(cfg, get_settings(), clock)
    ours_steps = sum(clock.steps[:timed])
    ours_seconds = clock.epoch_starts[timed] - clock.epoch_starts[0]
    ours, base = ours_steps / ours_seconds, base_steps / base_seconds
    print(
        json.dumps(
            {
                "benchmark": "train_overhead",
                "device": str(device),
                "amp": args.amp,
                "timed_epochs": timed,
                "engine_steps_per_s": round(ours, 4),
                "bare_steps_per_s": round(base, 4),
                "steps": ours_steps,
                "ratio": round(ours / base, 4),
                "goal": 0.95,
            }
        )
    )


if __name__ == "__main__":
    main()
