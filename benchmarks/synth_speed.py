"""Benchmark: seconds to generate one 128×128×32 synthetic volume (goal < 1 s, single thread)."""

from __future__ import annotations

import json
import logging
import time

from minivess.pipelines.data.synthetic import generate_volume, get_preset

logger = logging.getLogger(__name__)

SHAPE = (128, 128, 32)
GOAL_SECONDS = 1.0
N_VOLUMES = 5


def main() -> None:
    """Generate a few 128×128×32 volumes (after one warm-up) and print one JSON line."""
    config = get_preset("default").model_copy(update={"shape": SHAPE})
    generate_volume(config, 999)  # warm-up: imports, allocator, caches
    times = []
    for seed in range(N_VOLUMES):
        start = time.perf_counter()
        generate_volume(config, seed)
        times.append(time.perf_counter() - start)
    seconds = sum(times) / len(times)
    result = {
        "benchmark": "synth_speed",
        "seconds_per_volume": round(seconds, 4),
        "max_seconds": round(max(times), 4),
        "n_volumes": N_VOLUMES,
        "shape": list(SHAPE),
        "goal_seconds": GOAL_SECONDS,
        "ratio": round(GOAL_SECONDS / seconds, 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
