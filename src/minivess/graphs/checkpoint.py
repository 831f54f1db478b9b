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
    """A SqliteSaver on HOME/agent/threads.db (WAL mode so a second process can read while one writes)."""
    conn = sqlite3.connect(threads_db(settings), check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    saver = SqliteSaver(conn)
    saver.setup()
    return saver
