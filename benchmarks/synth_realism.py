"""Benchmark: realism of synthetic volumes against published two-photon mouse-cortex figures.

Measures, over a few volumes of the `default` and `shifted` presets: contrast (SNR, CNR), vessel
volume fraction, vessel radii (generator truth and distance transform on the skeleton), centreline
length density and branch points; writes MIP pictures and an intensity histogram to ``--out``
(default ``docs/img``) and prints one JSON line. ``ratio`` = share of the reference-range checks
that pass (see docs/data.md for the ranges and their sources).

Run: ``.venv/bin/python benchmarks/synth_realism.py [--n 8] [--out docs/img]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from minivess.pipelines.data.synthetic import generate_volume, get_preset, volume_seed
from minivess.pipelines.data.synthetic.realism import RealismStats, measure_realism, save_mips

logger = logging.getLogger(__name__)

# (low, high) reference ranges; see docs/data.md for sources and how sure we are of each.
REFERENCE = {
    "capillary_diameter_um": (3.0, 7.0),  # length-weighted median diameter (most length is capillary)
    "vessel_fraction": (0.01, 0.05),
    "length_density_mm_per_mm3": (500.0, 1500.0),
}


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(float(np.median(values)), 4),
        "min": round(float(np.min(values)), 4),
        "max": round(float(np.max(values)), 4),
    }


def _measure(preset: str, n: int, seed: int) -> list[RealismStats]:
    config = get_preset(preset)
    return [measure_realism(generate_volume(config, volume_seed(seed, i))) for i in range(n)]


def _aggregate(stats: list[RealismStats]) -> dict[str, Any]:
    return {
        "vessel_fraction": _summary([s.vessel_fraction for s in stats]),
        "largest_component_fraction": _summary([s.largest_component_fraction for s in stats]),
        "snr": _summary([s.snr for s in stats]),
        "cnr": _summary([s.cnr for s in stats]),
        "true_radius_p10_um": _summary([s.true_radius_um["p10"] for s in stats]),
        "true_radius_p50_um": _summary([s.true_radius_um["p50"] for s in stats]),
        "true_radius_p90_um": _summary([s.true_radius_um["p90"] for s in stats]),
        "edt_radius_p50_um": _summary([s.radius_um["p50"] for s in stats]),
        "edt_radius_p90_um": _summary([s.radius_um["p90"] for s in stats]),
        "length_density_mm_per_mm3": _summary([s.length_density_mm_per_mm3 for s in stats]),
        "branch_points": _summary([float(s.branch_points) for s in stats]),
        "branch_point_density_per_mm3": _summary([s.branch_point_density_per_mm3 for s in stats]),
    }


def _histogram_png(stats: RealismStats, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    edges = np.asarray(stats.histogram_edges)
    centres = 0.5 * (edges[1:] + edges[:-1])
    fig, ax = plt.subplots(figsize=(4.0, 2.6), dpi=100)
    ax.step(centres, stats.background_histogram, where="mid", label="background (≥ 3 µm from vessels)")
    ax.step(centres, stats.vessel_histogram, where="mid", label="vessel")
    ax.set_xlabel("intensity (1 = bright vessel at the surface)")
    ax.set_ylabel("share of voxels")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _pictures(out: Path, seed: int) -> list[str]:
    """MIPs of one volume per preset (MinIVess-sized included) and the default intensity histogram."""
    written: list[Path] = []
    first = volume_seed(seed, 0)
    default = generate_volume(get_preset("default"), first)
    written += save_mips(default, out, "synth_default", scale=3)
    written += save_mips(generate_volume(get_preset("shifted"), first), out, "synth_shifted", scale=3)
    noisy = generate_volume(get_preset("noisy_labels"), first)
    noisy_image_png, noisy_mask_png = save_mips(noisy, out, "synth_noisy_labels", scale=3)
    noisy_image_png.unlink()  # label noise leaves the image as in synth_default: keep only the mask
    written.append(noisy_mask_png)
    big = generate_volume(get_preset("minivess"), first)
    # 2×2 max-pooling in-plane keeps thin vessels visible and the PNG under ~200 KB.
    nx, ny, nz = big.image.shape
    pooled = dataclasses.replace(
        big,
        image=big.image.reshape(nx // 2, 2, ny // 2, 2, nz).max(axis=(1, 3)),
        mask=big.mask.reshape(nx // 2, 2, ny // 2, 2, nz).max(axis=(1, 3)),
    )
    written += save_mips(pooled, out, "synth_minivess_pooled2", scale=1)
    hist = out / "synth_default_histogram.png"
    _histogram_png(measure_realism(default), hist)
    written.append(hist)
    return [str(p) for p in written]


def main() -> None:
    """Measure, compare with the reference ranges, write pictures, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=8, help="volumes per preset")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed")
    parser.add_argument("--out", type=Path, default=Path("docs/img"), help="folder for the PNGs")
    args = parser.parse_args()
    default = _measure("default", args.n, args.seed)
    shifted = _measure("shifted", args.n, args.seed)
    agg = _aggregate(default)
    capillary_d = 2.0 * agg["true_radius_p50_um"]["median"]
    checks = {
        "capillary_diameter_um": capillary_d,
        "vessel_fraction": agg["vessel_fraction"]["median"],
        "length_density_mm_per_mm3": agg["length_density_mm_per_mm3"]["median"],
    }
    passed = {k: REFERENCE[k][0] <= v <= REFERENCE[k][1] for k, v in checks.items()}
    result = {
        "benchmark": "synth_realism",
        "n_volumes": args.n,
        "default": agg,
        "shifted": _aggregate(shifted),
        "checks": {k: {"value": round(v, 4), "range": REFERENCE[k], "pass": passed[k]} for k, v in checks.items()},
        "pictures": _pictures(args.out, args.seed),
        "ratio": round(sum(passed.values()) / len(passed), 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
