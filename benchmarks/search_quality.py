"""Search quality (P4): our planned search vs plain Optuna TPE vs random search, replayed on the tabular benchmark.

The table (`benchmarks/data/search_table.csv`, built by `search_table_build.py` from real training runs) gives each
grid configuration's validation clDice per epoch. A trial's score is its best validation clDice over the epochs
(what a search trial reports). Every method samples family, loss, optimiser and a log-uniform learning rate;
the learning rate is snapped to the table's nearest grid value (log scale), the same for every method.

- random: Optuna's RandomSampler over the whole space.
- tpe: Optuna's TPESampler with its defaults over the whole space (no history).
- ours_no_history: the same code with an empty warehouse (what the sampler settings and rounds alone give).
- ours: the nightly planner's code path — `planning.plan_search` on a warehouse history, the engine's sampler
  (`engine.sampler_for`), warm-start configurations queued first, two rounds with `planning.replan` between them.
  The history is what the warehouse of a team using the chat holds: 8 quick runs (2 epochs, the presets' length)
  of random grid configurations, different per seed. Their 2-epoch scores come from the same table (epoch ≤ 2),
  so history and trials share a training seed: an optimistic stand-in for re-running a configuration.

Same budget for all (20 trials), 10 seeds each. Prints one JSON line; writes docs/img/search_quality.png.

    python benchmarks/search_quality.py [--seeds 10] [--trials 20] [--plot docs/img/search_quality.png]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna

from minivess.pipelines.search.engine import sampler_for
from minivess.pipelines.search.planning import PastRun, plan_search, replan
from minivess.pipelines.search.record import SearchSpec
from minivess.pipelines.search.space import SearchSpace

TABLE = Path(__file__).parent / "data" / "search_table.csv"
HISTORY_RUNS, HISTORY_EPOCHS = 8, 2
Key = tuple[str, str, str, float]


def load_table(path: Path) -> dict[Key, list[float]]:
    curves: dict[Key, list[float]] = {}
    with path.open() as handle:
        for row in csv.DictReader(handle):
            key = (row["family"], row["loss"], row["optimizer"], float(row["lr"]))
            value = float(row["val_cldice"])
            curves.setdefault(key, []).append(0.0 if math.isnan(value) else value)
    return curves


class Table:
    def __init__(self, curves: dict[Key, list[float]]) -> None:
        self.curves = curves
        self.families = tuple(sorted({k[0] for k in curves}))
        self.lrs = sorted({k[3] for k in curves})

    def score(self, config: dict[str, Any], epochs: int | None = None) -> float:
        lr = min(self.lrs, key=lambda v: abs(math.log(v) - math.log(float(config["lr"]))))
        curve = self.curves[(config["family"], config["loss"], config["optimizer"], lr)]
        return max(curve[:epochs] if epochs else curve)


def _objective(table: Table, space: SearchSpace) -> Callable[[optuna.Trial], float]:
    return lambda trial: table.score(space.suggest(trial))


def best_so_far(values: list[float]) -> list[float]:
    out, best = [], -1.0
    for value in values:
        best = max(best, value)
        out.append(best)
    return out


def run_baseline(table: Table, sampler: optuna.samplers.BaseSampler, trials: int) -> list[float]:
    space = SearchSpace(families=table.families)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(_objective(table, space), n_trials=trials)
    return best_so_far([t.value for t in study.trials if t.value is not None])


def run_ours(table: Table, seed: int, trials: int, history_runs: int = HISTORY_RUNS) -> list[float]:
    rng = random.Random(10_000 + seed)
    cells = rng.sample(sorted(table.curves), history_runs)
    history = []
    for i, (family, loss, optimizer, lr) in enumerate(cells):
        config = {"family": family, "loss": loss, "optimizer": optimizer, "lr": lr}
        score = table.score(config, HISTORY_EPOCHS)
        history.append(PastRun(f"hist{i}", family, loss, optimizer, lr, "FINISHED", score))
    plan = plan_search(history, table.families, trials)
    spec = SearchSpec(budget_minutes=60, trials=trials, families=table.families, epochs=6, max_trial_minutes=10)
    study = optuna.create_study(direction="maximize", sampler=sampler_for(spec, plan.warm_starts, seed=seed))
    for config in plan.warm_starts:
        study.enqueue_trial(config)
    space = plan.space
    for index, n in enumerate(plan.rounds):
        if index > 0:
            scored = [(t.params, t.value) for t in study.trials if t.value is not None]
            space, _ = replan(space, scored)
            study.sampler = sampler_for(spec, plan.warm_starts, seed=seed + index)
        study.optimize(_objective(table, space), n_trials=n)
    return best_so_far([t.value for t in study.trials if t.value is not None])


def summarise(curves: list[list[float]]) -> dict[str, list[float]]:
    by_trial = list(zip(*curves, strict=True))
    return {
        "median": [statistics.median(v) for v in by_trial],
        "q25": [statistics.quantiles(v, n=4)[0] for v in by_trial],
        "q75": [statistics.quantiles(v, n=4)[2] for v in by_trial],
    }


def plot(path: Path, results: dict[str, dict[str, list[float]]], target: float, seeds: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, stats in results.items():
        x = range(1, len(stats["median"]) + 1)
        ax.plot(x, stats["median"], label=f"{name} (median)")
        ax.fill_between(x, stats["q25"], stats["q75"], alpha=0.2)
    ax.axhline(target, color="grey", ls="--", lw=1, label="TPE's 20-trial median best")
    ax.axvline(10, color="grey", ls=":", lw=1)
    ax.set_xlabel("trials")
    ax.set_ylabel("best validation clDice so far")
    ax.set_ylim(0.8, 1.0)
    ax.set_title(f"search quality on the tabular benchmark ({seeds} seeds; bands: 25–75 %)")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--table", type=Path, default=TABLE)
    parser.add_argument("--plot", type=Path, default=None)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = Table(load_table(args.table))
    runs: dict[str, list[list[float]]] = {"ours": [], "ours_no_history": [], "tpe": [], "random": []}
    for seed in range(args.seeds):  # interleaved: each seed runs every method
        runs["ours"].append(run_ours(table, seed, args.trials))
        runs["ours_no_history"].append(run_ours(table, seed, args.trials, history_runs=0))
        runs["tpe"].append(run_baseline(table, optuna.samplers.TPESampler(seed=seed), args.trials))
        runs["random"].append(run_baseline(table, optuna.samplers.RandomSampler(seed=seed), args.trials))
    results = {name: summarise(curves) for name, curves in runs.items()}
    target = results["tpe"]["median"][args.trials - 1]
    reach = [next((i + 1 for i, v in enumerate(c) if v >= target), None) for c in runs["ours"]]
    # Seeds that never reach it count as "more than the budget" (infinite), not as missing.
    median_reach = statistics.median([math.inf if r is None else r for r in reach])
    line = {
        "benchmark": "search_quality",
        "cells": len(table.curves),
        "seeds": args.seeds,
        "trials": args.trials,
        "grid_best": max(max(c) for c in table.curves.values()),
        "median_best_at_10": {k: round(v["median"][9], 4) for k, v in results.items()},
        "median_best_at_20": {k: round(v["median"][args.trials - 1], 4) for k, v in results.items()},
        "iqr_at_10": {k: [round(v["q25"][9], 4), round(v["q75"][9], 4)] for k, v in results.items()},
        "tpe_20_trial_median_best": round(target, 4),
        "ours_trials_to_reach_it": reach,
        "ours_median_trials_to_reach_it": None if math.isinf(median_reach) else median_reach,
        "goal_met": results["ours"]["median"][9] >= target,
    }
    print(json.dumps(line))
    if args.plot:
        plot(args.plot, results, target, args.seeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
