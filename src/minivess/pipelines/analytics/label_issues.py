"""Load every ``HOME/annotation/<version>/label_issues.parquet`` into the warehouse's ``label_issues`` table.

The tables are copied in at sync (readers have no file access), replaced whole each time; the files' sizes and
modification times form a signature kept with the sync state, so a new or rewritten table triggers a sync.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import duckdb

from minivess.pipelines.analytics.schema import LABEL_ISSUES_TABLE
from minivess.pipelines.annotation.layout import ANNOTATION_DIR, ISSUE_COLUMNS, ISSUE_TABLE_FILE

logger = logging.getLogger(__name__)

STATE_KEY = "label_issues_signature"


def issue_tables(home: Path) -> list[Path]:
    """The label-issue tables under the home, one per dataset version, sorted."""
    return sorted((home / ANNOTATION_DIR).glob(f"*/{ISSUE_TABLE_FILE}"))


def issues_signature(home: Path) -> str:
    """A digest of the tables' names, sizes and modification times ('' when there are none)."""
    parts = []
    for path in issue_tables(home):
        try:
            stat = path.stat()
        except OSError:  # removed since the listing: it is simply not there any more
            continue
        parts.append(f"{path.parent.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16] if parts else ""


def write_label_issues(con: duckdb.DuckDBPyConnection, home: Path) -> int:
    """Replace the ``label_issues`` rows by the tables now under the home; an unreadable file is skipped.

    Returns:
        Rows written.
    """
    import pyarrow as pa  # only when a sync writes the table, not when the warehouse is opened
    import pyarrow.parquet as pq

    con.execute(f"DELETE FROM {LABEL_ISSUES_TABLE}")
    written = 0
    for path in issue_tables(home):
        try:
            table = pq.read_table(path, columns=list(ISSUE_COLUMNS))
        except (OSError, pa.ArrowException, KeyError) as exc:
            logger.warning("label_issues: skipping unreadable %s (%s)", path, exc)
            continue
        version = pa.array([path.parent.name] * table.num_rows, type=pa.string())
        con.register("_stage_issues", table.add_column(0, "dataset_version", version))
        columns = ", ".join(["dataset_version", *ISSUE_COLUMNS])
        con.execute(f"INSERT INTO {LABEL_ISSUES_TABLE} ({columns}) SELECT {columns} FROM _stage_issues")
        con.unregister("_stage_issues")
        written += table.num_rows
    return written
