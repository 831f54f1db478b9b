"""The uncertainty acceptance numbers on the default synthetic benchmark (docs/uncertainty.md shows them).

Trains three SegResNet runs (segresnet_tiny preset, seeds 0-2) on the default synthetic dataset (12 volumes of
96×96×24, seed 0 — what `make demo` generates), then:

1. calibrates the first run: foreground ECE on test before → after temperature scaling, reliability diagram;
2. conformal FNR control on a held-out pool of synthetic volumes (another seed, never trained on): mean
   empirical test FNR over many random calibration/test splits, for alpha 0.05 and 0.1, with the per-volume
   spread, and a figure of it;
3. ensembles of the three runs (mean, weighted, vote) vs their best member on the same test split;
4. a greedy soup of the first run and the weight-quality gate.

Usage: .venv/bin/python scripts/uncertainty_report.py [--home DIR] [--epochs N] [--pool N] [--splits N]
Prints one JSON document; figures go to docs/img/. Takes ~10 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from minivess.configs.loading import load_experiment
from minivess.fileio import write_bytes_atomic
from minivess.pipelines.data.datasets import eval_dataset, eval_loader
from minivess.pipelines.data.manifest import scan_dataset
from minivess.pipelines.data.synthetic import get_preset, write_dataset
from minivess.pipelines.training import runs
from minivess.pipelines.training.evaluation import open_run
from minivess.pipelines.training.inference import predict_logits
from minivess.pipelines.uncertainty import conformal, run_calibration, run_ensemble, run_gate, run_soup
from minivess.pipelines.uncertainty.temperature import vessel_probability
from minivess.settings import Settings

IMG = Path(__file__).resolve().parent.parent / "docs" / "img"


def pool_probabilities(run_id: str, settings: Settings, data: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Calibrated vessel probabilities and labels of every volume of a dataset the run never saw."""
    run = open_run(run_id, settings)
    manifest = scan_dataset(data)
    probs, labels = [], []
    for batch in eval_loader(eval_dataset(manifest, [v.id for v in manifest.volumes])):
        logits = predict_logits(run.model, batch["image"], run.spec.patch_size, run.cfg.inference, run.device)
        probs.append(vessel_probability(logits[0], run.temperature))
        labels.append(batch["label"][0, 0].numpy().astype(bool))
    return probs, labels


def fnr_figure(path: Path, results: dict[float, conformal.SplitExperimentResult]) -> None:
    """Distribution of per-volume test FNRs pooled over splits, one panel per alpha."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.4), constrained_layout=True)
    for ax, (alpha, result) in zip(np.atleast_1d(axes), results.items(), strict=True):
        values = np.concatenate([np.asarray(s.test_fnr) for s in result.splits])
        means = np.asarray([s.mean_test_fnr for s in result.splits])
        ax.hist(values, bins=40, color="#4c72b0", alpha=0.8, label="per-volume test FNR")
        ax.axvline(alpha, color="black", linestyle="--", label=f"alpha = {alpha:g}")
        ax.axvline(float(means.mean()), color="#c44e52", label=f"mean over splits = {means.mean():.3f}")
        ax.set_xlabel("false-negative rate (missed vessel voxels)")
        ax.set_ylabel("test volumes × splits")
        ax.set_title(f"alpha {alpha:g}: {result.n_splits} splits, n_cal {result.n_calibration}")
        ax.legend(fontsize=8)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    write_bytes_atomic(path, buffer.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--home", type=Path, default=None, help="Project home (default: a temporary folder).")
    parser.add_argument("--epochs", type=int, default=6, help="Epochs per run (preset segresnet_tiny).")
    parser.add_argument("--pool", type=int, default=60, help="Held-out volumes for the conformal splits.")
    parser.add_argument("--splits", type=int, default=200, help="Random calibration/test splits per alpha.")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="minivess-uncertainty-"))
    settings = Settings(home=home)
    started = time.perf_counter()
    shape = (96, 96, 24)
    bench = home / "data" / "synthetic"
    if not (bench / "raw").is_dir():
        write_dataset(bench, n=12, config=get_preset("default").model_copy(update={"shape": shape}), seed=0)
    pool = home / "data" / "pool"
    if not (pool / "raw").is_dir():
        write_dataset(pool, n=args.pool, config=get_preset("default").model_copy(update={"shape": shape}), seed=101)
    run_ids = [
        runs.train(
            load_experiment(
                "segresnet_tiny",
                [
                    f"data.dir={bench}",
                    f"trainer.epochs={args.epochs}",
                    f"trainer.seed={seed}",
                    f"trainer.keep_epoch_weights={args.epochs}",
                ],
            ),
            settings,
        ).run_id
        for seed in range(3)
    ]
    out: dict[str, object] = {"runs": run_ids, "epochs": args.epochs, "benchmark": "default synthetic, 12×96×96×24"}

    calibration = run_calibration.calibrate_run(run_ids[0], settings)
    shutil.copy2(calibration.reliability_diagram, IMG / "reliability_test.png")
    out["temperature_scaling"] = {
        "temperature": calibration.temperature,
        "before": {k: v.model_dump() for k, v in calibration.before.items()},
        "after": {k: v.model_dump() for k, v in calibration.after.items()},
    }

    probs, labels = pool_probabilities(run_ids[0], settings, pool)
    experiments = {
        alpha: conformal.split_experiment(probs, labels, alpha, n_splits=args.splits, n_calibration=len(probs) // 2)
        for alpha in (0.05, 0.1)
    }
    fnr_figure(IMG / "conformal_fnr.png", experiments)
    out["conformal"] = {
        str(alpha): {
            "n_volumes": r.n_volumes,
            "n_calibration": r.n_calibration,
            "n_splits": r.n_splits,
            "mean_test_fnr": r.mean_test_fnr,
            "std_over_splits": r.std_test_fnr,
            "mean_threshold": r.mean_threshold,
            "per_volume_fnr_quantiles": r.per_volume_fnr_quantiles,
            "fraction_volumes_above_alpha": r.fraction_volumes_above_alpha,
            "meets_alpha_plus_0.01": r.meets_guarantee(0.01),
        }
        for alpha, r in experiments.items()
    }

    out["ensembles"] = {}
    for strategy in ("mean", "weighted", "vote"):
        ensemble = run_ensemble.build_ensemble(run_ids, settings, strategy)
        out["ensembles"][strategy] = {  # type: ignore[index]
            "run_id": ensemble.run_id,
            "test": ensemble.test,
            "best_member": ensemble.best_member,
            "best_member_test": ensemble.best_member_test,
            "member_test": ensemble.member_test,
            "weights": {m.run_id: m.weight for m in ensemble.members},
        }
    soup = run_soup.greedy_soup(run_ids[0], settings)
    out["soup"] = soup.model_dump()
    gate = run_gate.quality_gate(run_ids[0], settings)
    out["gate"] = {k: v for k, v in gate.model_dump().items() if k != "layers"}
    out["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
