"""Incremental, idempotent MLflow → DuckDB sync: one transaction per sync, only changed runs rewritten."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
from pydantic import BaseModel, Field

from minivess.errors import AnalyticsError
from minivess.pipelines.analytics import label_issues, loader, schemas
from minivess.pipelines.analytics.connection import connect_reader, connect_writer
from minivess.pipelines.analytics.schema import SCHEMA_VERSION, STATE_TABLE
from minivess.pipelines.analytics.sources import MetricRow, RunBatch, Source, SourceKind, StoreReader

logger = logging.getLogger(__name__)

# Above this share of changed runs, reading every run and filtering beats many "IN (…)" queries.
_FETCH_ALL_SHARE = 0.5


class SyncReport(BaseModel):
    """What one sync did."""

    source: SourceKind = Field(description="sqlite (the file read directly) or client (MlflowClient)")
    source_id: str = Field(description="the store synced from")
    warehouse: str = Field(description="the DuckDB file written")
    skipped: bool = Field(description="True when the store's signature was unchanged: nothing was read")
    full: bool = Field(description="True when every run was rewritten (first sync, --full, new source)")
    runs_total: int = Field(description="runs in the warehouse after the sync")
    runs_added: int = Field(description="runs new since the last sync")
    runs_updated: int = Field(description="runs whose status, times, metrics, params or tags changed")
    runs_removed: int = Field(description="runs no longer in the store (deleted permanently)")
    runs_unchanged: int = Field(description="runs left as they were")
    metric_rows: int = Field(description="metric history rows written")
    seconds: float = Field(description="wall time of the sync")

    @property
    def runs_processed(self) -> int:
        """Runs whose rows were (re)written."""
        return self.runs_added + self.runs_updated


def read_state(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The bookkeeping of the last sync on an open connection (empty before the first sync)."""
    try:
        return dict(con.execute(f"SELECT key, value FROM {STATE_TABLE}").fetchall())
    except duckdb.CatalogException:
        return {}


def stored_state(path: Path, home: Path) -> dict[str, str]:
    """The bookkeeping of the last sync, read without writing (empty when there is no warehouse)."""
    if not path.is_file():
        return {}
    with connect_reader(path, home) as con:
        return read_state(con)


def sync_warehouse(source: Source, path: Path, home: Path, *, full: bool = False) -> SyncReport:
    """Bring the warehouse up to date with the tracking store.

    Only runs that are new or whose fingerprint changed are rewritten; runs gone from the store are
    removed. Experiments and the registry are small and replaced whole. Everything happens in one DuckDB
    transaction, so an interrupted sync leaves the previous state intact, and re-running is safe.

    Args:
        source: Where to read (``SqliteSource`` or ``ClientSource``).
        path: The warehouse file.
        home: The minivess home (DuckDB extension/temp folders).
        full: Rewrite every run even when nothing changed.

    Returns:
        Counts of what was done.

    Raises:
        AnalyticsError: The store or the warehouse could not be read or written, or the rows written break
            the warehouse schema (``schemas.validate_warehouse``; the message names table, column and check).
    """
    started = time.perf_counter()
    signature = source.signature()  # taken before reading: a write during the sync shows up next time
    with connect_writer(path, home) as con:
        try:
            con.execute("BEGIN TRANSACTION")
            report = _sync_in_transaction(con, source, signature, path, home, full=full)
            con.execute("COMMIT")
        except BaseException:
            _rollback(con)
            raise
    report.seconds = round(time.perf_counter() - started, 4)
    logger.info("analytics sync: %s", report.model_dump())
    return report


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:  # no transaction open any more: nothing to undo
        logger.debug("rollback after a failed sync found no open transaction")


def _sync_in_transaction(
    con: duckdb.DuckDBPyConnection, source: Source, signature: str | None, path: Path, home: Path, *, full: bool
) -> SyncReport:
    try:
        recreated = loader.ensure_schema(con)
        state = loader.read_state(con)
    except duckdb.Error as exc:
        raise AnalyticsError(f"The warehouse {path} is unreadable ({exc}); delete it and sync again.") from exc
    full = full or recreated or state.get("source_id") != source.source_id
    old = loader.read_fingerprints(con)
    base = {"source": source.kind, "source_id": source.source_id, "warehouse": str(path), "seconds": 0.0}
    issues_signature = label_issues.issues_signature(home)  # label-issue tables live beside the store
    unchanged_issues = state.get(label_issues.STATE_KEY, "") == issues_signature
    if not full and signature is not None and state.get("signature") == signature and unchanged_issues:
        n = len(old)
        return SyncReport(**base, skipped=True, full=False, runs_total=n, runs_added=0, runs_updated=0,
                          runs_removed=0, runs_unchanged=n, metric_rows=0)  # fmt: skip
    with source.reader() as reader:
        new = reader.fingerprints()
        added = new.keys() - old.keys()
        # A full sync rewrites every run (fingerprints of another source are not comparable).
        updated = {r for r in new.keys() & old.keys() if full or new[r] != old[r]}
        removed = old.keys() - new.keys()
        changed = added | updated
        catalog = reader.catalog()
        loader.delete_runs(con, changed | removed)
        loader.write_catalog(con, catalog)
        metric_rows = _write_changed(con, reader, changed, total=len(new)) if changed else 0
        loader.write_summaries(con)
        loader.write_fingerprints(con, changed | removed, new)
        loader.rebuild_params_wide(con)
    label_issues.write_label_issues(con, home)
    # Before COMMIT: a violation rolls the whole sync back. Only the rewritten runs are read back (cheap).
    schemas.validate_warehouse(con, run_ids=changed)
    loader.write_state(
        con,
        {
            "schema_version": str(SCHEMA_VERSION),
            "source_id": source.source_id,
            "signature": signature or "",
            "synced_at_ms": str(int(time.time() * 1000)),
            label_issues.STATE_KEY: issues_signature,
        },
    )
    return SyncReport(**base, skipped=False, full=full, runs_total=len(new), runs_added=len(added),
                      runs_updated=len(updated), runs_removed=len(removed),
                      runs_unchanged=len(new) - len(changed), metric_rows=metric_rows)  # fmt: skip


def _write_changed(con: duckdb.DuckDBPyConnection, reader: StoreReader, changed: set[str], *, total: int) -> int:
    """Fetch the changed runs (all runs, filtered, when most changed) and write them."""
    everything = len(changed) == total
    if everything or len(changed) > _FETCH_ALL_SHARE * total:
        batch = reader.runs(None)
        if not everything:
            batch = _only(batch, changed)
    else:
        batch = reader.runs(changed)
    loader.write_runs(con, batch.runs, batch.params, batch.tags)
    return loader.write_metrics(con, batch.metric_chunks)


def _only(batch: RunBatch, keep: set[str]) -> RunBatch:
    def chunks() -> Iterator[list[MetricRow]]:
        for chunk in batch.metric_chunks:
            yield [row for row in chunk if row[0] in keep]

    return RunBatch(
        runs=[r for r in batch.runs if r[0] in keep],
        params=[p for p in batch.params if p[0] in keep],
        tags=[t for t in batch.tags if t[0] in keep],
        metric_chunks=chunks(),
    )
