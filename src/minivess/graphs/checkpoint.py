"""SQLite checkpointing of chat threads under the home directory (a thread survives a restart)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver

from minivess.fileio import exclusive
from minivess.settings import Settings

THREADS_DB = "agent/threads.db"


def threads_db(settings: Settings) -> Path:
    path = settings.home_dir / THREADS_DB
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def open_checkpointer(settings: Settings) -> SqliteSaver:
    """A SqliteSaver on HOME/agent/threads.db.

    WAL mode lets a second process read while one writes; synchronous=NORMAL keeps every commit safe against a
    crash of the process (a checkpoint survives kill -9) without an fsync per checkpoint. Switching to WAL and
    creating the tables happen under the file's lock: two processes starting on a fresh home do it one after
    the other (the second finds it done) instead of failing with ``database is locked``.
    """
    path = threads_db(settings)
    conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
    saver = SqliteSaver(conn)
    with exclusive(path):
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        saver.setup()
    return saver
