"""Pandera schemas of the warehouse: a real sync passes, broken rows are named by table, column and check."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb
import pytest
from mlflow import MlflowClient

from minivess.errors import AnalyticsError
from minivess.pipelines.analytics import Warehouse, loader
from minivess.pipelines.analytics.connection import connect_writer
from minivess.pipelines.analytics.schema import TABLES, Table
from minivess.pipelines.analytics.schemas import read_table, table_problems, validate_warehouse
from minivess.pipelines.analytics.sources import KeyValueRow, MetricRow, RunRow
from tests.unit.pipelines.analytics.mlflow_store import StoreInfo, log_training_run


def _table(name: str) -> Table:
    return next(t for t in TABLES if t.name == name)


def _count(wh: Warehouse, sql: str) -> int:
    with wh.reader() as con:
        row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def _synced() -> Warehouse:
    wh = Warehouse()
    wh.sync()
    return wh


def test_a_synced_store_passes_every_table(store: StoreInfo) -> None:
    wh = _synced()
    with wh.reader() as con:
        validate_warehouse(con)  # every row of every table, not only a sync's
        metrics = read_table(con, _table("metrics"))
    assert len(metrics) > 0
    assert str(metrics["value"].dtype) == "Float64"  # nullable: a NULL (MLflow's NaN) is not a NaN


def test_a_duplicated_run_id_and_a_nan_metric_are_named(store: StoreInfo) -> None:
    wh = _synced()
    with connect_writer(wh.path, wh.home) as con:
        con.execute("INSERT INTO runs SELECT * FROM runs ORDER BY run_id LIMIT 1")
        con.execute("UPDATE metrics SET value = 'nan'::DOUBLE WHERE rowid = (SELECT min(rowid) FROM metrics)")
        con.execute("UPDATE metrics SET value = NULL WHERE rowid = (SELECT max(rowid) FROM metrics)")
        duplicated = con.execute("SELECT min(run_id) FROM runs").fetchall()[0][0]
        nan_run = con.execute("SELECT run_id FROM metrics WHERE isnan(value)").fetchall()[0][0]
    with wh.reader() as con:
        runs, metrics = read_table(con, _table("runs")), read_table(con, _table("metrics"))
        with pytest.raises(AnalyticsError) as caught:
            validate_warehouse(con)
    assert table_problems(_table("runs"), runs) == [f"column 'run_id' failed field_uniqueness: run_id={duplicated}."]
    # the NULL (how the warehouse stores MLflow's NaN) passes; only the real NaN fails
    assert table_problems(_table("metrics"), metrics) == [f"column 'value' failed finite: run_id={nan_run} (nan)."]
    message = str(caught.value)
    assert "table 'runs': column 'run_id' failed field_uniqueness" in message
    assert "table 'metrics': column 'value' failed finite" in message


def test_vocabularies_and_composite_keys_are_checked(store: StoreInfo) -> None:
    wh = _synced()
    with wh.reader() as con:
        runs = read_table(con, _table("runs"))
        params = read_table(con, _table("params"))
    runs.loc[0, "status"] = "DONE"
    params.loc[1, ["run_id", "key"]] = params.loc[0, ["run_id", "key"]].tolist()
    assert "column 'status' failed isin" in table_problems(_table("runs"), runs)[0]
    assert table_problems(_table("params"), params)[0].startswith("columns (run_id, key) must be unique together")


def test_a_sync_writing_a_nan_metric_is_rolled_back(store: StoreInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    wh = _synced()
    before = _count(wh, "SELECT count(*) FROM runs")
    new_id = log_training_run(
        MlflowClient(store.uri), store.experiment_id, index=400, family="segresnet", lr=1e-3, loss="dice_ce"
    )
    real_write_metrics = loader.write_metrics

    def with_nan(con: duckdb.DuckDBPyConnection, chunks: Iterable[list[MetricRow]]) -> int:
        return real_write_metrics(con, [*chunks, [(new_id, "val_dice", 99, 0, float("nan"))]])

    monkeypatch.setattr(loader, "write_metrics", with_nan)
    with pytest.raises(AnalyticsError) as caught:
        wh.sync()
    message = str(caught.value)
    assert f"table 'metrics': column 'value' failed finite: run_id={new_id} (nan)" in message
    assert f"table 'metric_summary': column 'max_value' failed finite: run_id={new_id} (nan)" in message
    assert "rolled back" in message and "minivess runs sync --full" in message
    assert _count(wh, "SELECT count(*) FROM runs") == before  # the previous state is intact
    monkeypatch.setattr(loader, "write_metrics", real_write_metrics)
    assert wh.sync().runs_added == 1


def test_a_sync_writing_a_run_twice_names_runs_run_id(store: StoreInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write_runs = loader.write_runs

    def twice(
        con: duckdb.DuckDBPyConnection, runs: list[RunRow], params: list[KeyValueRow], tags: list[KeyValueRow]
    ) -> None:
        real_write_runs(con, [*runs, runs[0]], params, tags)

    monkeypatch.setattr(loader, "write_runs", twice)
    with pytest.raises(AnalyticsError, match=r"table 'runs': column 'run_id' failed field_uniqueness: run_id="):
        Warehouse().sync()


def test_an_incremental_sync_reads_back_only_the_runs_it_wrote(store: StoreInfo, minivess_home: Path) -> None:
    """Cheap: rows of untouched runs are not re-read; checking everything still finds them."""
    wh = _synced()
    with connect_writer(wh.path, wh.home) as con:
        con.execute("UPDATE metrics SET value = 'nan'::DOUBLE WHERE rowid = (SELECT min(rowid) FROM metrics)")
    log_training_run(MlflowClient(store.uri), store.experiment_id, index=401, family="dynunet", lr=1e-3, loss="dice_ce")
    assert wh.sync().runs_added == 1
    with wh.reader() as con, pytest.raises(AnalyticsError, match="table 'metrics': column 'value' failed finite"):
        validate_warehouse(con)
