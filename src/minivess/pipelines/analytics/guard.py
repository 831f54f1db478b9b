"""Guarded SQL over the warehouse: one parsed, allow-listed SELECT on a read-only, locked connection."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path
from typing import Any, Final

import duckdb

from minivess.errors import AnalyticsError
from minivess.pipelines.analytics.errors import SqlGuardError
from minivess.pipelines.analytics.limits import DEFAULT_ROW_CAP, DEFAULT_TIMEOUT_S
from minivess.pipelines.analytics.models import SqlResult
from minivess.pipelines.analytics.schema import public_names
from minivess.pipelines.analytics.warehouse import Warehouse

logger = logging.getLogger(__name__)

MAX_SQL_CHARS: Final = 20_000
MAX_CELL_CHARS: Final = 10_000

ALLOWED_TABLE_FUNCTIONS: Final = frozenset({"range", "generate_series", "unnest"})
DENIED_FUNCTIONS: Final = frozenset(
    {"getenv", "current_setting", "getvariable", "write_log", "sleep_ms", "pg_sleep", "setseed", "query",
     "query_table", "glob", "sniff_csv", "json_execute_serialized_sql", "checkpoint", "force_checkpoint"}
)  # fmt: skip
DENIED_FUNCTION_PREFIXES: Final = (
    "__internal",
    "read_",
    "duckdb_",
    "pragma_",
    "parquet_",
    "sqlite_",
    "enable_",
)
# Table references a query may use; query nodes (SELECT_NODE …) also carry a "sample" key.
_ALLOWED_REFS: Final = frozenset({"BASE_TABLE", "JOIN", "SUBQUERY", "EXPRESSION_LIST", "EMPTY", "TABLE_FUNCTION"})
_QUERY_NODES: Final = frozenset({"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"})


def _refuse(problem: str, warehouse: Warehouse) -> SqlGuardError:
    """The error a caller sees: the problem and the table names; ``for_model()`` adds each table's columns."""
    schema = warehouse.describe()
    return SqlGuardError(problem, schema.as_compact_text(), [t.name for t in schema.tables])


_PARSER_LOCK = threading.Lock()
_parser: duckdb.DuckDBPyConnection | None = None


def _parse_tree(statement: str) -> dict[str, Any]:
    """DuckDB's own parse tree of one SELECT (``json_serialize_sql``), from a private in-memory database.

    The database holds nothing and can reach nothing (external access off, configuration locked); it is
    kept for the process because opening one costs ~15 ms. The statement is a bound parameter, never
    spliced into SQL.
    """
    global _parser
    with _PARSER_LOCK:
        if _parser is None:
            _parser = duckdb.connect(
                ":memory:", config={"enable_external_access": False, "lock_configuration": True, "threads": 1}
            )
        raw = _parser.execute("SELECT json_serialize_sql($1::VARCHAR)", [statement]).fetchall()[0][0]
    try:
        tree: dict[str, Any] = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise SqlGuardError(f"The query could not be inspected ({exc}); simplify it.") from exc
    return tree


def _function_problem(node: dict[str, Any]) -> str | None:
    name = str(node.get("function_name", "")).lower()
    if name in DENIED_FUNCTIONS or name.startswith(DENIED_FUNCTION_PREFIXES):
        return f"function {name}() is not allowed"
    return None


def _ref_problem(node: dict[str, Any], scope: frozenset[str], allowed: frozenset[str], catalog: str) -> str | None:
    kind = node.get("type")
    if kind in _QUERY_NODES:
        return None
    if kind not in _ALLOWED_REFS:
        return f"{str(kind).replace('_', ' ').lower()} is not allowed (use a plain SELECT over the tables)"
    if kind == "BASE_TABLE":
        name = str(node.get("table_name", "")).lower()
        schema = str(node.get("schema_name", "")).lower()
        cat = str(node.get("catalog_name", "")).lower()
        if name in scope and not schema and not cat:
            return None
        if name not in allowed or schema not in ("", "main") or cat not in ("", catalog):
            shown = ".".join(p for p in (cat, schema, name) if p)
            return f"table {shown!r} is not one of the warehouse's tables"
    if kind == "TABLE_FUNCTION":
        function = node.get("function") or {}
        name = str(function.get("function_name", "")).lower()
        if name not in ALLOWED_TABLE_FUNCTIONS or function.get("schema") or function.get("catalog"):
            return f"table function {name}() is not allowed (only {', '.join(sorted(ALLOWED_TABLE_FUNCTIONS))})"
    return None


def tree_problems(tree: dict[str, Any], allowed: frozenset[str], catalog: str) -> list[str]:
    """Every rule the parse tree breaks (empty: the query may run).

    Walks iteratively (parse trees can be ~1000 levels deep). CTE names are in scope only below the
    node that defines them, so a CTE cannot smuggle in a system table of the same name elsewhere.
    """
    problems: list[str] = []
    stack: list[tuple[Any, frozenset[str]]] = [(tree.get("statements", []), frozenset())]
    while stack:
        node, scope = stack.pop()
        if isinstance(node, list):
            stack.extend((item, scope) for item in node)
            continue
        if not isinstance(node, dict):
            continue
        cte_map = node.get("cte_map")
        if isinstance(cte_map, dict):
            names = {str(e.get("key", "")).lower() for e in cte_map.get("map", []) if isinstance(e, dict)}
            scope = scope | names
        if node.get("class") == "FUNCTION" and (problem := _function_problem(node)):
            problems.append(problem)
        if "sample" in node and "type" in node and (problem := _ref_problem(node, scope, allowed, catalog)):
            problems.append(problem)
        stack.extend((value, scope) for value in node.values() if isinstance(value, dict | list))
    return problems


def check_sql(sql: str, *, allowed: frozenset[str] | None = None, catalog: str = "warehouse") -> str:
    """Validate a query without running it; return the single statement to run.

    Rules: text under ``MAX_SQL_CHARS`` without NUL bytes; DuckDB's parser finds exactly one statement
    and it is a SELECT; its parse tree reads only allowed tables/views (or its own CTEs), only the
    allowed table functions, and no denied function.

    Args:
        sql: The query text.
        allowed: Lower-case table/view names that may be read; default the warehouse's public ones.
        catalog: The warehouse's catalog name (a qualified ``catalog.main.table`` is accepted).

    Raises:
        SqlGuardError: The query breaks a rule (message without the schema; ``run_sql`` adds it).
    """
    if not isinstance(sql, str) or not sql.strip():
        raise SqlGuardError("Empty query: write one SELECT statement.")
    if len(sql) > MAX_SQL_CHARS or "\x00" in sql:
        raise SqlGuardError(f"The query must be text under {MAX_SQL_CHARS} characters without NUL bytes.")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlGuardError(f"The query does not parse: {exc}") from exc
    if len(statements) != 1:
        raise SqlGuardError(f"Send exactly one statement; found {len(statements)}.")
    statement = statements[0]
    try:
        kind = statement.type.name
    except ValueError:  # a statement type the Python enum does not know (e.g. UPDATE EXTENSIONS)
        kind = "unknown"
    if kind != "SELECT":
        raise SqlGuardError(f"Only SELECT queries may run; this is a {kind} statement.")
    tree = _parse_tree(statement.query)
    if tree.get("error") or len(tree.get("statements", [])) != 1:
        detail = tree.get("error_message", "not a single plain SELECT")
        raise SqlGuardError(f"Only plain SELECT queries may run (no PIVOT/DESCRIBE/SHOW forms): {detail}.")
    problems = tree_problems(tree, allowed if allowed is not None else public_names(), catalog.lower())
    if problems:
        raise SqlGuardError("Query refused: " + "; ".join(sorted(set(problems))) + ".")
    return str(statement.query)


def _cell(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        return value[:MAX_CELL_CHARS] + "…"
    return value


def run_sql(
    sql: str,
    *,
    warehouse: Warehouse | None = None,
    row_cap: int = DEFAULT_ROW_CAP,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    auto_sync: bool = True,
) -> SqlResult:
    """Run one guarded SELECT against the warehouse.

    The statement is checked by ``check_sql`` and then runs on a read-only connection with external
    access disabled and the configuration locked. At most ``row_cap`` rows come back (``truncated``
    says when there were more); a timer interrupts the query after ``timeout_s``.

    Args:
        sql: One SELECT statement.
        warehouse: The warehouse; default ``Warehouse()``.
        row_cap: Most rows returned (1 to 100,000).
        timeout_s: Seconds before the query is interrupted (0.1 to 300).
        auto_sync: Sync first when the store changed.

    Raises:
        SqlGuardError: Refused, failed or timed out; the message names the allowed tables, ``for_model()``
            lists their columns.
    """
    if not 1 <= row_cap <= 100_000 or not 0.1 <= timeout_s <= 300:
        raise AnalyticsError("row_cap must be within 1..100000 and timeout_s within 0.1..300.")
    wh = warehouse or Warehouse()
    try:
        statement = check_sql(sql, catalog=Path(wh.path).stem)
    except SqlGuardError as exc:
        raise _refuse(exc.problem, wh) from exc
    started = time.perf_counter()
    failure: str | None = None
    with wh.fresh_reader(auto_sync=auto_sync) as con:
        timer = threading.Timer(timeout_s, con.interrupt)
        timer.daemon = True
        timer.start()
        try:
            cursor = con.execute(statement)
            rows = cursor.fetchmany(row_cap + 1)
            columns = [d[0] for d in cursor.description or []]
            types = [str(d[1]) for d in cursor.description or []]
        except duckdb.InterruptException:
            failure = f"The query ran longer than {timeout_s:g} s and was stopped; add filters or a LIMIT."
        except duckdb.Error as exc:
            failure = f"DuckDB could not run the query: {exc}"
        finally:
            timer.cancel()
    if failure is not None:
        raise _refuse(failure, wh)
    return SqlResult(
        sql=statement,
        columns=columns,
        types=types,
        rows=[[_cell(v) for v in row] for row in rows[:row_cap]],
        truncated=len(rows) > row_cap,
        row_cap=row_cap,
        seconds=round(time.perf_counter() - started, 4),
    )
