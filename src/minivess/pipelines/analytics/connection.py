"""DuckDB connections to the warehouse: a writer for sync, a locked-down reader for everything else.

DuckDB lets one process hold a file for writing, and no other process open it meanwhile, not even read-only.
Every connection is therefore opened under the warehouse's file lock (``fileio.exclusive``) and held only for
its ``with`` block: concurrent commands wait their turn (milliseconds) instead of failing on DuckDB's lock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from minivess.errors import AnalyticsError
from minivess.fileio import exclusive

logger = logging.getLogger(__name__)

DEFAULT_MEMORY_LIMIT = "1GB"


def _base_config(home: Path) -> dict[str, Any]:
    """Settings shared by every connection: no extension ever installs, loads or writes outside the home.

    Args:
        home: The minivess home; extension and temp folders live under it.
    """
    ext_dir = home / "duckdb" / "extensions"
    tmp_dir = home / "duckdb" / "tmp"
    ext_dir.mkdir(parents=True, exist_ok=True)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    return {
        "extension_directory": str(ext_dir),
        "temp_directory": str(tmp_dir),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "allow_unsigned_extensions": False,
        # Unknown table names must never resolve to Python variables of the caller.
        "python_enable_replacements": False,
        "memory_limit": DEFAULT_MEMORY_LIMIT,
    }


def _locked_error(path: Path, exc: duckdb.Error) -> AnalyticsError:
    return AnalyticsError(
        f"Cannot open the analytics warehouse {path}: {exc}. Another process (or an open connection in "
        "this one) may hold it; close it and retry, or point MINIVESS_DUCKDB_PATH at another file."
    )


@contextmanager
def connect_writer(path: Path, home: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for writing (sync only); always closed on exit.

    Args:
        path: The warehouse file (created if missing).
        home: The minivess home (extension/temp folders).

    Yields:
        A read-write connection.

    Raises:
        AnalyticsError: The file is locked or not a DuckDB database.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked_connection(path, read_only=False, config=_base_config(home)) as con:
        yield con


@contextmanager
def _locked_connection(path: Path, *, read_only: bool, config: dict[str, Any]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection held under the warehouse's inter-process lock (DuckDB allows one writer process)."""
    with exclusive(path):
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.Error as exc:
            raise _locked_error(path, exc) from exc
        try:
            yield con
        finally:
            con.close()


@contextmanager
def connect_reader(path: Path, home: Path, *, threads: int = 2) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse read-only with external access off and the configuration locked.

    Nothing run on this connection can write the file, touch other files, load extensions or change
    these settings (``lock_configuration``). Used for canned analytics and for guarded SQL.

    Args:
        path: The warehouse file (must exist).
        home: The minivess home.
        threads: DuckDB worker threads.

    Yields:
        A read-only connection.

    Raises:
        AnalyticsError: The warehouse is missing, locked or unreadable.
    """
    if not path.is_file():
        raise AnalyticsError(f"No analytics warehouse at {path}. Run `minivess runs sync` first.")
    config = _base_config(home) | {
        "enable_external_access": False,
        "threads": threads,
        "lock_configuration": True,
    }
    with _locked_connection(path, read_only=True, config=config) as con:
        yield con
