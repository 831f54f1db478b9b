"""Canned analytics across many runs: effect of a param, failures by error type, cost/metric frontier."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from minivess.pipelines.analytics.models import (
    CostFrontier,
    Direction,
    EffectGroup,
    FailedRun,
    FailureGroup,
    FailureSummary,
    FrontierPoint,
    ParamEffect,
)
from minivess.pipelines.analytics.queries import (
    BRIEF_COLUMNS,
    DEFAULT_STATUSES,
    brief,
    open_warehouse,
    records,
    resolve_direction,
)
from minivess.pipelines.analytics.warehouse import Warehouse
from minivess.pipelines.tracking import naming

logger = logging.getLogger(__name__)

_ERROR_TYPE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(?::\s*(.*))?$", re.DOTALL)


def param_effect(
    param: str,
    metric: str = naming.METRIC_VAL_DICE,
    *,
    direction: Direction | None = None,
    statuses: Sequence[str] = DEFAULT_STATUSES,
    warehouse: Warehouse | None = None,
    auto_sync: bool = True,
) -> ParamEffect:
    """Group runs by the value of one param; n, mean, std, min, max of each run's best metric value.

    Args:
        param: Param key, e.g. ``optim.lr`` or ``loss.name``.
        metric: Metric key whose per-run best value is summarised.
        direction: Override the metric's direction (which value of a run counts as its best).
        statuses: Run statuses included (default FINISHED).
        warehouse: The warehouse; default ``Warehouse()``.
        auto_sync: Sync first when the store changed.

    Returns:
        One group per param value (None: runs without the param), numeric values in numeric order.
    """
    direction = resolve_direction(metric, direction)
    pick = "arg_min" if direction == "min" else "arg_max"
    sql = f"""
        WITH v AS (
            SELECT r.run_id, p.value AS pval, s.{direction}_value AS best
            FROM runs r
            JOIN metric_summary s ON s.run_id = r.run_id AND s.key = ?
            LEFT JOIN params p ON p.run_id = r.run_id AND p.key = ?
            WHERE r.lifecycle_stage = 'active' AND list_contains(?, r.status)
              AND s.{direction}_value IS NOT NULL
        )
        SELECT pval, count(*) AS n, avg(best) AS mean, stddev_samp(best) AS std, min(best) AS lo,
               max(best) AS hi, {pick}(run_id, best) AS best_run
        FROM v GROUP BY pval
        ORDER BY pval IS NULL, TRY_CAST(pval AS DOUBLE) NULLS LAST, pval
    """
    with open_warehouse(warehouse, auto_sync) as con:
        rows = records(con, sql, [metric, param, list(statuses)])
    groups = [
        EffectGroup(
            value=r["pval"],
            n=r["n"],
            mean=r["mean"],
            std=r["std"],
            min=r["lo"],
            max=r["hi"],
            best_run=r["best_run"],
        )
        for r in rows
    ]
    return ParamEffect(param=param, metric=metric, direction=direction, statuses=list(statuses), groups=groups)


def split_error(tag: str | None) -> tuple[str, str | None]:
    """Split a ``minivess.error`` tag ``"<ExceptionType>: message"`` into (type, message).

    A missing tag or one not starting with an identifier gives type ``unknown`` and the whole tag as message.
    """
    if tag is None:
        return "unknown", None
    match = _ERROR_TYPE.match(tag)
    if match is None:
        return "unknown", tag
    return match.group(1), match.group(2)


def failures(
    *, experiment: str | None = None, warehouse: Warehouse | None = None, auto_sync: bool = True
) -> FailureSummary:
    """FAILED runs grouped by the exception type in their ``minivess.error`` tag, with their params.

    Args:
        experiment: Only runs of this experiment (name); default every experiment.
        warehouse: The warehouse; default ``Warehouse()``.
        auto_sync: Sync first when the store changed.
    """
    where = "r.status = 'FAILED' AND r.lifecycle_stage = 'active'"
    args: list[Any] = []
    if experiment is not None:
        where += " AND r.experiment_name = ?"
        args.append(experiment)
    with open_warehouse(warehouse, auto_sync) as con:
        rows = records(con, f"SELECT {BRIEF_COLUMNS} FROM runs r WHERE {where} ORDER BY r.start_time", args)
        ids = [r["run_id"] for r in rows]
        params = records(con, "SELECT run_id, key, value FROM params WHERE list_contains(?, run_id)", [ids])
    by_run: dict[str, dict[str, str | None]] = {}
    for p in params:
        by_run.setdefault(p["run_id"], {})[p["key"]] = p["value"]
    groups: dict[str, list[FailedRun]] = {}
    for row in rows:
        error_type, message = split_error(row["error"])
        groups.setdefault(error_type, []).append(
            FailedRun(run=brief(row), message=message, params=dict(sorted(by_run.get(row["run_id"], {}).items())))
        )
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return FailureSummary(
        total=len(rows),
        groups=[FailureGroup(error_type=t, count=len(runs), runs=runs) for t, runs in ordered],
    )


def cost_frontier(
    metric: str = naming.METRIC_VAL_DICE,
    *,
    direction: Direction | None = None,
    statuses: Sequence[str] = DEFAULT_STATUSES,
    warehouse: Warehouse | None = None,
    auto_sync: bool = True,
) -> CostFrontier:
    """Cost (run duration in minutes) against the best metric value, Pareto-optimal runs flagged.

    A run is on the frontier when every cheaper run (or one as cheap, listed before it) is worse.

    Args:
        metric: Metric key.
        direction: Override the metric's direction.
        statuses: Run statuses included (default FINISHED; running runs have no duration).
        warehouse: The warehouse; default ``Warehouse()``.
        auto_sync: Sync first when the store changed.
    """
    direction = resolve_direction(metric, direction)
    order = "ASC" if direction == "min" else "DESC"
    sql = f"""
        SELECT {BRIEF_COLUMNS}, s.{direction}_value AS value
        FROM runs r JOIN metric_summary s ON s.run_id = r.run_id AND s.key = ?
        WHERE r.lifecycle_stage = 'active' AND list_contains(?, r.status)
          AND r.duration_s IS NOT NULL AND s.{direction}_value IS NOT NULL
        ORDER BY r.duration_s ASC, value {order}, r.run_id
    """
    with open_warehouse(warehouse, auto_sync) as con:
        rows = records(con, sql, [metric, list(statuses)])
    points: list[FrontierPoint] = []
    best: float | None = None
    for row in rows:
        value = float(row["value"])
        better = best is None or (value < best if direction == "min" else value > best)
        if better:
            best = value
        points.append(FrontierPoint(run=brief(row), cost_min=row["duration_s"] / 60.0, value=value, pareto=better))
    if not points:
        logger.info("cost frontier: no %s runs with a duration and metric %r", "/".join(statuses), metric)
    return CostFrontier(metric=metric, direction=direction, points=points)
