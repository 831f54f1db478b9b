"""Quality on the default synthetic benchmark: SegResNet val Dice / clDice after a fixed CPU budget.

Trains the default SegResNet (init_filters 8, Dice+CE) on the default synthetic dataset (12 volumes of
96×96×24, seed 0; 8 train / 2 val / 2 test) until `--minutes` of wall clock or `--epochs` run out,
evaluates the best checkpoint on the test split and prints one JSON line. Learning curves are written to
`--curves` (PNG). This is a benchmark, not a test.

    .venv/bin/python benchmarks/train_quality.py [--minutes 10] [--epochs 200] [--loss dice_ce]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from minivess.configs.loading import load_experiment
from minivess.pipelines.data.synthetic import get_preset, write_dataset
from minivess.pipelines.training import evaluation, runs
from minivess.settings import get_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--loss", default="dice_ce", choices=["dice_ce", "dice_ce_cldice"])
    parser.add_argument("--curves", type=Path, default=Path("docs/img/train_quality_curves.png"))
    args = parser.parse_args()
    os.environ.setdefault("MINIVESS_HOME", tempfile.mkdtemp(prefix="bench-quality-"))
    data = Path(os.environ["MINIVESS_HOME"]) / "data"
    if not (data / "raw").is_dir():
        write_dataset(data, n=12, config=get_preset("default"), seed=0)
    cfg = load_experiment(
        "segresnet_tiny",
        [
            f"data.dir={data}",
            f"trainer.epochs={args.epochs}",
            f"trainer.max_minutes={args.minutes}",
            f"loss.name={args.loss}",
            "trainer.val_interval=2",
            "optim.schedule=constant",
        ],
    )
    settings = get_settings()
    tic = time.perf_counter()
    result = runs.train(cfg, settings)
    seconds = time.perf_counter() - tic
    test = evaluation.evaluate_run(result.run_id, settings, split="test").summary
    args.curves.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(result.run_dir / "figures" / "learning_curves.png", args.curves)
    last_val = next(h for h in reversed(result.history) if "val_dice" in h)
    print(
        json.dumps(
            {
                "benchmark": "train_quality",
                "model": "segresnet(init_filters=8)",
                "loss": args.loss,
                "budget_minutes": args.minutes,
                "wall_seconds": round(seconds, 1),
                "epochs": result.epochs_completed,
                "best_epoch": result.best_epoch,
                "best_val_dice": round(result.best_metric or float("nan"), 4),
                "last_val_dice": round(last_val["val_dice"], 4),
                "last_val_cldice": round(last_val["val_cldice"], 4),
                **{k: round(v, 4) for k, v in test.items()},
                "curves": str(args.curves),
            }
        )
    )


if __name__ == "__main__":
    main()
