"""Whole-volume inference: ONNX Runtime ÷ torch eager on the CPU, same threads, interleaved (goal ≥ 1.5× faster).

One MinIVess-sized volume (512 × 512 × 32 voxels, random intensities: speed does not depend on content) goes
through MONAI's Gaussian-blended sliding window (the `predict` path: same patch, overlap 0.25, sw_batch_size) with
each predictor in turn — torch eager, ONNX Runtime with OpenVINO's execution provider (our default build on x86-64
Linux) and with the default CPU provider — in rotating order per round (A B C, B C A, C A B, …) so a slow phase of
the machine hits every side alike. The first round is a warm-up and is not counted.

Reported per model and side: median seconds per volume, IQR and min–max, peak RSS growth during a call (a 5 ms
sampler thread; the process's own baseline subtracted), and the speed-up = median over rounds of
(torch seconds ÷ side seconds) within the same round, with its IQR. When the IQR of the per-round speed-ups is
wider than the distance of the median from 1, the verdict says "inconclusive". The ONNX graph is exported with
our exporter (`pipelines/serving/onnx_model.py`), and the outputs are compared with torch (max |Δ probability|).

Threads: torch.set_num_threads(T) and intra_op_num_threads=T (default 2, this machine's cores).
Default: SegResNet (segresnet_tiny preset, patch 64×64×16), 6 counted rounds: ~3–6 min on 2 cores.
Prints one JSON line; progress goes to stderr.

    .venv/bin/python benchmarks/inference_speed.py [--models segresnet dynunet] [--rounds 6] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import torch

from _stats import bootstrap_median_ci, log, quartiles  # benchmarks/_stats.py
from minivess.configs.experiment import InferenceConfig
from minivess.pipelines.serving.onnx_model import OnnxPredictor, export_onnx
from minivess.pipelines.training.checkpoint import ModelSpec
from minivess.pipelines.training.inference import build_model, predict_logits
from minivess.pipelines.uncertainty.temperature import vessel_probability

SHAPE = (512, 512, 32)
MODELS: dict[str, tuple[dict[str, Any], tuple[int, int, int]]] = {
    "segresnet": ({"init_filters": 8}, (64, 64, 16)),  # configs/segresnet_tiny.yaml
    "dynunet": ({}, (64, 64, 16)),  # configs/dynunet_nnunet.yaml
    "swinunetr": ({"feature_size": 12}, (64, 64, 32)),  # configs/swinunetr_small.yaml
}


class PeakRss:
    """Peak resident memory of this process above its level at entry, sampled every 5 ms."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> PeakRss:
        self.base = self.process.memory_info().rss
        self.peak = self.base
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.base) / 2**20


def run_once(predict: Callable[[torch.Tensor], torch.Tensor], volume: torch.Tensor) -> tuple[float, float]:
    with PeakRss() as rss:
        started = time.perf_counter()
        predict(volume)
        seconds = time.perf_counter() - started
    return seconds, rss.growth_mib


def bench_model(name: str, rounds: int, threads: int, sw_batch: int, folder: Path) -> dict[str, Any]:
    options, patch = MODELS[name]
    spec = ModelSpec(adapter=name, options=options, patch_size=patch, spacing=(1.0, 1.0, 1.0))
    torch.manual_seed(0)
    model = build_model(spec).eval()
    exported = export_onnx(model, spec, folder / name)
    sides: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"torch": model}
    for provider in ("openvino", "cpu"):
        try:
            sides[f"onnx-{provider}"] = OnnxPredictor(folder / name / "model.onnx", threads, provider=provider)
        except Exception as exc:  # a provider missing from this build is reported, not fatal
            log(f"{name}: onnx-{provider} unavailable: {exc}")
    cfg = InferenceConfig(sw_batch_size=sw_batch)
    volume = torch.from_numpy(np.random.default_rng(0).normal(size=(1, 1, *SHAPE)).astype(np.float32))
    cpu = torch.device("cpu")

    def predict_with(predictor: Any) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda image: predict_logits(predictor, image, patch, cfg, cpu)

    outputs = {side: predict_with(p)(volume) for side, p in sides.items()}  # also the warm-up round
    reference = vessel_probability(outputs["torch"][0])
    max_diff = {side: float(np.abs(vessel_probability(out[0]) - reference).max()) for side, out in outputs.items()}
    names = list(sides)
    seconds: dict[str, list[float]] = {s: [] for s in names}
    memory: dict[str, list[float]] = {s: [] for s in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for side in order:
            t, mib = run_once(predict_with(sides[side]), volume)
            seconds[side].append(t)
            memory[side].append(mib)
        log(f"{name} round {r + 1}/{rounds}: " + ", ".join(f"{s} {seconds[s][-1]:.2f} s" for s in names))
    result: dict[str, Any] = {"patch": patch, "exporter": exported.exporter, "sides": {}}
    for side in names:
        q1, med, q3 = quartiles(seconds[side])
        speedups = [a / b for a, b in zip(seconds["torch"], seconds[side], strict=True)]
        s1, s_med, s3 = quartiles(speedups)
        lo, hi = bootstrap_median_ci(speedups)
        result["sides"][side] = {
            "median_s": round(med, 3),
            "iqr_s": [round(q1, 3), round(q3, 3)],
            "min_max_s": [round(min(seconds[side]), 3), round(max(seconds[side]), 3)],
            "peak_rss_growth_mib": round(statistics.median(memory[side]), 1),
            "max_abs_diff_probability_vs_torch": max_diff[side],
            "speedup_vs_torch": round(s_med, 3),
            "speedup_iqr": [round(s1, 3), round(s3, 3)],
            "speedup_ci95": [round(lo, 3), round(hi, 3)],
            "verdict": (
                "inconclusive (spread wider than the effect)"
                if side != "torch" and (s3 - s1) > abs(s_med - 1)
                else ("meets the 1.5× goal" if s_med >= 1.5 else "below the 1.5× goal")
            )
            if side != "torch"
            else "baseline",
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["segresnet"], choices=sorted(MODELS))
    parser.add_argument("--rounds", type=int, default=6, help="Counted rounds (≥ 5), after one warm-up.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sw-batch-size", type=int, default=InferenceConfig().sw_batch_size)
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error("--rounds must be ≥ 5 (a median of fewer is not evidence)")
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="minivess-bench-onnx-") as folder:
        models = {m: bench_model(m, args.rounds, args.threads, args.sw_batch_size, Path(folder)) for m in args.models}
    import onnxruntime

    print(
        json.dumps(
            {
                "benchmark": "inference_speed",
                "volume": SHAPE,
                "threads": args.threads,
                "sw_batch_size": args.sw_batch_size,
                "rounds": args.rounds,
                "torch": torch.__version__,
                "onnxruntime": onnxruntime.__version__,
                "models": models,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
