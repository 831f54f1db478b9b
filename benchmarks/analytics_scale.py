"""Issue 4: the DuckDB warehouse vs MLflow's own API on ≥ 10,000 runs; prints one JSON line.

Builds a temporary SQLite MLflow store with ``MlflowClient.log_batch`` (runs shaped like the training
engine's: params, naming.py tags, per-epoch histories), syncs it into the warehouse, then answers the same
leaderboard both ways:

* best-over-epochs per model family: MLflow needs ``search_runs`` + ``get_metric_history`` per run
  (``search_runs`` only returns the latest value); the warehouse answers from ``metric_summary``;
* latest value per model family (what ``search_runs`` + pandas can answer alone) vs the warehouse.

Usage: python benchmarks/analytics_scale.py [--runs 10000] [--epochs 10] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from minivess.pipelines.analytics import Warehouse, leaderboard, run_sql
from minivess.pipelines.tracking import naming
from minivess.settings import Settings

METRIC = naming.METRIC_VAL_DICE
FAMILIES = ("segresnet", "swinunetr", "dynunet")
LOSSES = ("dice_ce", "dice_ce_cldice")
T0_MS = 1_790_000_000_000


def build_store(uri: str, n_runs: int, epochs: int) -> str:
    """Log ``n_runs`` finished runs; returns the experiment id."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment(naming.DEFAULT_EXPERIMENT)
    for i in range(n_runs):
        rng = random.Random(i)
        family, loss, lr = rng.choice(FAMILIES), rng.choice(LOSSES), rng.choice((1e-3, 3e-4, 1e-4))
        start = T0_MS + i * 60_000
        run = client.create_run(exp, start_time=start, run_name=f"{family}-{i:05d}")
        metrics = []
        for epoch in range(1, epochs + 1):
            ts = start + epoch * 1000
            dice = 0.2 + 0.6 * (1 - math.exp(-epoch / rng.uniform(2, 8))) + rng.uniform(-0.05, 0.05)
            metrics += [
                Metric(METRIC, dice, ts, epoch),
                Metric(naming.METRIC_VAL_CLDICE, dice * rng.uniform(0.9, 1.05), ts, epoch),
                Metric(naming.METRIC_TRAIN_LOSS, 1.0 / epoch + rng.uniform(0, 0.2), ts, epoch),
            ]
        params = [Param("model.name", family), Param("optim.lr", repr(lr)), Param("loss.name", loss),
                  Param("trainer.epochs", str(epochs)), Param("data.patch_size", "[64, 64, 32]")]  # fmt: skip
        tags = [RunTag(naming.TAG_MODEL_FAMILY, family), RunTag(naming.TAG_LOSS, loss),
                RunTag(naming.TAG_RUN_KIND, "train")]  # fmt: skip
        client.log_batch(run.info.run_id, metrics=metrics, params=params, tags=tags)
        client.set_terminated(run.info.run_id, "FINISHED", end_time=start + epochs * 1000 + rng.randint(0, 9000))
        if (i + 1) % 1000 == 0:
            logging.info("built %d/%d runs", i + 1, n_runs)
    return exp


def mlflow_best_leaderboard(uri: str, exp: str) -> list[tuple[str, str, float, int]]:
    """Best-over-epochs per family through MLflow: search_runs + pandas + get_metric_history per run."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    df = mlflow.search_runs([exp], filter_string="attributes.status = 'FINISHED'")
    best_value, best_step = [], []
    for run_id in df["run_id"]:
        history = [m for m in client.get_metric_history(run_id, METRIC) if not math.isnan(m.value)]
        best = min(history, key=lambda m: (-m.value, m.step, m.timestamp))
        best_value.append(best.value)
        best_step.append(best.step)
    df["best"], df["best_step"] = best_value, best_step
    df = df.sort_values(["best", "start_time", "run_id"], ascending=[False, True, True])
    top = df.groupby(f"tags.{naming.TAG_MODEL_FAMILY}", sort=False).head(1)
    return [(r[f"tags.{naming.TAG_MODEL_FAMILY}"], r.run_id, r.best, int(r.best_step)) for _, r in top.iterrows()]


def mlflow_last_leaderboard(uri: str, exp: str) -> list[tuple[str, str, float]]:
    """Latest value per family through search_runs + pandas alone."""
    import mlflow

    mlflow.set_tracking_uri(uri)
    df = mlflow.search_runs([exp], filter_string="attributes.status = 'FINISHED'")
    df = df.sort_values([f"metrics.{METRIC}", "start_time", "run_id"], ascending=[False, True, True])
    top = df.groupby(f"tags.{naming.TAG_MODEL_FAMILY}", sort=False).head(1)
    return [(r[f"tags.{naming.TAG_MODEL_FAMILY}"], r.run_id, r[f"metrics.{METRIC}"]) for _, r in top.iterrows()]


LAST_SQL = f"""
SELECT family, run_id, last_value FROM (
  SELECT r.model_family AS family, r.run_id, s.last_value, r.start_time,
         row_number() OVER (PARTITION BY r.model_family ORDER BY s.last_value DESC, r.start_time, r.run_id) AS rn
  FROM runs r JOIN metric_summary s ON s.run_id = r.run_id AND s.key = '{METRIC}'
  WHERE r.status = 'FINISHED' AND r.lifecycle_stage = 'active')
WHERE rn = 1 ORDER BY last_value DESC
"""


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time over ``repeats`` calls, and the last answer."""
    times, answer = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        answer = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), answer


def main() -> None:
    """Build, sync, compare; print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="minivess-bench-") as tmp:
        home = Path(tmp) / "home"
        uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        started = time.perf_counter()
        exp = build_store(uri, args.runs, args.epochs)
        build_s = time.perf_counter() - started
        wh = Warehouse(Settings(home=home), tracking_uri=uri)
        full = wh.sync()
        noop_s, noop = timed(wh.sync, args.repeats)
        check_s, _ = timed(wh.needs_sync, args.repeats)
        _add_runs(uri, exp, 10, args.epochs)
        incremental = wh.sync()
        logging.info("synced; timing leaderboards")
        ours_s, ours = timed(lambda: leaderboard(METRIC, by="family", warehouse=wh), args.repeats)
        ours_rows = [(r.group, r.run.run_id, r.best_value, r.best_step) for r in ours.rows]
        mlflow_s, theirs = timed(lambda: mlflow_best_leaderboard(uri, exp), 1)
        last_ours_s, last_ours = timed(lambda: run_sql(LAST_SQL, warehouse=wh).rows, args.repeats)
        last_mlflow_s, last_theirs = timed(lambda: mlflow_last_leaderboard(uri, exp), max(1, args.repeats // 2))
        result = {
            "benchmark": "analytics_scale",
            "n_runs": args.runs + 10,  # the built runs plus 10 added for the incremental sync
            "metric_rows": full.metric_rows + incremental.metric_rows,
            "build_s": round(build_s, 1),
            "build_ms_per_run": round(1000 * build_s / args.runs, 1),
            "full_sync_s": full.seconds,
            "noop_sync_s": round(noop_s, 4),
            "noop_sync_skipped": noop.skipped,
            "needs_sync_check_s": round(check_s, 4),
            "incremental_sync_10_new_runs_s": incremental.seconds,
            "incremental_runs_processed": incremental.runs_processed,
            "leaderboard_best_mlflow_s": round(mlflow_s, 3),
            "leaderboard_best_warehouse_s": round(ours_s, 4),
            "ratio_best": round(mlflow_s / ours_s, 1),
            "answers_equal_best": ours_rows == theirs,
            "leaderboard_last_search_runs_pandas_s": round(last_mlflow_s, 3),
            "leaderboard_last_warehouse_sql_s": round(last_ours_s, 4),
            "ratio_last": round(last_mlflow_s / last_ours_s, 1),
            "answers_equal_last": [tuple(r) for r in last_ours] == last_theirs,
        }
    print(json.dumps(result))


def _add_runs(uri: str, exp: str, n: int, epochs: int) -> None:
    """Ten more runs after the first sync (for the incremental timing)."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, RunTag

    client = MlflowClient(tracking_uri=uri)
    for i in range(n):
        run = client.create_run(exp, start_time=T0_MS - (i + 1) * 60_000, run_name=f"late-{i}")
        metrics = [Metric(METRIC, 0.1 * e / epochs, T0_MS + e, e) for e in range(1, epochs + 1)]
        client.log_batch(run.info.run_id, metrics=metrics, tags=[RunTag(naming.TAG_MODEL_FAMILY, "segresnet")])
        client.set_terminated(run.info.run_id, "FINISHED")


if __name__ == "__main__":
    main()
