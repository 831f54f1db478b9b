"""`minivess runs …` through the root app with typer's CliRunner, on a real MLflow store."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from minivess.cli.app import app, main
from minivess.pipelines.analytics import SqlGuardError, leaderboard
from minivess.pipelines.tracking import naming
from tests.unit.pipelines.analytics.mlflow_store import StoreInfo, build_store, install_store

COMMANDS = ["sync", "leaderboard", "compare", "curves", "sql", "schema", "effect", "failures", "frontier"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StoreInfo]:
    path = tmp_path_factory.mktemp("cli-mlflow") / "mlflow.db"
    return path, build_store(path, seed=1)


@pytest.fixture
def store(template: tuple[Path, StoreInfo], minivess_home: Path) -> StoreInfo:
    """The store as this test's default tracking DB (MINIVESS_HOME/mlflow.db)."""
    install_store(template[0], minivess_home)
    return template[1]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "220"})


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, ["runs", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_help(runner: CliRunner, command: str | None) -> None:
    args = ["runs", "--help"] if command is None else ["runs", command, "--help"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0
    assert "Usage" in result.stdout
    if command is None:
        assert all(c in result.stdout for c in COMMANDS)
    else:
        assert len(result.stdout.split("Usage", 1)[1].strip().splitlines()) > 3


def test_sync_reports_counts(runner: CliRunner, store: StoreInfo) -> None:
    out = _ok(runner, "sync")
    assert "runs_added" in out and "runs_total" in out
    again = _ok(runner, "sync")
    assert "skipped" in again and "True" in again


def test_leaderboard_table_and_exports_match_the_api(runner: CliRunner, store: StoreInfo, tmp_path: Path) -> None:
    table = _ok(runner, "leaderboard", "--metric", "val_cldice")
    assert all(f in table for f in ("segresnet", "swinunetr", "dynunet")) and "val_cldice" in table
    api = leaderboard(naming.METRIC_VAL_CLDICE)
    as_json = json.loads(_ok(runner, "leaderboard", "-m", "val_cldice", "-f", "json"))
    assert [r["run_id"] for r in as_json] == [r.run.run_id for r in api.rows]
    assert [r["epoch"] for r in as_json] == [r.best_step for r in api.rows]
    as_csv = _ok(runner, "leaderboard", "-m", "val_cldice", "--by", "none", "-n", "5", "-f", "csv").splitlines()
    assert as_csv[0].startswith("rank,family,run_id") and len(as_csv) == 6
    target = tmp_path / "board.parquet"
    _ok(runner, "leaderboard", "-m", "val_cldice", "-f", "parquet", "-o", str(target))
    assert pq.read_table(target).column("run_id").to_pylist() == [r.run.run_id for r in api.rows]


def test_parquet_needs_an_output_file(runner: CliRunner, store: StoreInfo) -> None:
    result = runner.invoke(app, ["runs", "leaderboard", "-f", "parquet"])
    assert result.exit_code == 2 and "--output" in result.output


def test_compare_shows_params_and_metrics(runner: CliRunner, store: StoreInfo) -> None:
    a, b = store.finished[0], store.finished[1]
    table = _ok(runner, "compare", a, b)
    assert "optim.lr" in table and "val_dice" in table and "@" in table
    rows = json.loads(_ok(runner, "compare", a, b, "-m", "val_dice", "-f", "json"))
    kinds = {(r["kind"], r["key"]) for r in rows}
    assert ("param", "optim.lr") in kinds and ("best_value", "val_dice") in kinds
    assert all(set(r) == {"kind", "key", a, b} for r in rows)


def test_curves_writes_a_png(runner: CliRunner, store: StoreInfo, tmp_path: Path) -> None:
    target = tmp_path / "curves.png"
    out = _ok(runner, "curves", store.finished[0], store.finished[3], "-m", "val_dice", "-m", "train_loss",
              "-o", str(target))  # fmt: skip
    assert "4 curves" in out
    assert target.read_bytes()[:4] == b"\x89PNG"


def test_sql_answers_and_flags_truncation(runner: CliRunner, store: StoreInfo) -> None:
    rows = json.loads(_ok(runner, "sql", "SELECT count(*) AS n FROM runs WHERE status = 'FAILED'", "-f", "json"))
    assert rows == [{"n": len(store.failed)}]
    result = runner.invoke(app, ["runs", "sql", "SELECT * FROM metrics", "-n", "5", "-f", "csv"])
    assert result.exit_code == 0
    assert len(result.stdout.strip().splitlines()) == 6 and "truncated" in result.stderr


def test_sql_refusal_raises_our_error(runner: CliRunner, store: StoreInfo) -> None:
    result = runner.invoke(app, ["runs", "sql", "DROP TABLE runs"])
    assert result.exit_code != 0
    assert isinstance(result.exception, SqlGuardError)
    message = str(result.exception)
    assert message.startswith("Only SELECT") and "`minivess runs schema`" in message
    assert len(message.splitlines()) == 2, "a refusal is short: the reason, then the table names and a hint"


def test_main_turns_a_refusal_into_exit_code_2(
    store: StoreInfo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["minivess", "runs", "sql", "SELECT * FROM read_csv('/etc/passwd')"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert "SqlGuardError" in capsys.readouterr().err


def test_schema_lists_tables(runner: CliRunner, store: StoreInfo) -> None:
    _ok(runner, "sync")
    table = _ok(runner, "schema")
    assert "metric_summary" in table and "best_step" in table and "params_wide" in table
    described = json.loads(_ok(runner, "schema", "-f", "json"))
    assert "optim.lr" in {c["name"] for t in described["tables"] for c in t["columns"]}


def test_effect_failures_frontier(runner: CliRunner, store: StoreInfo) -> None:
    effect = json.loads(_ok(runner, "effect", "optim.lr", "-m", "val_dice", "-f", "json"))
    assert [g["optim.lr"] for g in effect] == ["0.0001", "0.0003", "0.001"]
    failed = json.loads(_ok(runner, "failures", "-f", "json"))
    assert {r["run_id"] for r in failed} == set(store.failed)
    assert {r["error type"] for r in failed} == {"RuntimeError", "ValueError"}
    front = json.loads(_ok(runner, "frontier", "-f", "json"))
    everything = json.loads(_ok(runner, "frontier", "--all", "-f", "json"))
    assert front and all(p["pareto"] for p in front) and len(everything) > len(front)
