"""Canned analytics over runs: leaderboard, run comparison and learning curves."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import duckdb

from minivess.errors import AnalyticsError
from minivess.pipelines.analytics.models import (
    CurveSeries,
    Direction,
    Leaderboard,
    LeaderboardRow,
    LearningCurves,
    MetricCell,
    MetricComparison,
    ParamDiff,
    RunBrief,
    RunComparison,
)
from minivess.pipelines.analytics.warehouse import Warehouse
from minivess.pipelines.tracking import naming

logger = logging.getLogger(__name__)

DEFAULT_STATUSES: tuple[str, ...] = ("FINISHED",)
BRIEF_COLUMNS = "r.run_id, r.run_name, r.experiment_name, r.model_family, r.status, r.start_time, r.duration_s, r.error"


def metric_direction(key: str) -> Direction:
    """'min' for the metrics in ``naming.LOWER_IS_BETTER``, 'max' for every other metric."""
    return "min" if key in naming.LOWER_IS_BETTER else "max"


def resolve_direction(metric: str, direction: str | None) -> Direction:
    """The metric's direction, or a validated override (it selects SQL columns, so it is checked here).

    Raises:
        AnalyticsError: The override is neither 'min' nor 'max'.
    """
    if direction is None:
        return metric_direction(metric)
    if direction == "min":
        return "min"
    if direction == "max":
        return "max"
    raise AnalyticsError(f"direction must be 'min' or 'max', got {direction!r}.")


@contextmanager
def open_warehouse(warehouse: Warehouse | None, auto_sync: bool) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection, after syncing when the store changed (``auto_sync``)."""
    with (warehouse or Warehouse()).fresh_reader(auto_sync=auto_sync) as con:
        yield con


def records(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Run a trusted query and return its rows as dicts."""
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def brief(row: dict[str, Any]) -> RunBrief:
    """A RunBrief from a row holding ``BRIEF_COLUMNS``."""
    return RunBrief(
        run_id=row["run_id"],
        run_name=row["run_name"],
        experiment=row["experiment_name"],
        model_family=row["model_family"],
        status=row["status"],
        start_time=row["start_time"],
        duration_s=row["duration_s"],
        error=row["error"],
    )


def resolve_runs(con: duckdb.DuckDBPyConnection, refs: Sequence[str]) -> list[str]:
    """Turn run ids, unique id prefixes (≥ 4 chars) or unique run names into run ids.

    Raises:
        AnalyticsError: A reference matches no run or several.
    """
    resolved: list[str] = []
    for ref in refs:
        found: list[str] = []
        for sql in (
            "SELECT run_id FROM runs WHERE run_id = ?",
            "SELECT run_id FROM runs WHERE run_name = ?",
            "SELECT run_id FROM runs WHERE starts_with(run_id, ?) AND length(?) >= 4",
        ):
            args = [ref] * sql.count("?")
            found = sorted(r[0] for r in con.execute(sql, args).fetchall())
            if found:
                break
        if len(found) != 1:
            what = "no run" if not found else f"{len(found)} runs ({', '.join(found[:5])})"
            raise AnalyticsError(
                f"Run {ref!r} matches {what}. Give a run id, a unique id prefix (≥ 4 characters) or a "
                'unique run name; `minivess runs sql "SELECT run_id, run_name FROM runs"` lists them.'
            )
        resolved.append(found[0])
    return resolved


def leaderboard(
    metric: str = naming.METRIC_VAL_DICE,
    *,
    by: Literal["family", "none"] = "family",
    limit: int = 20,
    direction: Direction | None = None,
    statuses: Sequence[str] = DEFAULT_STATUSES,
    experiment: str | None = None,
    warehouse: Warehouse | None = None,
    auto_sync: bool = True,
) -> Leaderboard:
    """Best run per model family (or the best runs overall) by the best value of one metric.

    Args:
        metric: Metric key, e.g. ``val_cldice``.
        by: ``family`` groups by the ``minivess.model_family`` tag (one row per family); ``none`` ranks runs.
        limit: Most rows returned.
        direction: Override the metric's direction (default from ``metric_direction``).
        statuses: Run statuses that compete (default FINISHED only).
        experiment: Only runs of this experiment (name); default every experiment.
        warehouse: The warehouse; default ``Warehouse()``.
        auto_sync: Sync first when the store changed.

    Returns:
        Rows best first; each with the step (epoch) where the run peaked.
    """
    if limit < 1:
        raise AnalyticsError(f"limit must be at least 1, got {limit}.")
    direction = resolve_direction(metric, direction)
    sql = _leaderboard_sql(direction, grouped=by == "family", experiment=experiment is not None)
    args: list[Any] = [metric, list(statuses)] + ([experiment] if experiment is not None else []) + [limit]
    with open_warehouse(warehouse, auto_sync) as con:
        rows = records(con, sql, args)
    return Leaderboard(
        metric=metric,
        direction=direction,
        by=by,
        statuses=list(statuses),
        rows=[
            LeaderboardRow(
                rank=i,
                group=row["grp"],
                run=brief(row),
                best_value=row["best_value"],
                best_step=row["best_step"],
                last_value=row["last_value"],
                runs_in_group=row["n_group"],
            )
            for i, row in enumerate(rows, start=1)
        ],
    )


def _leaderboard_sql(direction: Direction, *, grouped: bool, experiment: bool) -> str:
    """Parameters: metric, statuses, [experiment], limit."""
    order = "ASC" if direction == "min" else "DESC"
    group = "r.model_family" if grouped else "NULL"
    filters = "AND r.experiment_name = ?" if experiment else ""
    return f"""
        WITH c AS (
            SELECT {BRIEF_COLUMNS}, s.{direction}_value AS best_value, s.{direction}_step AS best_step,
                   s.last_value, {group} AS grp,
                   row_number() OVER (PARTITION BY {group}
                       ORDER BY s.{direction}_value {order}, r.start_time, r.run_id) AS rn,
                   count(*) OVER (PARTITION BY {group}) AS n_group
            FROM runs r JOIN metric_summary s ON s.run_id = r.run_id AND s.key = ?
            WHERE r.lifecycle_stage = 'active' AND list_contains(?, r.status)
              AND s.{direction}_value IS NOT NULL {filters}
        )
        SELECT * FROM c WHERE {"rn = 1" if grouped else "TRUE"}
        ORDER BY best_value {order}, start_time, run_id LIMIT ?
    """


def compare_runs(
    runs: Sequence[str],
    *,
    metrics: Sequence[str] | None = None,
    only_differences: bool = False,
    warehouse: Warehouse | None = None,
    auto_sync: bool = True,
) -> RunComparison:
    """Params side by side (with a differs flag) and the best/last value of every metric per run.

    Args:
        runs: Run ids, unique id prefixes or unique run names (one run gives its details).
        metrics: Metric keys to show; default every metric any of the runs logged.
        only_differences: Keep only the params whose values differ.
        warehouse: The warehouse; default ``Warehouse()``.
        auto_sync: Sync first when the store changed.

    Raises:
        AnalyticsError: No run given, or a reference matching no run or several.
    """
    if not runs:
        raise AnalyticsError("Compare needs at least one run (two or more to compare).")
    with open_warehouse(warehouse, auto_sync) as con:
        ids = resolve_runs(con, runs)
        briefs = {r["run_id"]: brief(r) for r in records(
            con, f"SELECT {BRIEF_COLUMNS} FROM runs r WHERE list_contains(?, r.run_id)", [ids]
        )}  # fmt: skip
        param_rows = records(con, "SELECT run_id, key, value FROM params WHERE list_contains(?, run_id)", [ids])
        metric_rows = records(con, "SELECT * FROM metric_summary WHERE list_contains(?, run_id)", [ids])
    params: dict[str, dict[str, str | None]] = {}
    for row in param_rows:
        params.setdefault(row["key"], {})[row["run_id"]] = row["value"]
    diffs = []
    for key in sorted(params):
        values = {run_id: params[key].get(run_id) for run_id in ids}
        differs = len(set(values.values())) > 1
        if differs or not only_differences:
            diffs.append(ParamDiff(key=key, values=values, differs=differs))
    return RunComparison(runs=[briefs[i] for i in ids], params=diffs, metrics=_metric_table(ids, metric_rows, metrics))


def _metric_table(ids: list[str], rows: list[dict[str, Any]], wanted: Sequence[str] | None) -> list[MetricComparison]:
    by_key: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_key.setdefault(row["key"], {})[row["run_id"]] = row
    keys = list(wanted) if wanted is not None else sorted(by_key)
    table = []
    for key in keys:
        direction = metric_direction(key)
        cells: dict[str, MetricCell | None] = {}
        for run_id in ids:
            found = by_key.get(key, {}).get(run_id)
            cells[run_id] = None if found is None else MetricCell(
                best_value=found["best_value"], best_step=found["best_step"], last_value=found["last_value"],
                last_step=found["last_step"], n_values=found["n_values"],
            )  # fmt: skip
        scored = [(c.best_value, run_id) for run_id, c in cells.items() if c is not None and c.best_value is not None]
        # Best first; ties go to the run listed first.
        scored.sort(key=lambda s: s[0] if direction == "min" else -s[0])
        best = scored[0][1] if scored else None
        table.append(MetricComparison(key=key, direction=direction, cells=cells, best_run=best))
    return table


def learning_curves(
    runs: Sequence[str],
    metrics: Sequence[str] = (naming.METRIC_VAL_DICE,),
    *,
    warehouse: Warehouse | None = None,
    auto_sync: bool = True,
) -> LearningCurves:
    """Full per-step histories of some metrics for some runs (write a PNG with ``plot_learning_curves``).

    Args:
        runs: Run ids, unique id prefixes or unique run names.
        metrics: Metric keys.
        warehouse: The warehouse; default ``Warehouse()``.
        auto_sync: Sync first when the store changed.
    """
    if not runs or not metrics:
        raise AnalyticsError("Learning curves need at least one run and one metric.")
    with open_warehouse(warehouse, auto_sync) as con:
        ids = resolve_runs(con, runs)
        names = dict(con.execute("SELECT run_id, run_name FROM runs WHERE list_contains(?, run_id)", [ids]).fetchall())
        rows = con.execute(
            "SELECT run_id, key, step, value FROM metrics "
            "WHERE list_contains(?, run_id) AND list_contains(?, key) ORDER BY run_id, key, step, timestamp",
            [ids, list(metrics)],
        ).fetchall()
    points: dict[tuple[str, str], tuple[list[int], list[float | None]]] = {}
    for run_id, key, step, value in rows:
        steps, values = points.setdefault((run_id, key), ([], []))
        steps.append(step)
        values.append(value)
    series = [
        CurveSeries(run_id=run_id, run_name=names.get(run_id), key=key, steps=pts[0], values=pts[1])
        for run_id in ids
        for key in metrics
        if (pts := points.get((run_id, key))) is not None
    ]
    return LearningCurves(metrics=list(metrics), series=series)
