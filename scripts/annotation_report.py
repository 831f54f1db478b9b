"""The annotation-loop acceptance numbers (docs/annotation.md shows them).

1. **Does it find real label errors?** Two synthetic datasets with recorded label noise (`noisy_labels`: every
   volume corrupted; `light`: half the volumes, half the events). A slice is *corrupted* when its label differs
   from the clean mask (``seg_clean/``, which the generator keeps) in at least one voxel (and, stricter, in at
   least 20). The cleanlab ranking of
   `find_label_issues_for_dataset` (k-fold out-of-fold, temperature-scaled) is compared with (a) random order
   (mean and 5-95 % range over 1000 permutations) and (b) 1 − Dice of the same out-of-fold prediction (p > 0.5)
   vs the label, by precision@k and AUROC.
2. **Does the loop help?** On the `noisy_labels` dataset: a real Label Studio server (`.venv-labelstudio`) is
   started in a temporary home, the top-k slices are queued, a scripted reviewer answers each task through the
   Label Studio API with the clean slice, the reviews are imported as a new dataset version, and segresnet_tiny
   is trained on the noisy and on the reviewed version with the same seeds and budget. Both are scored against
   *clean* masks of a fresh held-out pool (another generator seed, never trained on): Dice and clDice.

Usage: .venv/bin/python scripts/annotation_report.py [--volumes 12] [--folds 3] [--epochs 8] [--top-k 40]
       [--train-epochs 10] [--seeds 2] [--pool 6] [--home DIR]
Prints one JSON document. Takes ~15 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import SecretStr
from sklearn.metrics import roc_auc_score

from minivess.configs.loading import load_experiment
from minivess.pipelines.annotation import label_issues, workflow
from minivess.pipelines.annotation.client import connect
from minivess.pipelines.annotation.credentials import client_credentials
from minivess.pipelines.annotation.oof import load_oof
from minivess.pipelines.annotation.queue import project_tasks
from minivess.pipelines.annotation.server import LabelStudioServer
from minivess.pipelines.annotation.slices import brush_result, take_slice
from minivess.pipelines.data.manifest import scan_dataset
from minivess.pipelines.data.nifti import read_array
from minivess.pipelines.data.synthetic import LabelNoiseConfig, get_preset, write_dataset
from minivess.pipelines.metrics.cldice import cldice_from_masks
from minivess.pipelines.metrics.overlap import dice_from_masks
from minivess.pipelines.training import runs
from minivess.pipelines.training.evaluation import open_run, segment_probability
from minivess.settings import Settings

AXIS = 2
KS = (10, 20, 40)
MIN_VOXELS = (1, 20)  # a slice counts as corrupted from this many wrong voxels on
LEVELS: dict[str, LabelNoiseConfig] = {
    "noisy_labels": LabelNoiseConfig(),  # the preset: every volume, every counted event
    "light": LabelNoiseConfig(volume_probability=0.5, event_probability=0.5),
}


def corrupted_slices(data: Path) -> dict[tuple[str, int], int]:
    """(volume, z) → voxels where the label differs from the clean mask."""
    out: dict[tuple[str, int], int] = {}
    for record in scan_dataset(data).volumes:
        noisy = read_array(record.mask).astype(bool)
        clean = read_array(data / "seg_clean" / record.mask.name).astype(bool)
        differs = (noisy != clean).sum(axis=(0, 1))
        for z, count in enumerate(differs):
            out[(record.id, z)] = int(count)
    return out


def one_minus_dice(data: Path, oof_folder: Path) -> dict[tuple[str, int], float]:
    """Baseline score per slice: 1 − Dice(out-of-fold prediction > 0.5, label); both empty → 0."""
    oof = load_oof(oof_folder)
    probs = oof.probabilities()
    out: dict[tuple[str, int], float] = {}
    for record in scan_dataset(data).volumes:
        pred = np.asarray(probs[record.id]) > 0.5
        label = read_array(record.mask).astype(bool)
        for z in range(label.shape[AXIS]):
            p, t = pred[..., z], label[..., z]
            denom = int(p.sum() + t.sum())
            out[(record.id, z)] = 0.0 if denom == 0 else 1.0 - 2.0 * float((p & t).sum()) / denom
    return out


def ranking_metrics(
    order: list[tuple[str, int]], truth: dict[tuple[str, int], int], score: NDArray[Any]
) -> dict[str, float]:
    """Precision@k of an order (most suspicious first) and AUROC of a score (higher = more suspicious)."""
    y = np.array([truth[key] > 0 for key in order])
    if y.all() or not y.any():
        raise SystemExit(f"every slice or none is corrupted ({int(y.sum())}/{y.size}): ranking means nothing here")
    out = {f"precision@{k}": float(y[:k].mean()) for k in KS}
    out["precision@R"] = float(y[: int(y.sum())].mean())  # R = number of corrupted slices
    out["auroc"] = float(roc_auc_score(y, score))
    return out


def random_baseline(truth: dict[tuple[str, int], int], n: int = 1000) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(0)
    y = np.array([v > 0 for v in truth.values()])
    rows: dict[str, list[float]] = {f"precision@{k}": [] for k in KS}
    rows["precision@R"], rows["auroc"] = [], []
    for _ in range(n):
        perm = y[rng.permutation(y.size)]
        for k in KS:
            rows[f"precision@{k}"].append(float(perm[:k].mean()))
        rows["precision@R"].append(float(perm[: int(y.sum())].mean()))
        rows["auroc"].append(float(roc_auc_score(perm, -np.arange(perm.size))))
    return {m: {"mean": float(np.mean(v)), "p5": float(np.percentile(v, 5)), "p95": float(np.percentile(v, 95))}
            for m, v in rows.items()}  # fmt: skip


def detection(level: str, data: Path, settings: Settings, folds: int, epochs: int) -> dict[str, Any]:
    started = time.monotonic()
    found = label_issues.find_label_issues_for_dataset(data, settings, folds=folds, epochs=epochs)
    truth = corrupted_slices(data)
    cl_order = [(r.volume_id, r.slice_index) for r in found.rows]
    cl_score = -np.array([r.score for r in found.rows])
    baseline = one_minus_dice(data, found.oof_index.parent)
    dice_order = sorted(baseline, key=lambda key: (-baseline[key], key))
    dice_score = np.array([baseline[k] for k in dice_order])
    by_threshold = {}
    for min_voxels in MIN_VOXELS:
        corrupt = {key: int(v >= min_voxels) for key, v in truth.items()}
        n_bad = sum(corrupt.values())
        by_threshold[f"corrupted>={min_voxels}vox"] = {
            "corrupted_slices": n_bad,
            "prevalence": n_bad / len(truth),
            "cleanlab": ranking_metrics(cl_order, corrupt, cl_score),
            "one_minus_dice": ranking_metrics(dice_order, corrupt, dice_score),
            "random": random_baseline(corrupt),
        }
    return {
        "level": level,
        "slices": len(truth),
        "fold_runs": found.fold_runs,
        **by_threshold,
        "seconds": round(time.monotonic() - started, 1),
        "fold_run_for_predictions": found.fold_runs[0],
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def review_with_clean_masks(data: Path, settings: Settings, project_id: int) -> int:
    """The scripted reviewer: answer every task with the clean slice, through the Label Studio API."""
    client, _ = connect(settings)
    answered = 0
    for task in project_tasks(client, project_id, fields="all"):
        volume, index, axis = task.data["volume_id"], int(task.data["slice_index"]), int(task.data["axis"])
        clean = read_array(data / "seg_clean" / f"{volume}.nii.gz").astype(bool)
        client.annotations.create(id=int(task.id), result=[brush_result(take_slice(clean, axis, index))])
        answered += 1
    return answered


def score_on_clean(run_id: str, settings: Settings, pool: Path) -> dict[str, float]:
    run = open_run(run_id, settings)
    dice, cldice = [], []
    for record in scan_dataset(pool).volumes:
        p = segment_probability(run.model, run.spec, record.image, run.cfg.inference, run.device, run.temperature)
        pred, target = p > 0.5, read_array(record.mask).astype(bool)
        dice.append(dice_from_masks(pred, target))
        cldice.append(cldice_from_masks(pred, target))
    return {"dice": float(np.mean(dice)), "cldice": float(np.mean(cldice))}


def loop(data: Path, settings: Settings, root: Path, args: argparse.Namespace, run_ref: str) -> dict[str, Any]:
    started = time.monotonic()
    ls_settings = Settings(home=root / "ls-home", label_studio_url=f"http://127.0.0.1:{free_port()}", _env_file=None)
    server = LabelStudioServer(ls_settings)
    server.start()
    try:
        url, token = client_credentials(ls_settings)
        reviewer = settings.model_copy(update={"label_studio_url": url, "label_studio_token": SecretStr(token)})
        queued = workflow.queue_top(data, reviewer, args.top_k, run_ref)
        answered = review_with_clean_masks(data, reviewer, queued.project_id)
        imported = workflow.import_all(data, reviewer)
    finally:
        server.stop()
    reviewed = Path(imported.dataset_dir or "")
    truth_before = corrupted_slices(data)
    queued_keys = [(i.volume_id, i.slice_index) for i in workflow.top_issues(data, settings, args.top_k)]
    wrong_before = sum(truth_before.values())
    after = 0
    for record in scan_dataset(reviewed).volumes:
        fixed = read_array(record.mask).astype(bool)
        clean = read_array(data / "seg_clean" / record.mask.name).astype(bool)
        after += int((fixed != clean).sum())
    pool = root / "clean-pool"
    write_dataset(pool, n=args.pool, config=get_preset("default"), seed=99)
    scores: dict[str, list[dict[str, Any]]] = {"noisy": [], "reviewed": []}
    for seed in range(args.seeds):
        for name, folder in (("noisy", data), ("reviewed", reviewed)):
            cfg = load_experiment(
                "segresnet_tiny", [f"data.dir={folder}", f"trainer.epochs={args.train_epochs}", f"trainer.seed={seed}"]
            )
            result = runs.train(cfg, settings)
            scores[name].append(
                {"seed": seed, "run_id": result.run_id, **score_on_clean(result.run_id, settings, pool)}
            )
    summary = {
        name: {m: float(np.mean([s[m] for s in rows])) for m in ("dice", "cldice")} for name, rows in scores.items()
    }
    return {
        "queued": queued.queued,
        "answered": answered,
        "reviews_applied": imported.reviews_applied,
        "reviewed_version": imported.dataset_version,
        "queued_slices_corrupted": sum(1 for key in queued_keys if truth_before[key] > 0),
        "wrong_label_voxels_before": wrong_before,
        "wrong_label_voxels_after": after,
        "per_seed": scores,
        "mean": summary,
        "seconds": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--volumes", type=int, default=12)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8, help="epochs per fold model")
    parser.add_argument("--top-k", type=int, default=40, help="slices queued for review")
    parser.add_argument("--train-epochs", type=int, default=10, help="epochs of the noisy-vs-reviewed comparison")
    parser.add_argument("--seeds", type=int, default=2, help="training seeds of that comparison")
    parser.add_argument("--pool", type=int, default=6, help="clean held-out volumes it is scored on")
    parser.add_argument("--home", type=Path, default=None, help="work folder (default: a temporary one)")
    args = parser.parse_args()
    root = args.home or Path(tempfile.mkdtemp(prefix="minivess-annotation-report-"))
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "detection": []}
    for level, noise in LEVELS.items():
        data = root / f"data-{level}"
        write_dataset(
            data, n=args.volumes, config=get_preset("default").model_copy(update={"label_noise": noise}), seed=0
        )
        settings = Settings(home=root / f"home-{level}", _env_file=None)
        found = detection(level, data, settings, args.folds, args.epochs)
        report["detection"].append(found)
        print(json.dumps({"detection": level, **{k: v for k, v in found.items() if k.startswith("corrupted")}}),
              flush=True)  # fmt: skip
        if level == "noisy_labels":
            report["loop"] = loop(data, settings, root, args, found["fold_run_for_predictions"])
            print(json.dumps({"loop": report["loop"]["mean"]}), flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
