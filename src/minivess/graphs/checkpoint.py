"""SQLite checkpointing of chat threads under the home directory (a thread survives a restart)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver

from minivess.settings import Settings

THREADS_DB = "agent/threads.db"


def threads_db(settings: Settings) -> Path:
    path = settings.home_dir / THREADS_DB
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def open_checkpointer(settings: Settings) -> SqliteSaver:
    """A SqliteSaver on HOME/agent/threads.db.

    WAL mode lets a second process read while one writes; synchronous=NORMAL keeps every commit safe against a
    crash of the process (a checkpoint survives kill -9) without an fsync per checkpoint.
    """
    conn = sqlite3.connect(threads_db(settings), check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    saver = SqliteSaver(conn)
    saver.setup()
    return saver
