"""Sync MLflow → DuckDB: contents, incremental counts, no-op re-sync, refresh of changed runs, safety."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, ViewType

from minivess.errors import AnalyticsError
from minivess.pipelines.analytics import Warehouse, loader
from minivess.pipelines.analytics.connection import connect_writer
from minivess.pipelines.analytics.sources import sqlite_path_from_uri
from minivess.pipelines.tracking import naming
from minivess.settings import Settings
from tests.unit.pipelines.analytics.mlflow_store import StoreInfo, log_training_run


def _rows(wh: Warehouse, sql: str) -> list[tuple[object, ...]]:
    with wh.reader() as con:
        return con.execute(sql).fetchall()


def test_warehouse_defaults_live_under_home(store: StoreInfo, minivess_home: Path) -> None:
    wh = Warehouse()
    assert wh.path == Settings().warehouse_path
    assert wh.path.is_relative_to(minivess_home.resolve())
    assert wh.source.kind == "sqlite"
    wh.sync()
    assert (minivess_home / "duckdb" / "extensions").is_dir()
    with wh.reader() as con:
        ext_dir = con.execute("SELECT current_setting('extension_directory')").fetchone()
        autoinstall = con.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone()
        with pytest.raises(duckdb.Error):
            con.execute("SET threads = 1")  # configuration is locked
    assert ext_dir is not None and Path(str(ext_dir[0])).is_relative_to(minivess_home.resolve())
    assert autoinstall == (False,)


def test_full_sync_mirrors_the_store(store: StoreInfo) -> None:
    client = MlflowClient(store.uri)
    report = Warehouse().sync()
    all_runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)], run_view_type=ViewType.ALL
    )
    assert report.full and not report.skipped
    assert report.runs_added == report.runs_total == len(all_runs)
    with Warehouse().reader() as con:

        def q(sql: str, *args: object) -> list[tuple[object, ...]]:
            return con.execute(sql, list(args)).fetchall()

        for run in all_runs:
            rid, info = run.info.run_id, run.info
            duration = None if info.end_time is None else (info.end_time - info.start_time) / 1000
            got = q("SELECT status, run_name, model_family, duration_s FROM runs WHERE run_id = ?", rid)
            assert got == [(info.status, info.run_name, run.data.tags[naming.TAG_MODEL_FAMILY], duration)]
            assert dict(q("SELECT key, value FROM params WHERE run_id = ?", rid)) == run.data.params  # type: ignore[arg-type]
            assert dict(q("SELECT key, value FROM tags WHERE run_id = ?", rid)) == run.data.tags  # type: ignore[arg-type]
            for key, latest in run.data.metrics.items():
                history = sorted(client.get_metric_history(rid, key), key=lambda m: m.step)
                stored = q("SELECT step, value FROM metrics WHERE run_id = ? AND key = ? ORDER BY step", rid, key)
                assert stored == [(m.step, None if math.isnan(m.value) else m.value) for m in history]
                last = q("SELECT last_value FROM metric_summary WHERE run_id = ? AND key = ?", rid, key)[0][0]
                # last_value is what search_runs shows (the latest value); NaN is stored as NULL.
                assert (last is None and math.isnan(latest)) or last == latest
        assert report.metric_rows == q("SELECT count(*) FROM metrics")[0][0]


def test_registry_and_aliases_are_synced(store: StoreInfo) -> None:
    wh = Warehouse()
    wh.sync()
    client = MlflowClient(store.uri)
    model = client.get_registered_model(naming.DEFAULT_REGISTERED_MODEL)
    aliases = _rows(wh, "SELECT a.alias, v.run_id FROM model_aliases a JOIN model_versions v USING (name, version)")
    expected = {(alias, client.get_model_version(model.name, str(v)).run_id) for alias, v in model.aliases.items()}
    assert set(aliases) == expected == {("champion", store.champion), ("challenger", store.challenger)}
    assert _rows(wh, "SELECT name FROM registered_models") == [(naming.DEFAULT_REGISTERED_MODEL,)]


def test_params_wide_is_typed(store: StoreInfo) -> None:
    wh = Warehouse()
    wh.sync()
    with wh.reader() as con:
        types = {r[0]: r[1] for r in con.execute("DESCRIBE params_wide").fetchall()}
        lr = con.execute(f"SELECT \"optim.lr\" FROM params_wide WHERE run_id = '{store.finished[1]}'").fetchall()
    assert types["optim.lr"] == "DOUBLE"
    assert types["trainer.epochs"] == "BIGINT"
    assert types["trainer.amp"] == "BOOLEAN"
    assert types["model.name"] == "VARCHAR"
    assert lr == [(float(MlflowClient(store.uri).get_run(store.finished[1]).data.params["optim.lr"]),)]


def test_incremental_sync_processes_only_new_runs_and_noop_is_skipped(store: StoreInfo) -> None:
    wh = Warehouse()
    first = wh.sync()
    client = MlflowClient(store.uri)
    new_ids = [
        log_training_run(client, store.experiment_id, index=100 + i, family="dynunet", lr=1e-3, loss="dice_ce")
        for i in range(3)
    ]
    second = wh.sync()
    assert (second.runs_added, second.runs_updated, second.runs_removed) == (3, 0, 0)
    assert second.runs_processed == 3 and not second.full
    assert second.runs_total == first.runs_total + 3
    assert second.metric_rows == sum(len(client.get_metric_history(r, naming.METRIC_VAL_DICE)) * 5 for r in new_ids)
    third = wh.sync()
    assert third.skipped and third.runs_processed == 0 and third.runs_total == second.runs_total
    assert not wh.needs_sync()


def test_running_run_that_finishes_is_refreshed(store: StoreInfo) -> None:
    wh = Warehouse()
    wh.sync()
    run_id = store.running[0]
    assert _rows(wh, f"SELECT status FROM runs WHERE run_id = '{run_id}'") == [("RUNNING",)]
    client = MlflowClient(store.uri)
    client.log_batch(run_id, metrics=[Metric(naming.METRIC_VAL_DICE, 0.99, 1_790_000_999_000, 4)])
    client.set_terminated(run_id, "FINISHED")
    report = wh.sync()
    assert (report.runs_added, report.runs_updated) == (0, 1)
    got = _rows(wh, f"SELECT status, end_time IS NOT NULL FROM runs WHERE run_id = '{run_id}'")
    assert got == [("FINISHED", True)]
    summary = _rows(
        wh, f"SELECT best_value, best_step, last_step, n_values FROM metric_summary "
        f"WHERE run_id = '{run_id}' AND key = 'val_dice'"
    )  # fmt: skip
    assert summary == [(0.99, 4, 4, 4)]


def test_tag_change_and_deletion_are_picked_up(store: StoreInfo) -> None:
    wh = Warehouse()
    wh.sync()
    client = MlflowClient(store.uri)
    client.set_tag(store.finished[2], naming.TAG_MODEL_FAMILY, "renamed")
    client.delete_run(store.finished[3])
    report = wh.sync()
    assert report.runs_updated == 2 and report.runs_added == 0
    assert _rows(wh, f"SELECT model_family FROM runs WHERE run_id = '{store.finished[2]}'") == [("renamed",)]
    assert _rows(wh, f"SELECT lifecycle_stage FROM runs WHERE run_id = '{store.finished[3]}'") == [("deleted",)]


def test_client_source_gives_the_same_warehouse(store: StoreInfo, tmp_path: Path) -> None:
    direct = Warehouse(path=tmp_path / "direct.duckdb")
    via_client = Warehouse(path=tmp_path / "client.duckdb", source="client")
    assert via_client.source.kind == "client"
    a, b = direct.sync(), via_client.sync()
    assert (a.runs_total, a.metric_rows) == (b.runs_total, b.metric_rows)
    for table, order in (("runs", "run_id"), ("params", "run_id, key"), ("tags", "run_id, key"),
                         ("metrics", "run_id, key, step"), ("metric_summary", "run_id, key"),
                         ("model_versions", "version"), ("model_aliases", "alias")):  # fmt: skip
        sql = f"SELECT * FROM {table} ORDER BY {order}"
        assert _rows(direct, sql) == _rows(via_client, sql), table
    again = via_client.sync()  # no cheap signature: fingerprints decide, nothing changed
    assert not again.skipped and again.runs_processed == 0


def test_interrupted_sync_keeps_the_previous_state(store: StoreInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    wh = Warehouse()
    wh.sync()
    before = _rows(wh, "SELECT count(*) FROM runs UNION ALL SELECT count(*) FROM metrics")
    log_training_run(MlflowClient(store.uri), store.experiment_id, index=200, family="segresnet", lr=1e-3,
                     loss="dice_ce")  # fmt: skip

    def boom(con: duckdb.DuckDBPyConnection) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(loader, "write_summaries", boom)
    with pytest.raises(KeyboardInterrupt):
        wh.sync()
    assert _rows(wh, "SELECT count(*) FROM runs UNION ALL SELECT count(*) FROM metrics") == before
    monkeypatch.undo()
    assert wh.needs_sync()
    assert wh.sync().runs_added == 1


def test_ensure_fresh_syncs_only_when_the_store_changed(store: StoreInfo) -> None:
    wh = Warehouse()
    assert wh.ensure_fresh() is not None  # no warehouse yet
    assert wh.ensure_fresh() is None
    log_training_run(MlflowClient(store.uri), store.experiment_id, index=300, family="segresnet", lr=1e-3,
                     loss="dice_ce")  # fmt: skip
    report = wh.ensure_fresh()
    assert report is not None and report.runs_added == 1


def test_missing_store_gives_an_empty_warehouse(minivess_home: Path) -> None:
    report = Warehouse().sync()
    assert report.runs_total == 0
    assert not (minivess_home / "mlflow.db").exists()  # reading never creates the tracking store


def test_sqlite_source_needs_a_sqlite_uri() -> None:
    with pytest.raises(AnalyticsError, match="sqlite"):
        Warehouse(tracking_uri="http://127.0.0.1:5000", source="sqlite")
    assert Warehouse(tracking_uri="http://127.0.0.1:5000").source.kind == "client"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [("sqlite:////abs/m.db", "/abs/m.db"), ("sqlite:///rel.db", "rel.db"), ("sqlite:///:memory:", None),
     ("http://host:5000", None), ("sqlite:///x.db?timeout=5", "x.db")],
)  # fmt: skip
def test_sqlite_path_from_uri(uri: str, expected: str | None) -> None:
    assert sqlite_path_from_uri(uri) == (None if expected is None else Path(expected).resolve())


def test_search_runs_still_reads_the_store_after_sync(store: StoreInfo, mlflow_uri: str) -> None:
    """The sync reads the SQLite file read-only: MLflow keeps working on it."""
    Warehouse().sync()
    df = mlflow.search_runs(experiment_ids=[store.experiment_id])
    assert len(df) >= len(store.finished) - 2
    MlflowClient(store.uri).set_tag(store.finished[0], "after", "sync")


def test_warehouse_from_another_schema_version_is_rebuilt(store: StoreInfo, minivess_home: Path) -> None:
    wh = Warehouse()
    first = wh.sync()
    with connect_writer(wh.path, wh.home) as con:  # what an older minivess would have left behind
        con.execute("UPDATE _minivess_sync_state SET value = '0' WHERE key = 'schema_version'")
        con.execute("DELETE FROM metric_summary")
    assert wh.needs_sync()
    report = wh.sync()
    assert report.full and report.runs_added == first.runs_total
    assert _rows(wh, "SELECT count(*) > 0 FROM metric_summary") == [(True,)]
