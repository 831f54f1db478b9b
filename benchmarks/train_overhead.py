"""Engine overhead: per-step time of our training engine vs a bare PyTorch + MONAI loop, interleaved.

Both sides train the same SegResNet (same init, same seed) on the same cached dataset through the same loader,
so epoch k of either side sees the same crops. The real engine (`runs.train`: MLflow run, per-epoch checkpoint,
tracing observer) runs in this process; the bare loop (zero_grad → forward → loss → backward → step → read the
loss) runs *inside the engine's observer callbacks*, so the two sides alternate on the same machine state:

* `--interleave step` (default): one bare step inside every `step_finished`:  E1 B1 E2 B2 E3 B3 …
  Neighbouring steps see the same machine load, so each engine step is paired with the bare step after it.
* `--interleave epoch`: whole bare epochs inside `epoch_finished`, ABBA order:  E1 B1 | B2 E2 | E3 B3 | B4 E4 …

Epoch 1 of each side is a warm-up and is not counted. An engine step is timed from the return of the previous
callback (or of `epoch_started`, once the epoch's loader exists) to the next `step_finished`; a bare step from
fetching its batch to reading its loss. Reported:

* the median per-step time of each side over all timed steps, and `ratio` = median of the paired per-step
  ratios engine ÷ bare (epoch mode: of the per-epoch ratios of medians); 1.05 = 5 % per-step overhead, the goal.
  Spread = IQR and min–max of the per-round (per-epoch) ratios, plus a bootstrap 95 % interval of the median.
  If the IQR exceeds the effect |ratio − 1|, the verdict is "inconclusive".
* the engine's FIXED per-epoch cost, apart from the steps: (last step → epoch_finished) + (callback return →
  next epoch_started): scheduler, metrics, atomic `last.pt`, MLflow log_batch, trace event, budget check, the
  next loader. Checkpoint writing and MLflow logging are also timed alone. The bare loop's gap is only its next
  loader. The warm-up epoch and the last one (validation) are left out.

Tiny data by default (24 synthetic volumes 48×48×16, patch 32×32×16, batch 2 → 7 steps per epoch, ~0.1 s per
step on 2 idle CPU cores), so the default run (≥ 120 timed steps per side) takes ~1–3 min depending on load.
Prints one JSON line; progress goes to stderr.

    .venv/bin/python benchmarks/train_overhead.py [--min-steps 120] [--interleave step|epoch] [--device auto]
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import math
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from monai.losses import DiceCELoss

from _stats import (  # benchmarks/_stats.py (scripts run with this folder on sys.path)
    bootstrap_median_ci,
    log,
    quartiles,
)
from minivess.configs.loading import load_experiment
from minivess.pipelines.data.datasets import train_dataset, train_loader
from minivess.pipelines.data.synthetic import get_preset, write_dataset
from minivess.pipelines.training import runs
from minivess.pipelines.training.events import NullObserver
from minivess.pipelines.training.inference import build_model
from minivess.pipelines.training.runtime import autocast, seed_everything
from minivess.pipelines.training.setup import load_data, model_spec, validate_experiment
from minivess.settings import get_settings

GOAL_RATIO = 1.05


class BareSide:
    """The bare PyTorch + MONAI loop on its own model, optimiser and (identical) dataset."""

    def __init__(self, cfg: Any) -> None:  # an ExperimentConfig
        exp = validate_experiment(cfg)
        manifest, splits = load_data(cfg, get_settings())
        self.cfg, self.device, self.amp = cfg, exp.device, exp.amp_dtype
        seed_everything(cfg.trainer.seed, cfg.trainer.deterministic)  # the same init as the engine's model
        self.model = build_model(model_spec(exp, manifest)).to(self.device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
        self.loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
        self.dataset = train_dataset(manifest, splits.train, cfg.data)
        self.loader: Any = None
        self.batches: Iterator[Any] | None = None
        self.rng = torch.get_rng_state()
        self.durations: dict[int, list[float]] = defaultdict(list)
        self.losses: dict[int, list[float]] = defaultdict(list)
        self.loader_s: dict[int, float] = {}

    def steps_per_epoch(self) -> int:
        return len(train_loader(self.dataset, self.cfg.trainer.batch_size, 0, self.cfg.trainer.seed, 1))

    @contextmanager
    def own_rng(self) -> Iterator[None]:
        """Swap in this side's global torch RNG: TorchIO augmentations draw from it, and the engine's own stream
        must not be disturbed; so step k of both sides gets the same augmentation (and costs the same)."""
        engine_state = torch.get_rng_state()
        torch.set_rng_state(self.rng)
        try:
            yield
        finally:
            self.rng = torch.get_rng_state()
            torch.set_rng_state(engine_state)

    def open_epoch(self, epoch: int) -> None:
        cfg = self.cfg
        with self.own_rng():
            tic = time.perf_counter()
            self.loader = train_loader(
                self.dataset, cfg.trainer.batch_size, cfg.data.num_workers, cfg.trainer.seed, epoch
            )
            self.batches = None  # iterated in step 1, as the engine's `for batch in loader` does
            self.model.train()
            self.loader_s[epoch] = time.perf_counter() - tic

    def step(self, epoch: int) -> bool:
        """One training step on the next batch; False when the epoch is exhausted."""
        with self.own_rng():
            tic = time.perf_counter()
            if self.batches is None:
                self.batches = iter(self.loader)
            batch = next(self.batches, None)
            if batch is None:
                return False
            x, y = batch["image"].to(self.device), batch["label"].to(self.device)
            self.opt.zero_grad(set_to_none=True)
            with autocast(self.device, self.amp):
                loss = self.loss_fn(self.model(x), y)
            loss.backward()
            self.opt.step()
            self.losses[epoch].append(float(loss.detach()))  # the engine reads the loss every step too (syncs CUDA)
            self.durations[epoch].append(time.perf_counter() - tic)
        return True

    def run_epoch(self, epoch: int) -> None:
        self.open_epoch(epoch)
        while self.step(epoch):
            pass


class InterleavingClock(NullObserver):
    """The engine's observer: timestamps the engine's epochs and steps, and runs the bare side in between."""

    def __init__(self, bare: BareSide, mode: str, epochs: int) -> None:
        self.bare, self.mode = bare, mode
        # epoch mode, ABBA: after odd engine epoch e run bare e and e+1; after even ones nothing.
        self.bare_after = {e: [b for b in (e, e + 1) if b <= epochs] for e in range(1, epochs + 1, 2)}
        self.start_entry: dict[int, float] = {}
        self.start_exit: dict[int, float] = {}
        self.step_entry: dict[int, list[float]] = defaultdict(list)
        self.step_exit: dict[int, list[float]] = defaultdict(list)
        self.finished_at: dict[int, float] = {}
        self.resumed_at: dict[int, float] = {}
        self.losses: dict[int, list[float]] = defaultdict(list)
        self.order: list[str] = []

    def epoch_started(self, epoch: int, steps: int) -> None:
        self.start_entry[epoch] = time.perf_counter()
        if self.mode == "step":
            self.bare.open_epoch(epoch)
        self.start_exit[epoch] = time.perf_counter()

    def step_finished(self, epoch: int, step: int, loss: float) -> None:
        self.step_entry[epoch].append(time.perf_counter())
        self.losses[epoch].append(loss)
        if self.mode == "step":
            self.bare.step(epoch)
        self.step_exit[epoch].append(time.perf_counter())

    def epoch_finished(self, epoch: int, metrics: dict[str, float]) -> None:
        self.finished_at[epoch] = time.perf_counter()
        self.order.append(f"E{epoch}")
        if self.mode == "epoch":
            for bare_epoch in self.bare_after.get(epoch, []):
                self.bare.run_epoch(bare_epoch)
                self.order.append(f"B{bare_epoch}")
        elif self.bare.step(epoch):  # the bare loader should be exhausted with the engine's
            raise RuntimeError(f"bare side has more steps than the engine in epoch {epoch}")
        log(f"epoch {epoch} done ({' '.join(self.order[-3:])})")
        self.resumed_at[epoch] = time.perf_counter()

    def engine_durations(self, epoch: int) -> list[float]:
        previous = [self.start_exit[epoch], *self.step_exit[epoch][:-1]]
        return [end - begin for begin, end in zip(previous, self.step_entry[epoch], strict=True)]

    def fixed_cost(self, epoch: int) -> float:
        """Engine time between its last step of `epoch` and the start of the next epoch's steps."""
        return (self.finished_at[epoch] - self.step_exit[epoch][-1]) + (
            self.start_entry[epoch + 1] - self.resumed_at[epoch]
        )


@contextmanager
def timed_calls(targets: list[tuple[Any, str]], spent: dict[str, list[float]]) -> Iterator[None]:
    """Wrap `owner.attr` callables with a timer for the duration of the block; missing ones are skipped."""
    originals = []
    for owner, attr in targets:
        func = getattr(owner, attr, None)
        if func is None:
            continue
        key = f"{getattr(owner, '__name__', type(owner).__name__).rsplit('.', 1)[-1]}.{attr}"

        def make(func: Callable[..., Any], key: str) -> Callable[..., Any]:
            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                tic = time.perf_counter()
                try:
                    return func(*args, **kwargs)
                finally:
                    spent[key].append(time.perf_counter() - tic)

            return wrapper

        originals.append((owner, attr, func))
        setattr(owner, attr, make(func, key))
    try:
        yield
    finally:
        for owner, attr, func in originals:
            setattr(owner, attr, func)


def fixed_cost_targets() -> list[tuple[Any, str]]:
    """Checkpoint writing and MLflow metric logging where the engine calls them (best effort: modules move)."""
    targets: list[tuple[Any, str]] = []
    engine = sys.modules.get(getattr(runs, "Trainer", object).__module__)
    if engine is not None and hasattr(engine, "save_checkpoint"):
        targets.append((engine, "save_checkpoint"))
    recorder = getattr(runs, "RunRecorder", None)
    if recorder is not None:
        targets.append((recorder, "log_metrics"))
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--min-steps", type=int, default=120, help="timed steps per side, at least (≥ 40)")
    parser.add_argument("--interleave", choices=["step", "epoch"], default="step")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", default="auto")
    parser.add_argument("--volumes", type=int, default=24, help="synthetic volumes (60 %% train)")
    parser.add_argument("--preset", default="small", help="synthetic preset of the volumes (small = 48×48×16)")
    parser.add_argument("--patch", default="32,32,16", help="training patch X,Y,Z")
    args = parser.parse_args()
    if args.min_steps < 40:
        parser.error("--min-steps must be at least 40")
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("MINIVESS_HOME", tempfile.mkdtemp(prefix="bench-overhead-"))
    data = Path(os.environ["MINIVESS_HOME"]) / f"data-{args.preset}-{args.volumes}"
    if not (data / "raw").is_dir():
        write_dataset(data, n=args.volumes, config=get_preset(args.preset), seed=0)
    patch = [int(p) for p in args.patch.split(",")]
    base = [
        f"data.dir={data}",
        f"data.patch_size=[{patch[0]},{patch[1]},{patch[2]}]",
        "data.samples_per_volume=2",
        "model.name=segresnet",
        "model.options.init_filters=8",
        "loss.name=dice_ce",
        "optim.name=adamw",
        "optim.schedule=constant",
        "trainer.batch_size=2",
        f"trainer.device={args.device}",
        f"trainer.amp={args.amp}",
    ]
    bare = BareSide(load_experiment(None, [*base, "trainer.epochs=1"]))
    steps = bare.steps_per_epoch()
    timed_epochs = math.ceil(args.min_steps / steps)
    if args.interleave == "epoch":
        timed_epochs += timed_epochs % 2  # even: as many engine-first as bare-first rounds
    epochs = timed_epochs + 1  # + the warm-up epoch
    cfg = load_experiment(None, [*base, f"trainer.epochs={epochs}", f"trainer.val_interval={epochs}"])
    settings = get_settings()
    log(f"{steps} steps/epoch, {epochs} epochs per side ({timed_epochs} timed), {args.interleave} interleave")

    clock = InterleavingClock(bare, args.interleave, epochs)
    spent: dict[str, list[float]] = defaultdict(list)
    tic = time.perf_counter()
    with timed_calls(fixed_cost_targets(), spent):
        runs.train(cfg, settings, clock)
    wall = time.perf_counter() - tic

    timed = list(range(2, epochs + 1))
    engine_steps = {e: clock.engine_durations(e) for e in timed}
    bare_steps = {e: bare.durations[e] for e in timed}
    for e in timed:
        engine_text = " ".join(f"{v:.3f}" for v in engine_steps[e])
        bare_text = " ".join(f"{v:.3f}" for v in bare_steps[e])
        log(f"epoch {e} step seconds: engine [{engine_text}] bare [{bare_text}]")
    all_engine = [s for e in timed for s in engine_steps[e]]
    all_bare = [s for e in timed for s in bare_steps[e]]
    if args.interleave == "step":
        paired = {e: [a / b for a, b in zip(engine_steps[e], bare_steps[e], strict=True)] for e in timed}
        per_step = [r for e in timed for r in paired[e]]
        ratio = statistics.median(per_step)
        per_round = [statistics.median(paired[e]) for e in timed]
        ratio_basis = "median over all steps of (engine step ÷ the bare step right after it)"
    else:
        per_round = [statistics.median(engine_steps[e]) / statistics.median(bare_steps[e]) for e in timed]
        ratio = statistics.median(per_round)
        ratio_basis = "median over epochs of (engine median step ÷ bare median step of the same epoch number)"
    q1, _, q3 = quartiles(per_round)
    iqr, effect = q3 - q1, abs(ratio - 1.0)
    ci_low, ci_high = bootstrap_median_ci(per_step if args.interleave == "step" else per_round)

    fixed = [clock.fixed_cost(e) for e in range(2, epochs)]  # epochs with a next epoch, after the warm-up
    bare_gap = statistics.median(bare.loader_s[e] for e in timed)
    fixed_s = statistics.median(fixed)
    engine_epoch_s = statistics.median(all_engine) * steps + fixed_s
    bare_epoch_s = statistics.median(all_bare) * steps + bare_gap

    overhead = f"per-step overhead {100 * (ratio - 1):+.1f} %"
    if iqr > effect:
        verdict = f"inconclusive: spread {iqr:.4f} > effect {effect:.4f}"
    elif ratio <= GOAL_RATIO:
        verdict = f"goal met: {overhead} ≤ {100 * (GOAL_RATIO - 1):.0f} %"
    else:
        verdict = f"goal not met: {overhead} > {100 * (GOAL_RATIO - 1):.0f} %"
    print(
        json.dumps(
            {
                "benchmark": "train_overhead",
                "device": str(bare.device),
                "amp": args.amp,
                "tracing": settings.tracing,
                "interleave": args.interleave,
                "data": f"{args.volumes} × {args.preset} {list(get_preset(args.preset).shape)}, patch {patch}, batch 2",
                "steps_per_epoch": steps,
                "timed_epochs": timed_epochs,
                "timed_steps_per_side": len(all_engine),
                "engine_median_step_s": round(statistics.median(all_engine), 5),
                "bare_median_step_s": round(statistics.median(all_bare), 5),
                "ratio_definition": "engine ÷ bare per-step time (1.05 = +5 % overhead); " + ratio_basis,
                "ratio": round(ratio, 4),
                "ratio_of_pooled_medians": round(statistics.median(all_engine) / statistics.median(all_bare), 4),
                "ratio_median_ci95": [round(ci_low, 4), round(ci_high, 4)],
                "per_epoch_ratios": [round(r, 4) for r in per_round],
                "spread_iqr": round(iqr, 4),
                "spread_min_max": [round(min(per_round), 4), round(max(per_round), 4)],
                "effect": round(effect, 4),
                "goal_ratio_max": GOAL_RATIO,
                "goal_met": ratio <= GOAL_RATIO,
                "goal_met_at_ci95_upper": ci_high <= GOAL_RATIO,
                "verdict": verdict,
                "engine_fixed_per_epoch_s": round(fixed_s, 4),
                "engine_fixed_per_epoch_min_max_s": [round(min(fixed), 4), round(max(fixed), 4)],
                "fixed_calls_median_ms": {k: round(statistics.median(v) * 1000, 1) for k, v in spent.items() if v},
                "bare_gap_per_epoch_s": round(bare_gap, 4),
                "fixed_share_of_engine_epoch": round(fixed_s / engine_epoch_s, 4),
                "epoch_ratio_incl_fixed": round(engine_epoch_s / bare_epoch_s, 4),
                "same_losses_epoch_2": [round(v, 4) for v in clock.losses[2]] == [round(v, 4) for v in bare.losses[2]],
                "wall_s": round(wall, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
