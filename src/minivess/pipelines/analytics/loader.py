"""Write synced store data into the DuckDB warehouse (called inside one transaction by sync)."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import duckdb
import pyarrow as pa

from minivess.pipelines.analytics.schema import (
    FINGERPRINT_TABLE,
    PARAMS_WIDE_VIEW,
    SCHEMA_VERSION,
    STATE_DDL,
    STATE_TABLE,
    TABLES,
    quote_identifier,
    quote_literal,
    table_ddl,
)
from minivess.pipelines.analytics.sources import Catalog, KeyValueRow, MetricRow, RunRow
from minivess.pipelines.tracking import naming

logger = logging.getLogger(__name__)

MAX_WIDE_COLUMNS = 1000
RUN_TABLES = ("runs", "params", "tags", "metrics", "metric_summary")

_STR = pa.string()
_I64 = pa.int64()


def _arrow(rows: Sequence[Sequence[Any]], schema: list[tuple[str, pa.DataType]]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    return pa.table({name: pa.array(list(col), type=typ) for (name, typ), col in zip(schema, columns, strict=True)})


def ensure_schema(con: duckdb.DuckDBPyConnection) -> bool:
    """Create missing tables; drop and recreate everything when the schema version changed.

    Returns:
        True when the warehouse was (re)created empty, so the next sync must be full.
    """
    for ddl in STATE_DDL:
        con.execute(ddl)
    row = con.execute(f"SELECT value FROM {STATE_TABLE} WHERE key = 'schema_version'").fetchall()
    stale = not row or row[0][0] != str(SCHEMA_VERSION)
    if stale:
        con.execute(f"DROP VIEW IF EXISTS {PARAMS_WIDE_VIEW}")
        for table in TABLES:
            con.execute(f"DROP TABLE IF EXISTS {table.name}")
        con.execute(f"DELETE FROM {STATE_TABLE}")
        con.execute(f"DELETE FROM {FINGERPRINT_TABLE}")
    for table in TABLES:
        con.execute(table_ddl(table))
    return stale


def read_state(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The sync bookkeeping (source id, store signature, last sync time, schema version)."""
    return dict(con.execute(f"SELECT key, value FROM {STATE_TABLE}").fetchall())


def write_state(con: duckdb.DuckDBPyConnection, state: dict[str, str]) -> None:
    """Replace the sync bookkeeping."""
    con.execute(f"DELETE FROM {STATE_TABLE}")
    con.executemany(f"INSERT INTO {STATE_TABLE} VALUES (?, ?)", sorted(state.items()))


def read_fingerprints(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Run id → fingerprint stored by the last sync."""
    return dict(con.execute(f"SELECT run_id, fingerprint FROM {FINGERPRINT_TABLE}").fetchall())


def write_fingerprints(con: duckdb.DuckDBPyConnection, touched: Collection[str], new: dict[str, str]) -> None:
    """Replace the fingerprints of the touched runs by their new ones (removed runs get none)."""
    con.register("_stage_fp", _arrow([(r, new[r]) for r in touched if r in new], [("r", _STR), ("f", _STR)]))
    con.execute(f"DELETE FROM {FINGERPRINT_TABLE} WHERE run_id IN (SELECT run_id FROM _stage_ids)")
    con.execute(f"INSERT INTO {FINGERPRINT_TABLE} SELECT r, f FROM _stage_fp")
    con.unregister("_stage_fp")


def delete_runs(con: duckdb.DuckDBPyConnection, run_ids: Collection[str]) -> None:
    """Register the touched run ids as ``_stage_ids`` and delete their rows from every run table."""
    con.register("_stage_ids", _arrow([(r,) for r in sorted(run_ids)], [("run_id", _STR)]))
    for table in RUN_TABLES:
        con.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT run_id FROM _stage_ids)")


def write_catalog(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    """Replace experiments and the registry, then refresh every run's experiment name."""
    staged: dict[str, tuple[Sequence[Sequence[Any]], list[str], list[int], list[int]]] = {
        "experiments": (catalog.experiments, ["id", "name", "loc", "stage", "c", "u"], [0, 1, 2, 3], [4, 5]),
        "registered_models": (catalog.registered_models, ["name", "descr", "c", "u"], [0, 1], [2, 3]),
        "model_versions": (
            catalog.model_versions,
            ["name", "version", "run_id", "source", "status", "stage", "descr", "c", "u"],
            [0, 2, 3, 4, 5, 6],
            [7, 8],
        ),
        "model_aliases": (catalog.aliases, ["name", "alias", "version"], [0, 1], []),
    }
    for table, (rows, names, str_cols, time_cols) in staged.items():
        schema = [(n, _STR if i in str_cols else _I64) for i, n in enumerate(names)]
        con.register("_stage_cat", _arrow([_stringify(r, str_cols) for r in rows], schema))
        select = ", ".join(f"epoch_ms({n})" if i in time_cols else n for i, n in enumerate(names))
        con.execute(f"DELETE FROM {table}")
        con.execute(f"INSERT INTO {table} SELECT {select} FROM _stage_cat")
        con.unregister("_stage_cat")
    con.execute(
        "UPDATE runs SET experiment_name = e.name FROM experiments e "
        "WHERE runs.experiment_id = e.experiment_id AND runs.experiment_name IS DISTINCT FROM e.name"
    )


def _stringify(row: Sequence[Any], str_cols: list[int]) -> tuple[Any, ...]:
    return tuple(None if v is None else (str(v) if i in str_cols else int(v)) for i, v in enumerate(row))


def write_runs(
    con: duckdb.DuckDBPyConnection, runs: list[RunRow], params: list[KeyValueRow], tags: list[KeyValueRow]
) -> None:
    """Insert runs (tags lifted into columns), params and tags; ``_stage_ids`` must be registered."""
    run_schema = [
        ("run_id", _STR), ("experiment_id", _STR), ("run_name", _STR), ("status", _STR), ("lifecycle", _STR),
        ("user_id", _STR), ("start_ms", _I64), ("end_ms", _I64), ("artifact_uri", _STR),
    ]  # fmt: skip
    kv_schema = [("run_id", _STR), ("key", _STR), ("value", _STR)]
    con.register("_stage_runs", _arrow(runs, run_schema))
    con.register("_stage_params", _arrow(params, kv_schema))
    con.register("_stage_tags", _arrow(tags, kv_schema))
    lifted = ", ".join(
        f"max(value) FILTER (WHERE key = {quote_literal(tag)}) AS {alias}"
        for tag, alias in (
            (naming.TAG_MODEL_FAMILY, "model_family"),
            (naming.TAG_LOSS, "loss"),
            (naming.TAG_RUN_KIND, "run_kind"),
            (naming.TAG_ERROR, "error"),
        )
    )
    con.execute(f"""
        INSERT INTO runs
        SELECT s.run_id, s.experiment_id, e.name, s.run_name, s.status, s.lifecycle, s.user_id,
               epoch_ms(s.start_ms), epoch_ms(s.end_ms),
               CASE WHEN s.end_ms IS NOT NULL AND s.start_ms IS NOT NULL
                    THEN (s.end_ms - s.start_ms) / 1000.0 END,
               t.model_family, t.loss, t.run_kind, t.error, s.artifact_uri
        FROM _stage_runs s
        LEFT JOIN experiments e ON e.experiment_id = s.experiment_id
        LEFT JOIN (SELECT run_id, {lifted} FROM _stage_tags GROUP BY run_id) t ON t.run_id = s.run_id
    """)
    con.execute("INSERT INTO params SELECT run_id, key, value, TRY_CAST(value AS DOUBLE) FROM _stage_params")
    con.execute("INSERT INTO tags SELECT run_id, key, value FROM _stage_tags")
    for name in ("_stage_runs", "_stage_params", "_stage_tags"):
        con.unregister(name)


def write_metrics(con: duckdb.DuckDBPyConnection, chunks: Iterable[list[MetricRow]]) -> int:
    """Append metric history chunks; returns how many rows were written."""
    schema = [("run_id", _STR), ("key", _STR), ("step", _I64), ("ts", _I64), ("value", pa.float64())]
    written = 0
    for chunk in chunks:
        con.register("_stage_metrics", _arrow(chunk, schema))
        con.execute("INSERT INTO metrics SELECT run_id, key, step, epoch_ms(ts), value FROM _stage_metrics")
        con.unregister("_stage_metrics")
        written += len(chunk)
    return written


def write_summaries(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute best/last/min/max per (run, metric) for the runs in ``_stage_ids``."""
    lower = ", ".join(quote_literal(k) for k in sorted(naming.LOWER_IS_BETTER))
    con.execute(f"""
        INSERT INTO metric_summary
        WITH m AS (
            SELECT run_id, key, step, timestamp, value,
                   CASE WHEN key IN ({lower}) THEN 'min' ELSE 'max' END AS direction,
                   row_number() OVER (PARTITION BY run_id, key
                       ORDER BY value ASC NULLS LAST, step, timestamp) AS min_rank,
                   row_number() OVER (PARTITION BY run_id, key
                       ORDER BY value DESC NULLS LAST, step, timestamp) AS max_rank,
                   row_number() OVER (PARTITION BY run_id, key
                       ORDER BY step DESC, timestamp DESC, value DESC NULLS FIRST) AS last_rank
            FROM metrics WHERE run_id IN (SELECT run_id FROM _stage_ids)
        )
        SELECT run_id, key, any_value(direction),
               any_value(value) FILTER (WHERE (direction = 'min' AND min_rank = 1)
                                            OR (direction = 'max' AND max_rank = 1)),
               any_value(step) FILTER (WHERE value IS NOT NULL AND ((direction = 'min' AND min_rank = 1)
                                            OR (direction = 'max' AND max_rank = 1))),
               any_value(timestamp) FILTER (WHERE value IS NOT NULL AND ((direction = 'min' AND min_rank = 1)
                                            OR (direction = 'max' AND max_rank = 1))),
               any_value(value) FILTER (WHERE last_rank = 1),
               any_value(step) FILTER (WHERE last_rank = 1),
               min(value),
               any_value(step) FILTER (WHERE min_rank = 1 AND value IS NOT NULL),
               max(value),
               any_value(step) FILTER (WHERE max_rank = 1 AND value IS NOT NULL),
               count(*)
        FROM m GROUP BY run_id, key
    """)


def rebuild_params_wide(con: duckdb.DuckDBPyConnection) -> int:
    """Recreate the typed wide params view from the keys and values now in ``params``.

    A key's column is BOOLEAN, BIGINT or DOUBLE when every non-empty value (ignoring 'None'/'null')
    parses as one, else VARCHAR.

    Returns:
        The number of parameter columns.
    """
    kinds = con.execute("""
        SELECT key,
               bool_and(lower(trim(value)) IN ('true', 'false')) FILTER (WHERE NOT null_like),
               bool_and(regexp_full_match(trim(value), '[+-]?[0-9]+')
                        AND TRY_CAST(value AS BIGINT) IS NOT NULL) FILTER (WHERE NOT null_like),
               bool_and(TRY_CAST(value AS DOUBLE) IS NOT NULL) FILTER (WHERE NOT null_like)
        FROM (SELECT key, value,
                     value IS NULL OR lower(trim(value)) IN ('', 'none', 'null') AS null_like FROM params)
        GROUP BY key ORDER BY key
    """).fetchall()
    seen = {"run_id"}
    columns: list[str] = []
    for key, is_bool, is_int, is_num in kinds:
        if key.lower() in seen or len(columns) >= MAX_WIDE_COLUMNS:
            logger.warning("params_wide: skipping parameter column %r (duplicate name or too many keys)", key)
            continue
        seen.add(key.lower())
        typ = "BOOLEAN" if is_bool else "BIGINT" if is_int else "DOUBLE" if is_num else "VARCHAR"
        pick = f"max(p.value) FILTER (WHERE p.key = {quote_literal(key)})"
        expr = pick if typ == "VARCHAR" else f"TRY_CAST({pick} AS {typ})"
        columns.append(f"{expr} AS {quote_identifier(key)}")
    select = ", ".join(["r.run_id", *columns])
    con.execute(
        f"CREATE OR REPLACE VIEW {PARAMS_WIDE_VIEW} AS SELECT {select} "
        "FROM runs r LEFT JOIN params p ON p.run_id = r.run_id GROUP BY r.run_id"
    )
    return len(columns)
