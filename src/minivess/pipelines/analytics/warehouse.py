"""The warehouse handle: where it lives, which store it mirrors, auto-sync and read connections."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import duckdb

from minivess.errors import AnalyticsError
from minivess.pipelines.analytics import label_issues
from minivess.pipelines.analytics.connection import connect_reader
from minivess.pipelines.analytics.schema import (
    PARAMS_WIDE_MEANING,
    PARAMS_WIDE_VIEW,
    SCHEMA_VERSION,
    TABLES,
    ColumnInfo,
    TableInfo,
    WarehouseSchema,
)
from minivess.pipelines.analytics.source_client import ClientSource
from minivess.pipelines.analytics.source_sqlite import SqliteSource
from minivess.pipelines.analytics.sources import Source, sqlite_path_from_uri
from minivess.pipelines.analytics.sync import SyncReport, read_state, stored_state, sync_warehouse
from minivess.settings import Settings

logger = logging.getLogger(__name__)

SourceChoice = Literal["auto", "sqlite", "client"]

GUARD_RULES: tuple[str, ...] = (
    "exactly one read-only SELECT (or WITH … SELECT, VALUES, FROM-first) statement",
    "only these tables/views (and your own CTEs); no system tables, information_schema or other catalogs",
    "table functions: only range, generate_series, unnest; no file readers (read_csv, read_parquet, glob …)",
    "no ATTACH, COPY, INSTALL/LOAD, PRAGMA, SET, EXPORT, CALL, DESCRIBE/SHOW, PIVOT statements",
    "results are capped (default 1000 rows, flagged as truncated) and queries time out (default 10 s)",
    'quote names with dots: params_wide."optim.lr"; times are UTC TIMESTAMPs',
)


class Warehouse:
    """A DuckDB mirror of one MLflow tracking store.

    Args:
        settings: Where things live; default ``Settings()`` (read now, honouring MINIVESS_*).
        path: The warehouse file; default ``settings.warehouse_path``.
        tracking_uri: The MLflow store; default ``settings.tracking_uri``.
        source: ``sqlite`` reads a ``sqlite:///`` store's file directly, ``client`` goes through
            ``MlflowClient`` (any server), ``auto`` picks sqlite for sqlite URIs.
        client_max_age_s: With the client source (no cheap change signature), auto-sync when the last
            sync is older than this.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        path: Path | None = None,
        tracking_uri: str | None = None,
        source: SourceChoice = "auto",
        client_max_age_s: float = 60.0,
    ) -> None:
        settings = settings or Settings()
        self.home = settings.home_dir
        self.path = (path or settings.warehouse_path).expanduser().resolve()
        self.tracking_uri = tracking_uri or settings.tracking_uri
        self.client_max_age_s = client_max_age_s
        self.source: Source = self._pick_source(source)

    def _pick_source(self, choice: SourceChoice) -> Source:
        sqlite_file = sqlite_path_from_uri(self.tracking_uri)
        if choice == "sqlite" and sqlite_file is None:
            raise AnalyticsError(
                f"The sqlite source needs a sqlite:/// tracking URI, not {self.tracking_uri!r}; "
                "use source='client' (or --source client) for servers."
            )
        if choice == "client" or sqlite_file is None:
            return ClientSource(self.tracking_uri)
        return SqliteSource(sqlite_file, self.tracking_uri)

    def sync(self, *, full: bool = False) -> SyncReport:
        """Sync now (incremental unless ``full``); see ``sync_warehouse``."""
        return sync_warehouse(self.source, self.path, self.home, full=full)

    def needs_sync(self) -> bool:
        """Cheap check: no warehouse yet, another source, a changed store signature or a stale client sync."""
        return self._stale(stored_state(self.path, self.home))

    def _stale(self, state: dict[str, str]) -> bool:
        if not state or state.get("source_id") != self.source.source_id:
            return True
        if state.get("schema_version") != str(SCHEMA_VERSION):  # written by another version of this code
            return True
        if state.get(label_issues.STATE_KEY, "") != label_issues.issues_signature(self.home):
            return True
        signature = self.source.signature()
        if signature is None:
            age_s = time.time() - int(state.get("synced_at_ms", "0")) / 1000
            return age_s > self.client_max_age_s
        return signature != state.get("signature")

    def ensure_fresh(self) -> SyncReport | None:
        """Sync when ``needs_sync()``; returns the report, or None when the warehouse was current."""
        if not self.needs_sync():
            return None
        return self.sync()

    @contextmanager
    def reader(self, *, threads: int = 2) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only, locked-down connection (see ``connect_reader``)."""
        with connect_reader(self.path, self.home, threads=threads) as con:
            yield con

    @contextmanager
    def fresh_reader(self, *, auto_sync: bool = True, threads: int = 2) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to an up-to-date warehouse.

        With ``auto_sync`` the sync state is read on the same connection that then answers (one open
        instead of two); only when the store changed is it closed, the warehouse synced, and reopened.
        """
        if auto_sync and self.path.is_file():
            with connect_reader(self.path, self.home, threads=threads) as con:
                if not self._stale(read_state(con)):
                    yield con
                    return
        if auto_sync:
            self.sync()
        with connect_reader(self.path, self.home, threads=threads) as con:
            yield con

    def describe(self) -> WarehouseSchema:
        """The queryable schema with column meanings, and the SQL guard's rules, for prompts."""
        tables = [
            TableInfo(
                name=t.name,
                meaning=t.meaning,
                columns=[ColumnInfo(name=c.name, type=c.type, meaning=c.meaning) for c in t.columns],
            )
            for t in TABLES
        ]
        tables.append(TableInfo(name=PARAMS_WIDE_VIEW, meaning=PARAMS_WIDE_MEANING, columns=self._wide_columns()))
        return WarehouseSchema(tables=tables, rules=list(GUARD_RULES))

    def _wide_columns(self) -> list[ColumnInfo]:
        run_id = ColumnInfo(name="run_id", type="VARCHAR", meaning="MLflow run id")
        if not self.path.is_file():
            return [run_id]
        try:
            with self.reader() as con:
                rows = con.execute(f"DESCRIBE {PARAMS_WIDE_VIEW}").fetchall()
        except (duckdb.Error, AnalyticsError):
            logger.debug("params_wide not available yet", exc_info=True)
            return [run_id]
        return [run_id] + [
            ColumnInfo(name=name, type=str(typ), meaning=f"parameter {name!r}")
            for name, typ, *_ in rows
            if name != "run_id"
        ]


def describe(warehouse: Warehouse | None = None) -> WarehouseSchema:
    """The warehouse schema with column meanings and the SQL rules (for prompts and `minivess runs schema`).

    Args:
        warehouse: The warehouse; default ``Warehouse()`` from the current settings.

    Returns:
        Tables/views with typed, explained columns, and the guard's rules.
    """
    return (warehouse or Warehouse()).describe()
