"""Peak memory of the cleanlab slice scoring (`slice_label_issues`) on MinIVess-sized slices: bounded by the batch.

Volumes of 512 × 512 × 32 (float16 probabilities and uint8 labels as memory-mapped `.npy`, as the out-of-fold
store keeps them; random values, since memory does not depend on them). Each configuration runs in a fresh
subprocess under `tracemalloc` (numpy's allocations are traced); reported: peak MiB and seconds per
(volumes, batch_slices), and what cleanlab's whole-array API would hold for the probabilities alone
(N × 2 × H × W float32). The claim checked: the peak does not grow with the number of volumes, and shrinks with the
batch. Prints one JSON line.

    .venv/bin/python benchmarks/label_issues_memory.py [--volumes 4 8] [--batches 8 32]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, sys, tempfile, time, tracemalloc
from pathlib import Path
import numpy as np
from minivess.pipelines.annotation.label_issues import slice_label_issues

volumes, batch = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
folder = Path(tempfile.mkdtemp(prefix="label-issues-mem-"))
probs, labels = {}, {}
for i in range(volumes):
    for name, make in (("p", lambda: rng.random((512, 512, 32), dtype=np.float32).astype(np.float16)),
                       ("l", lambda: (rng.random((512, 512, 32)) > 0.9).astype(np.uint8))):
        array = make()
        np.save(folder / f"{name}{i}.npy", array)
        del array
    probs[f"v{i}"] = np.load(folder / f"p{i}.npy", mmap_mode="r")
    labels[f"v{i}"] = np.load(folder / f"l{i}.npy", mmap_mode="r")
tracemalloc.start()
started = time.perf_counter()
rows = slice_label_issues(probs, labels, batch_slices=batch)
seconds = time.perf_counter() - started
peak = tracemalloc.get_traced_memory()[1] / 2**20
whole = volumes * 32 * 2 * 512 * 512 * 4 / 2**20
print(json.dumps({"volumes": volumes, "batch_slices": batch, "slices": len(rows), "peak_mib": round(peak),
                  "seconds": round(seconds, 1), "whole_array_probs_mib": round(whole)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volumes", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 32])
    args = parser.parse_args()
    rows = []
    for batch in args.batches:
        for volumes in args.volumes:
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(volumes), str(batch)], capture_output=True, text=True, check=True
            )
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), file=sys.stderr)
    by_batch = {b: [r["peak_mib"] for r in rows if r["batch_slices"] == b] for b in args.batches}
    flat = all(max(p) <= 1.1 * min(p) for p in by_batch.values())
    print(json.dumps({"benchmark": "label_issues_memory", "rows": rows, "peak_flat_in_volumes": flat}))


if __name__ == "__main__":
    main()
