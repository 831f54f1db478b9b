"""Build the tabular search benchmark: really train every configuration of a small grid, keep per-epoch curves.

Each grid cell is one normal `minivess` training run (the same engine `train` and the search use) on the default
synthetic dataset (12 volumes of 96×96×24, generated in a scratch home), with validation every epoch. The table
(`benchmarks/data/search_table.csv`) has one row per cell and epoch: the configuration, the epoch, val_dice,
val_cldice and seconds. `benchmarks/search_quality.py` replays searches on it.

    python benchmarks/search_table_build.py [--epochs 6] [--out benchmarks/data/search_table.csv]

Cells already in the output are skipped, so an interrupted build continues where it stopped.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

FAMILIES = ("segresnet", "dynunet")
LOSSES = ("dice_ce", "dice_ce_cldice")
OPTIMIZERS = ("adamw", "sgd")
LRS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
COLUMNS = ("family", "loss", "optimizer", "lr", "epoch", "val_dice", "val_cldice", "seconds")
DEFAULT_OUT = Path(__file__).parent / "data" / "search_table.csv"


def cell_key(family: str, loss: str, optimizer: str, lr: float) -> tuple[str, str, str, str]:
    return family, loss, optimizer, f"{lr:g}"


def done_cells(out: Path) -> set[tuple[str, str, str, str]]:
    if not out.is_file():
        return set()
    with out.open() as handle:
        return {cell_key(r["family"], r["loss"], r["optimizer"], float(r["lr"])) for r in csv.DictReader(handle)}


def train_cell(family: str, loss: str, optimizer: str, lr: float, epochs: int) -> list[dict[str, object]]:
    from minivess import catalog
    from minivess.configs.loading import load_experiment
    from minivess.pipelines.training import runs
    from minivess.settings import get_settings

    cfg = load_experiment(
        catalog.model_entry(family).preset,
        values={
            "model.name": family,
            "loss.name": loss,
            "optim.name": optimizer,
            "optim.lr": lr,
            "optim.schedule": "cosine",
            "trainer.epochs": epochs,
            "trainer.batch_size": 2,
            "trainer.keep_epoch_weights": 0,
            "trainer.early_stopping.metric": "val_cldice",
            "trainer.early_stopping.patience": None,
        },
    )
    result = runs.train(cfg, get_settings())
    return [
        {
            "family": family,
            "loss": loss,
            "optimizer": optimizer,
            "lr": f"{lr:g}",
            "epoch": epoch,
            "val_dice": f"{metrics.get('val_dice', float('nan')):.5f}",
            "val_cldice": f"{metrics.get('val_cldice', float('nan')):.5f}",
            "seconds": f"{metrics.get('epoch_seconds', float('nan')):.2f}",
        }
        for epoch, metrics in enumerate(result.history, start=1)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--home", type=Path, default=None, help="scratch MINIVESS_HOME (default: a temp folder)")
    args = parser.parse_args()
    os.environ["MINIVESS_HOME"] = str(args.home or Path(tempfile.mkdtemp(prefix="search-table-")))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = done_cells(args.out)
    grid = [c for c in itertools.product(FAMILIES, LOSSES, OPTIMIZERS, LRS) if cell_key(*c) not in done]
    new_file = not args.out.is_file()
    started = time.perf_counter()
    with args.out.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if new_file:
            writer.writeheader()
        for index, cell in enumerate(grid, start=1):
            tic = time.perf_counter()
            rows = train_cell(*cell, epochs=args.epochs)
            writer.writerows(rows)
            handle.flush()
            best = max(float(r["val_cldice"]) for r in rows)  # type: ignore[arg-type]
            print(
                f"[{index}/{len(grid)}] {cell}: best val_cldice {best:.3f} in {time.perf_counter() - tic:.0f} s "
                f"(total {time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
