"""The SQL guard: allowed queries answer; ≥ 200 hostile statements change and leak nothing."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minivess.errors import AnalyticsError
from minivess.pipelines.analytics import SqlGuardError, SqlResult, Warehouse, check_sql, describe, run_sql
from minivess.pipelines.analytics.schema import TABLES
from tests.unit.pipelines.analytics.hostile_sql import BOUNDED, hostile_statements
from tests.unit.pipelines.analytics.mlflow_store import StoreInfo

SECRET = "TOP-SECRET-MARKER-7f3a"
CAP = 50
TIMEOUT_S = 1.0


@dataclass
class Arena:
    """A synced warehouse plus a secret file and an output folder hostile SQL aims at."""

    warehouse: Warehouse
    secret: Path
    out: Path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): _sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def arena(store: StoreInfo, tmp_path: Path, minivess_home: Path) -> Iterator[Arena]:
    """Sync, fingerprint every file under the home, run the test, then prove nothing changed."""
    wh = Warehouse()
    wh.sync()
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{SECRET}\n{SECRET},x\n")
    out = tmp_path / "out"
    out.mkdir()
    before_home = _tree(minivess_home)
    before_warehouse = _sha256(wh.path)
    yield Arena(wh, secret, out)
    assert _sha256(wh.path) == before_warehouse
    assert _tree(minivess_home) == before_home, "a file under MINIVESS_HOME was created or changed"
    assert list(out.iterdir()) == [], "hostile SQL wrote a file"
    assert secret.read_text() == f"{SECRET}\n{SECRET},x\n"


def _attack(arena: Arena, sql: str) -> SqlResult | SqlGuardError:
    try:
        result = run_sql(sql, warehouse=arena.warehouse, row_cap=CAP, timeout_s=TIMEOUT_S, auto_sync=False)
    except SqlGuardError as exc:
        assert exc.problem.strip() and "minivess runs schema" in str(exc) and "metric_summary" in str(exc)
        assert "Allowed tables and columns:" in exc.for_model() and "metric_summary(run_id" in exc.schema_text
        return exc
    assert len(result.rows) <= CAP
    assert SECRET not in repr(result.rows)
    return result


def test_guard_answers_plain_selects(arena: Arena, store: StoreInfo) -> None:
    result = run_sql(
        "SELECT run_id, status FROM runs WHERE status = 'FAILED' ORDER BY run_id", warehouse=arena.warehouse
    )
    assert result.columns == ["run_id", "status"]
    assert [r[0] for r in result.rows] == sorted(store.failed) and not result.truncated
    cte = run_sql(
        "WITH best AS (SELECT run_id, best_value FROM metric_summary WHERE key = 'val_dice') "
        "SELECT r.model_family, max(b.best_value) AS top FROM best b JOIN runs r USING (run_id) GROUP BY ALL",
        warehouse=arena.warehouse,
    )
    assert cte.columns == ["model_family", "top"] and len(cte.rows) == 3
    wide = run_sql(
        'SELECT p."optim.lr" FROM params_wide p JOIN main.runs USING (run_id) LIMIT 1', warehouse=arena.warehouse
    )
    assert isinstance(wide.rows[0][0], float)
    assert run_sql("SELECT count(*) FROM warehouse.main.runs; ", warehouse=arena.warehouse).rows[0][0] > 0
    assert run_sql("FROM range(3) SELECT range * 2", warehouse=arena.warehouse).rows == [[0], [2], [4]]


def test_row_cap_sets_truncated(arena: Arena) -> None:
    result = run_sql("SELECT * FROM metrics", warehouse=arena.warehouse, row_cap=7)
    assert len(result.rows) == 7 and result.truncated
    assert not run_sql("SELECT * FROM runs LIMIT 3", warehouse=arena.warehouse, row_cap=3).truncated


def test_timeout_interrupts_the_query(arena: Arena) -> None:
    with pytest.raises(SqlGuardError, match="longer than 0.3 s"):
        run_sql("SELECT count(*) FROM metrics a, metrics b, metrics c, metrics d", warehouse=arena.warehouse,
                timeout_s=0.3)  # fmt: skip
    # the connection is gone: the next query runs normally
    assert run_sql("SELECT 1", warehouse=arena.warehouse).rows == [[1]]


def test_hand_written_attacks_are_all_refused(arena: Arena) -> None:
    attacks = hostile_statements(arena.secret, arena.out)
    assert len(attacks) >= 150
    outcomes = {sql: _attack(arena, sql) for sql in attacks}
    allowed = [sql for sql, outcome in outcomes.items() if isinstance(outcome, SqlResult)]
    assert allowed == [], f"hostile statements ran: {allowed}"


def test_heavy_queries_end_bounded(arena: Arena) -> None:
    for sql in BOUNDED:
        outcome = _attack(arena, sql)
        if isinstance(outcome, SqlGuardError):
            assert "longer than" in outcome.problem or "memory" in outcome.problem.lower(), outcome.problem
        else:
            assert outcome.truncated or len(outcome.rows) <= CAP


_SELECTS = st.sampled_from(
    ["SELECT 1", "SELECT * FROM runs", "SELECT run_id FROM metric_summary", "WITH a AS (SELECT 1) SELECT * FROM a",
     "FROM tags", "SELECT 'x;y'", "VALUES (1)", "SELECT * FROM params_wide"]
)  # fmt: skip
_JOINERS = st.sampled_from([";", "; ", ";\n", " ;/* */ ", "/**/;", " --x\n;", ";--", "\n", " ", "/*", "--", "'", '"'])


@st.composite
def _payloads(draw: st.DrawFn, secret: str, out: str) -> str:
    verb = draw(st.sampled_from([
        "DROP TABLE runs", "DELETE FROM metrics", "UPDATE runs SET status = 'X'", f"ATTACH '{out}/a.db'",
        f"COPY runs TO '{out}/x.csv'", "INSTALL sqlite", "LOAD json", "PRAGMA version", "SET threads=1",
        f"EXPORT DATABASE '{out}/d'", "CALL duckdb_settings()", f"SELECT * FROM read_csv('{secret}')",
        f"SELECT * FROM read_text('{secret}')", f"SELECT * FROM glob('{out}/*')", "SELECT getenv('HOME')",
        "CREATE TABLE t AS SELECT 1", "SELECT * FROM duckdb_tables()", f"SELECT * FROM '{secret}'",
        "SELECT * FROM information_schema.columns", "CHECKPOINT", "SELECT * FROM _minivess_sync_state",
    ]))  # fmt: skip
    mutate = draw(st.sampled_from(["none", "upper", "lower", "spaces", "noise"]))
    if mutate == "upper":
        verb = verb.upper()
    elif mutate == "lower":
        verb = verb.lower()
    elif mutate == "spaces":
        verb = verb.replace(" ", draw(st.sampled_from(["\t", "\n", "  ", " /**/ ", "\u3000"])))
    elif mutate == "noise":
        at = draw(st.integers(0, len(verb)))
        verb = verb[:at] + draw(st.text(max_size=4)) + verb[at:]
    return verb


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_attacks_change_nothing_and_leak_nothing(arena: Arena, data: st.DataObject) -> None:
    payload = data.draw(_payloads(str(arena.secret), str(arena.out)))
    shape = data.draw(st.sampled_from(["alone", "after", "before", "text"]))
    if shape == "alone":
        sql = payload
    elif shape == "after":
        sql = data.draw(_SELECTS) + data.draw(_JOINERS) + payload
    elif shape == "before":
        sql = payload + data.draw(_JOINERS) + data.draw(_SELECTS)
    else:
        sql = data.draw(st.text(max_size=60)) + payload
    outcome = _attack(arena, sql)
    if isinstance(outcome, SqlResult):
        # Only possible when the payload ended inside a comment or string: it never ran.
        assert outcome.sql.strip() == sql.strip() or outcome.sql in sql


def test_auto_sync_check_does_not_write(arena: Arena) -> None:
    for sql in ("SELECT count(*) FROM runs", "DROP TABLE runs", "SELECT * FROM read_text('/etc/hostname')"):
        with contextlib.suppress(SqlGuardError):
            run_sql(sql, warehouse=arena.warehouse, auto_sync=True)


def test_check_sql_returns_the_single_statement() -> None:
    assert check_sql("  SELECT 1 ; ").strip().rstrip(";").strip() == "SELECT 1"
    with pytest.raises(SqlGuardError, match="exactly one statement"):
        check_sql("SELECT 1; SELECT 2")
    with pytest.raises(SqlGuardError, match="not one of the warehouse"):
        check_sql("SELECT * FROM runs", allowed=frozenset({"metrics"}))


def test_limits_are_validated(arena: Arena) -> None:
    with pytest.raises(AnalyticsError, match="row_cap"):
        run_sql("SELECT 1", warehouse=arena.warehouse, row_cap=0)


def test_a_refusal_is_short_and_the_model_still_gets_every_column(arena: Arena) -> None:
    with pytest.raises(SqlGuardError) as info:
        run_sql("DROP TABLE runs", warehouse=arena.warehouse)
    exc = info.value
    lines = str(exc).splitlines()
    tables = [t.name for t in TABLES] + ["params_wide"]
    assert lines[0].startswith("Only SELECT") and len(lines) == 2, str(exc)
    assert all(name in lines[1] for name in tables) and "`minivess runs schema`" in lines[1]
    assert "--" not in str(exc), "no column meanings in the short refusal"
    for_model = exc.for_model().splitlines()
    assert for_model[0] == exc.problem and for_model[1] == "Allowed tables and columns:"
    assert [line.split("(", 1)[0] for line in for_model[2:]] == tables, "one line per table"
    assert "best_step" in exc.schema_text and '"optim.lr"' in exc.schema_text
    assert len(exc.for_model().splitlines()) == len(tables) + 2


def test_describe_lists_every_table_with_meanings(arena: Arena) -> None:
    schema = describe(arena.warehouse)
    names = [t.name for t in schema.tables]
    assert names == [t.name for t in TABLES] + ["params_wide"]
    wide = schema.tables[-1]
    assert {"optim.lr", "model.name"} <= {c.name for c in wide.columns}
    assert all(c.meaning for t in schema.tables for c in t.columns)
    assert any("SELECT" in rule for rule in schema.rules)
    text = schema.as_text()
    assert "metric_summary -- " in text and "best_step BIGINT" in text
