"""Read MLflow's SQLite store directly with sqlite3 (DuckDB cannot attach SQLite offline)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from minivess.errors import AnalyticsError
from minivess.fileio import exclusive
from minivess.pipelines.analytics.sources import (
    Catalog,
    KeyValueRow,
    MetricRow,
    RunBatch,
    RunRow,
    StoreReader,
    chunked,
    tag_digests,
)

logger = logging.getLogger(__name__)

_CHUNK_ROWS = 200_000
_IN_LIST = 500  # run ids per "IN (…)" query (SQLite's parameter limit is ≥ 999)

_RUN_COLUMNS = (
    "run_uuid, CAST(experiment_id AS TEXT), name, status, lifecycle_stage, user_id, start_time, end_time, artifact_uri"
)
_FINGERPRINT_SQL = """
SELECT r.run_uuid, r.status, r.end_time, r.lifecycle_stage, r.name, r.experiment_id,
       coalesce(m.n, 0), m.max_ts, coalesce(p.n, 0)
FROM runs r
LEFT JOIN (SELECT run_uuid, count(*) AS n, max(timestamp) AS max_ts FROM metrics GROUP BY run_uuid) m
       ON m.run_uuid = r.run_uuid
LEFT JOIN (SELECT run_uuid, count(*) AS n FROM params GROUP BY run_uuid) p ON p.run_uuid = r.run_uuid
"""


class SqliteReader:
    """A read session on one MLflow SQLite file (opened read-only)."""

    def __init__(self, con: sqlite3.Connection, path: Path) -> None:
        """Wrap an open read-only connection.

        Args:
            con: The sqlite3 connection.
            path: The file, for messages.
        """
        self._con = con
        self._path = path

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self._con.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise AnalyticsError(
                f"Cannot read the MLflow SQLite store {self._path}: {exc}. If its schema is from another "
                "MLflow version, sync through the tracking client (`minivess runs --source client sync`)."
            ) from exc

    def fingerprints(self) -> dict[str, str]:
        """Run id → status, end time, lifecycle, name, metric count and max timestamp, param count, tags."""
        tags = tag_digests(self._query("SELECT run_uuid, key, value FROM tags"))
        return {
            row[0]: "|".join(str(v) for v in row[1:]) + "|" + tags.get(row[0], "")
            for row in self._query(_FINGERPRINT_SQL)
        }

    def catalog(self) -> Catalog:
        """Experiments and the registry, read whole (they are small)."""
        return Catalog(
            experiments=self._query(
                "SELECT CAST(experiment_id AS TEXT), name, artifact_location, lifecycle_stage, "
                "creation_time, last_update_time FROM experiments"
            ),
            registered_models=self._query(
                "SELECT name, description, creation_time, last_updated_time FROM registered_models"
            ),
            model_versions=self._query(
                "SELECT name, version, run_id, source, status, current_stage, description, creation_time, "
                "last_updated_time FROM model_versions"
            ),
            aliases=self._query("SELECT name, alias, version FROM registered_model_aliases"),
        )

    def runs(self, run_ids: Collection[str] | None) -> RunBatch:
        """Runs, params and tags now; metrics streamed in chunks when the batch is consumed."""
        if run_ids is None:
            return RunBatch(
                runs=self._query(f"SELECT {_RUN_COLUMNS} FROM runs"),
                params=self._query("SELECT run_uuid, key, value FROM params"),
                tags=self._query("SELECT run_uuid, key, value FROM tags"),
                metric_chunks=self._metric_chunks(None),
            )
        ids = sorted(run_ids)
        runs: list[RunRow] = []
        params: list[KeyValueRow] = []
        tags: list[KeyValueRow] = []
        for part in chunked(ids, _IN_LIST):
            marks = ",".join("?" * len(part))
            args = tuple(part)
            runs += self._query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_uuid IN ({marks})", args)
            params += self._query(f"SELECT run_uuid, key, value FROM params WHERE run_uuid IN ({marks})", args)
            tags += self._query(f"SELECT run_uuid, key, value FROM tags WHERE run_uuid IN ({marks})", args)
        return RunBatch(runs=runs, params=params, tags=tags, metric_chunks=self._metric_chunks(ids))

    def _metric_chunks(self, ids: list[str] | None) -> Iterator[list[MetricRow]]:
        select = "SELECT run_uuid, key, step, timestamp, CASE WHEN is_nan THEN NULL ELSE value END FROM metrics"
        if ids is None:
            yield from self._stream(select, ())
            return
        for part in chunked(ids, _IN_LIST):
            yield from self._stream(f"{select} WHERE run_uuid IN ({','.join('?' * len(part))})", tuple(part))

    def _stream(self, sql: str, args: tuple[Any, ...]) -> Iterator[list[MetricRow]]:
        try:
            cursor = self._con.execute(sql, args)
            while rows := cursor.fetchmany(_CHUNK_ROWS):
                yield rows
        except sqlite3.Error as exc:
            raise AnalyticsError(f"Cannot read metrics from the MLflow SQLite store {self._path}: {exc}.") from exc


class SqliteSource:
    """MLflow's SQLite store read with Python's sqlite3, never through MLflow and never written."""

    kind: Literal["sqlite", "client"] = "sqlite"

    def __init__(self, path: Path, tracking_uri: str) -> None:
        """Point at the store's file.

        Args:
            path: The SQLite database file (may not exist yet: then the store is empty).
            tracking_uri: The URI it came from (identifies the source in the warehouse).
        """
        self.path = path
        self.source_id = f"sqlite:{path}"
        self.tracking_uri = tracking_uri

    def signature(self) -> str | None:
        """Size and mtime (ns) of the database file and its journal/WAL files: changes on every write."""
        parts = []
        for suffix in ("", "-wal", "-journal"):
            candidate = Path(f"{self.path}{suffix}")
            try:
                stat = candidate.stat()
            except FileNotFoundError:
                parts.append(f"{suffix}:-")
                continue
            parts.append(f"{suffix}:{stat.st_size}:{stat.st_mtime_ns}")
        return ";".join(parts)

    @contextmanager
    def reader(self) -> Iterator[StoreReader]:
        """Open the file read-only (``mode=ro``), or an empty store when it does not exist.

        Read under the store's file lock (the one MLflow's first use is made under, see
        ``tracking.mlflow_run.client_for``): a store another process is still creating is never half read.
        """
        with exclusive(self.path):
            if not self.path.is_file():
                yield _EmptyReader()
                return
            try:
                con = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=30)
            except sqlite3.Error as exc:
                raise AnalyticsError(f"Cannot open the MLflow SQLite store {self.path}: {exc}.") from exc
            try:
                yield SqliteReader(con, self.path)
            finally:
                con.close()


class _EmptyReader:
    """A store with nothing in it (the tracking database was never created)."""

    def fingerprints(self) -> dict[str, str]:
        return {}

    def catalog(self) -> Catalog:
        return Catalog()

    def runs(self, run_ids: Collection[str] | None) -> RunBatch:
        return RunBatch(runs=[], params=[], tags=[], metric_chunks=iter(()))
