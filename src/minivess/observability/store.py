"""The local trace store: one SQLite file (HOME/traces.db) with observations and scores, readable offline."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from minivess.errors import DataError
from minivess.fileio import exclusive
from minivess.observability.models import (
    ObservationRecord,
    ScoreDelivery,
    ScoreRecord,
    TraceDetail,
    TraceSummary,
    build_tree,
)

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
STORE_FILENAME = "traces.db"

SCHEMA = """
CREATE TABLE IF NOT EXISTS observations (
    span_id        TEXT PRIMARY KEY,      -- 16 hex chars (OTel span id = Langfuse observation id)
    trace_id       TEXT NOT NULL,         -- 32 hex chars (OTel trace id = Langfuse trace id)
    parent_id      TEXT,                  -- parent span id; NULL for a root
    name           TEXT NOT NULL,
    type           TEXT NOT NULL,         -- span, generation, tool, agent, event, chain …
    start_ns       INTEGER NOT NULL,      -- Unix epoch nanoseconds
    end_ns         INTEGER NOT NULL,
    level          TEXT NOT NULL,         -- DEBUG, DEFAULT, WARNING, ERROR
    status_message TEXT,
    session_id     TEXT,                  -- chat thread id (Langfuse session)
    user_id        TEXT,
    trace_name     TEXT,
    model          TEXT,
    input          TEXT,                  -- JSON text, redacted
    output         TEXT,                  -- JSON text, redacted
    metadata       TEXT NOT NULL,         -- JSON object
    usage          TEXT NOT NULL,         -- JSON object: input, output, total tokens
    input_tokens   INTEGER,
    output_tokens  INTEGER,
    cost_usd       REAL,
    attributes     TEXT NOT NULL,         -- JSON object: other span attributes
    events         TEXT NOT NULL          -- JSON list of span events
);
CREATE INDEX IF NOT EXISTS observations_trace ON observations (trace_id, start_ns);
CREATE INDEX IF NOT EXISTS observations_session ON observations (session_id, start_ns);
CREATE TABLE IF NOT EXISTS scores (
    id             TEXT PRIMARY KEY,
    trace_id       TEXT NOT NULL,
    observation_id TEXT,
    name           TEXT NOT NULL,
    value,                                -- REAL for numeric/boolean scores, TEXT for categorical
    comment        TEXT,
    source         TEXT NOT NULL,         -- user, eval
    created_ns     INTEGER NOT NULL,
    langfuse       TEXT NOT NULL          -- local (no Langfuse), pending, sent, failed
);
CREATE INDEX IF NOT EXISTS scores_trace ON scores (trace_id);
"""

_OBSERVATION_COLUMNS = (
    "span_id", "trace_id", "parent_id", "name", "type", "start_ns", "end_ns", "level", "status_message",
    "session_id", "user_id", "trace_name", "model", "input", "output", "metadata", "usage", "input_tokens",
    "output_tokens", "cost_usd", "attributes", "events",
)  # fmt: skip
_JSON_COLUMNS = ("metadata", "usage", "attributes", "events")

_SUMMARY_SQL = """
SELECT trace_id,
       COALESCE(MAX(trace_name), (SELECT r.name FROM observations r WHERE r.trace_id = o.trace_id
                                  ORDER BY r.parent_id IS NOT NULL, r.start_ns LIMIT 1)) AS name,
       MAX(session_id) AS session_id, MIN(start_ns) AS start_ns, MAX(end_ns) AS end_ns,
       COUNT(*) AS observations, COALESCE(SUM(input_tokens), 0) AS input_tokens,
       COALESCE(SUM(output_tokens), 0) AS output_tokens, COALESCE(SUM(cost_usd), 0.0) AS cost_usd,
       SUM(level = 'ERROR') AS errors
FROM observations o
{where}
GROUP BY trace_id
ORDER BY start_ns DESC
LIMIT ?
"""


class TraceStore:
    """Reads and writes HOME/traces.db; every call opens its own short-lived connection (thread- and fork-safe).

    Args:
        path: The SQLite file; created with its schema on the first write.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: sqlite3.Connection | None = None  # kept open for the exporter's batches
        self._writer_lock = threading.Lock()

    def _open(self, *, write: bool) -> sqlite3.Connection:
        if write:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        if write:
            # WAL: readers (the CLI) never block the exporter. NORMAL: a commit is durable against a crash of
            # this process (not of the machine), and skips an fsync per batch.
            conn.execute("PRAGMA synchronous=NORMAL")
            if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                self._create_schema(conn)
        return conn

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        """Create the schema once: under the file's lock, re-checked inside it (another process may have won)."""
        with exclusive(self.path):
            if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                return
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _connect(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        with closing(self._open(write=write)) as conn, conn:  # one transaction, committed on success
            yield conn

    def write_observations(self, records: Sequence[ObservationRecord]) -> None:
        """Insert (or replace) observations in one transaction, on a connection kept open between batches.

        Args:
            records: Observations from the exporter.
        """
        rows = [_observation_row(r) for r in records]
        placeholders = ", ".join("?" for _ in _OBSERVATION_COLUMNS)
        sql = f"INSERT OR REPLACE INTO observations ({', '.join(_OBSERVATION_COLUMNS)}) VALUES ({placeholders})"
        with self._writer_lock:
            if self._writer is None:
                self._writer = self._open(write=True)
            try:
                with self._writer:
                    self._writer.executemany(sql, rows)
            except sqlite3.Error:
                self.close()  # the next batch reconnects (the file may have been replaced)
                raise

    def close(self) -> None:
        """Close the exporter's connection (the next write opens a new one)."""
        with self._writer_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def add_score(self, score: ScoreRecord) -> None:
        """Store a score (whether or not Langfuse also receives it)."""
        with self._connect(write=True) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (score.id, score.trace_id, score.observation_id, score.name, score.value, score.comment,
                 score.source, score.created_ns, score.langfuse),
            )  # fmt: skip

    def mark_score(self, score_id: str, delivery: ScoreDelivery) -> None:
        """Record whether Langfuse accepted a score."""
        with self._connect(write=True) as conn:
            conn.execute("UPDATE scores SET langfuse = ? WHERE id = ?", (delivery, score_id))

    def list_traces(self, *, session_id: str | None = None, limit: int = 20) -> list[TraceSummary]:
        """The most recent traces, newest first.

        Args:
            session_id: Only traces of this chat thread.
            limit: Most traces returned.

        Returns:
            One summary per trace (tokens and cost summed over its observations).
        """
        if not self.path.exists():
            return []
        where, params = ("WHERE trace_id IN (SELECT trace_id FROM observations WHERE session_id = ?)", [session_id])
        if session_id is None:
            where, params = "", []
        with self._connect(write=False) as conn:
            rows = conn.execute(_SUMMARY_SQL.format(where=where), [*params, limit]).fetchall()
        return [TraceSummary(**dict(row)) for row in rows]

    def resolve(self, reference: str) -> str:
        """A full trace id from a full id or a unique prefix.

        Args:
            reference: The id as the user typed it (at least 4 characters of a prefix).

        Returns:
            The full 32-character trace id.

        Raises:
            DataError: No stored trace matches, or the prefix is ambiguous.
        """
        ref = reference.strip().lower()
        if len(ref) < 4:
            raise DataError(f"trace id '{reference}' is too short; give at least 4 characters of it.")
        ids: list[str] = []
        if self.path.exists():
            with self._connect(write=False) as conn:
                rows = conn.execute(
                    "SELECT DISTINCT trace_id FROM observations WHERE trace_id LIKE ? LIMIT 5", (ref + "%",)
                ).fetchall()
            ids = [r[0] for r in rows]
        if not ids:
            raise DataError(f"no trace '{reference}' in {self.path}; `minivess traces list` shows the stored ones.")
        if len(ids) > 1:
            raise DataError(f"trace id prefix '{reference}' is ambiguous ({', '.join(ids)} …); give more of it.")
        return ids[0]

    def observations(self, trace_id: str) -> list[ObservationRecord]:
        """Every stored observation of one trace, in start order."""
        if not self.path.exists():
            return []
        with self._connect(write=False) as conn:
            rows = conn.execute(
                "SELECT * FROM observations WHERE trace_id = ? ORDER BY start_ns, end_ns", (trace_id,)
            ).fetchall()
        return [_observation_record(row) for row in rows]

    def scores(self, trace_id: str) -> list[ScoreRecord]:
        """Scores of one trace, oldest first."""
        if not self.path.exists():
            return []
        with self._connect(write=False) as conn:
            rows = conn.execute("SELECT * FROM scores WHERE trace_id = ? ORDER BY created_ns", (trace_id,)).fetchall()
        return [ScoreRecord(**dict(row)) for row in rows]

    def trace(self, reference: str) -> TraceDetail:
        """A whole trace as a tree with its scores.

        Args:
            reference: A full trace id or a unique prefix.

        Returns:
            The summary, the observation tree(s) and the scores.

        Raises:
            DataError: No such trace (or an ambiguous prefix).
        """
        trace_id = self.resolve(reference)
        records = self.observations(trace_id)
        with self._connect(write=False) as conn:
            row = conn.execute(_SUMMARY_SQL.format(where="WHERE trace_id = ?"), (trace_id, 1)).fetchone()
        return TraceDetail(summary=TraceSummary(**dict(row)), roots=build_tree(records), scores=self.scores(trace_id))


def _observation_row(record: ObservationRecord) -> tuple[Any, ...]:
    data = record.model_dump()
    data["input_tokens"] = record.input_tokens
    data["output_tokens"] = record.output_tokens
    for column in _JSON_COLUMNS:
        data[column] = json.dumps(data[column], default=str)
    return tuple(data[c] for c in _OBSERVATION_COLUMNS)


def _observation_record(row: sqlite3.Row) -> ObservationRecord:
    data = dict(row)
    data.pop("input_tokens")
    data.pop("output_tokens")
    for column in _JSON_COLUMNS:
        data[column] = json.loads(data[column])
    return ObservationRecord(**data)
