"""Every SELECT the planner writes passes the SQL guard and binds against the real warehouse schema."""

from __future__ import annotations

import json
from collections.abc import Iterator

import duckdb
import pytest

from minivess.agents.planner import plan_reply
from minivess.agents.planner.models import History
from minivess.agents.planner.sqlmap import REGISTRY_COUNT_SQL, REGISTRY_SQL, canned_sql, literal_sql
from minivess.pipelines.analytics.guard import check_sql
from minivess.pipelines.analytics.schema import TABLES, table_ddl
from tests.unit.agents.planner.support import ALL_TOOLS, RUN_A, SYSTEM, load_cases, planned_steps, user

QUESTIONS = [
    "how many runs are there?", "how many runs failed?", "how many segresnet runs finished today?",
    "how many runs per model family?", "how many runs per loss?", "how many runs used clDice loss this week?",
    "average val dice per model family", "mean clDice by loss", "average hd95", "average test dice per family",
    "what was the longest run?", "the 3 slowest runs", "what's the fastest run?", "total training time",
    "list all runs", "show the last 5 runs", "list the killed runs from yesterday", "which runs are still running?",
    "how long did the runs take on average?", "how many runs in the last 24 hours?",
    "which runs were trained on data/minivess?", "how many runs were trained on /data/lab/vessels?",
    "list the runs that took longer than 10 minutes", "how many runs took less than half an hour?",
    "how many runs are in each experiment?", "which experiments do we have?", "the 5 longest runs",
    "list every run with a learning rate above 0.001", "how many runs had a batch size of at least 4?",
]  # fmt: skip


@pytest.fixture(scope="module")
def warehouse() -> Iterator[duckdb.DuckDBPyConnection]:
    """An empty in-memory warehouse with the real DDL (binding catches unknown columns and type errors)."""
    con = duckdb.connect(":memory:")
    for table in TABLES:
        con.execute(table_ddl(table))
    con.execute("CREATE VIEW params_wide AS SELECT DISTINCT run_id FROM params")
    yield con
    con.close()


def _planned_sql() -> list[str]:
    found = []
    for case in load_cases():
        reply = plan_reply([SYSTEM, *case.get("history", []), user(case["request"])], ALL_TOOLS)
        for call in reply.tool_calls:
            if call.name == "query_runs":
                found.append(json.loads(call.arguments)["sql"])
    return found


@pytest.mark.parametrize("question", QUESTIONS)
def test_canned_questions_have_sql(question: str) -> None:
    assert canned_sql(question) is not None


@pytest.mark.parametrize("question", ["show the leaderboard", "train segresnet", "which runs failed?", "why?"])
def test_other_requests_get_no_canned_sql(question: str) -> None:
    assert canned_sql(question) is None


def test_every_generated_query_is_guarded_and_binds(warehouse: duckdb.DuckDBPyConnection) -> None:
    queries = [canned_sql(q) for q in QUESTIONS] + _planned_sql() + [REGISTRY_SQL, REGISTRY_COUNT_SQL]
    assert len(queries) > 30
    for sql in queries:
        assert sql is not None
        statement = check_sql(sql)
        warehouse.execute(statement).fetchall()


def _runs_found(warehouse: duckdb.DuckDBPyConnection, sql: str, key: str, rows: list[tuple[str, str]]) -> set[str]:
    """The run ids `sql` answers when each (run id, value) is a run with the parameter `key` logged."""
    try:
        for run_id, value in rows:
            warehouse.execute("INSERT INTO runs (run_id) VALUES (?)", [run_id])
            warehouse.execute("INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)", [run_id, key, value])
        return {row[0] for row in warehouse.execute(sql).fetchall()}
    finally:
        warehouse.execute("DELETE FROM params")
        warehouse.execute("DELETE FROM runs")


def test_runs_trained_on_a_folder_are_found_by_their_data_dir(warehouse: duckdb.DuckDBPyConnection) -> None:
    """The folder as written matches the absolute data.dir the engine logs, and no other folder."""
    sql = canned_sql("which runs were trained on data/minivess?")
    assert sql is not None
    rows = [
        ("a" * 32, "/home/lab/data/minivess"),
        ("b" * 32, "/home/lab/data/minivess-old"),
        ("c" * 32, "data/minivess"),
    ]
    assert _runs_found(warehouse, sql, "data.dir", rows) == {"a" * 32, "c" * 32}


def test_typed_sql_is_passed_through_unchanged() -> None:
    assert literal_sql("please run: SELECT run_id FROM runs LIMIT 3;") == "SELECT run_id FROM runs LIMIT 3"
    fenced = "```sql\nSELECT key, avg(best_value) FROM metric_summary GROUP BY key\n```"
    assert literal_sql(fenced) == "SELECT key, avg(best_value) FROM metric_summary GROUP BY key"
    inline = "can you run `SELECT status, count(*) FROM runs GROUP BY status` for me?"
    assert literal_sql(inline) == "SELECT status, count(*) FROM runs GROUP BY status"
    assert literal_sql("select the best model from the leaderboard") is None  # English, not SQL


def test_runs_are_filtered_by_a_logged_parameter(warehouse: duckdb.DuckDBPyConnection) -> None:
    """ "a learning rate above 0.001": the params table's value, compared as a number, not as text."""
    sql = canned_sql("list every run that used a learning rate above 0.001")
    assert sql is not None
    rows = [("a" * 32, "0.005"), ("b" * 32, "0.0005"), ("c" * 32, "1e-2")]
    assert _runs_found(warehouse, sql, "optim.lr", rows) == {"a" * 32, "c" * 32}


def test_runs_are_counted_per_experiment() -> None:
    sql = canned_sql("finished runs per experiment")
    assert sql is not None
    assert "GROUP BY r.experiment_name" in sql and "r.status = 'FINISHED'" in sql


def test_a_request_before_typed_sql_reads_the_conversation() -> None:
    history = History([RUN_A])
    steps = planned_steps("evaluate it on val, and then run SELECT run_id FROM runs", history)
    assert steps == [
        ("evaluate_run", {"run_id": RUN_A, "split": "val"}),
        ("query_runs", {"sql": "SELECT run_id FROM runs"}),
    ]
