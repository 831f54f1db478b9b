"""Compare an agent's answer table with an expected result set: order-insensitive, column names ignored.

A tool result (SQL rows, a leaderboard, a failure summary …) becomes a list of row dicts; the expected answer is
the rows of SQL we wrote. They match when some choice of the agent's columns — one per expected column, found by
their values — gives the same multiset of rows. Extra columns (a count next to an average, a run name next to a
run id) do not matter; numbers match within a relative 1e-3 (agents round), text must be equal.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

Value = str | float | None
MAX_ASSIGNMENTS: Final = 512
REL_TOL: Final = 1e-3
ABS_TOL: Final = 1e-4


def normalise(value: Any) -> Value:
    """A comparable scalar: numbers → float, NaN → None, dates → ISO text, lists/dicts → JSON text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float | Decimal):
        number = float(value)
        return None if math.isnan(number) else number
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def same(a: Value, b: Value) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return a == b


def _key(value: Value) -> tuple[int, float, str]:
    if value is None:
        return (0, 0.0, "")
    if isinstance(value, float):
        return (1, value, "")
    return (2, 0.0, value)


def _same_multiset(a: Sequence[Sequence[Value]], b: Sequence[Sequence[Value]]) -> bool:
    if len(a) != len(b):
        return False
    left = sorted(a, key=lambda row: [_key(v) for v in row])
    right = sorted(b, key=lambda row: [_key(v) for v in row])
    return all(
        len(x) == len(y) and all(same(p, q) for p, q in zip(x, y, strict=True))
        for x, y in zip(left, right, strict=True)
    )


def table(rows: Sequence[dict[str, Any]]) -> dict[str, list[Value]]:
    """Row dicts → column name → normalised values (a missing key is None)."""
    names = list(dict.fromkeys(key for row in rows for key in row))
    return {name: [normalise(row.get(name)) for row in rows] for name in names}


def matching_columns(expected: Sequence[Sequence[Value]], got: Sequence[dict[str, Any]]) -> list[str] | None:
    """The agent's columns that reproduce the expected rows (one per expected column), or None if none do."""
    if len(expected) != len(got):
        return None
    if not expected:
        return []
    columns = table(got)
    width = len(expected[0])
    candidates = []
    for j in range(width):
        wanted = [[row[j]] for row in expected]
        found = [name for name, values in columns.items() if _same_multiset(wanted, [[v] for v in values])]
        if not found:
            return None
        candidates.append(found)
    for choice in itertools.islice(itertools.product(*candidates), MAX_ASSIGNMENTS):
        projected = [[columns[name][i] for name in choice] for i in range(len(got))]
        if _same_multiset(expected, projected):
            return list(choice)
    return None


def _brief(run: dict[str, Any]) -> dict[str, Any]:
    return {k: run.get(k) for k in ("run_id", "run_name", "model_family", "status", "experiment", "duration_s")}


def rows_from_result(tool: str, result: Any) -> list[dict[str, Any]]:
    """A tool's JSON result as rows (what the agent would show as a table); [] for results that are not tables."""
    if not isinstance(result, dict):
        return []
    if tool == "query_runs":
        return [dict(zip(result.get("columns", []), row, strict=False)) for row in result.get("rows", [])]
    if tool == "leaderboard":
        return [
            {"rank": r["rank"], "group": r["group"], **_brief(r["run"]), "best_value": r["best_value"],
             "best_step": r["best_step"], "last_value": r["last_value"]}
            for r in result.get("rows", [])
        ]  # fmt: skip
    if tool == "failure_summary":
        return [
            {**_brief(run["run"]), "error_type": group["error_type"], "message": run["message"],
             **{f"param:{k}": v for k, v in run.get("params", {}).items()}}
            for group in result.get("groups", []) for run in group["runs"]
        ]  # fmt: skip
    if tool == "param_effect":
        return [dict(group) for group in result.get("groups", [])]
    if tool in ("compare_runs", "get_run"):
        return [_brief(run) for run in result.get("runs", [])]
    if tool == "describe_warehouse":
        return [{"table": t["name"]} for t in result.get("tables", [])]
    return []
