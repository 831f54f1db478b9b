"""Atomic file writes (a temp file, then os.replace: readers never see half a file) and inter-process locks."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from pydantic import BaseModel

from minivess.errors import PipelineError

LOCK_TIMEOUT_S = 120.0


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, payload: Any) -> None:
    """Write JSON (a pydantic model or plain data) atomically, pretty-printed and key-sorted."""
    if isinstance(payload, BaseModel):
        text = payload.model_dump_json(indent=2)
    else:
        text = json.dumps(payload, indent=2, sort_keys=True, default=str)
    write_text_atomic(path, text + "\n")


def lock_path(resource: Path) -> Path:
    """The lock file that guards ``resource``: ``RESOURCE.lock`` beside it."""
    return resource.with_name(f"{resource.name}.lock")


@contextmanager
def exclusive(resource: Path, timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold an inter-process lock on ``resource`` (a store file) while creating, migrating or using it.

    The lock is an OS file lock (flock) on ``RESOURCE.lock``: it dies with its process, so a killed process
    never leaves a stale lock. It is re-entrant within a thread and serialises threads as well as processes.

    Args:
        resource: The file the lock guards (it need not exist yet; its folder is created).
        timeout_s: How long to wait for another process before giving up.

    Raises:
        PipelineError: Another process held the lock for longer than ``timeout_s``.
    """
    path = lock_path(resource)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(path.parent, os.W_OK):
        # A read-only folder: nobody can create or migrate a store there, so there is nothing to serialise.
        yield
        return
    lock = FileLock(path, is_singleton=True)
    try:
        lock.acquire(timeout=timeout_s)
    except Timeout as exc:
        raise PipelineError(
            f"another minivess process has held {path} for over {timeout_s:.0f} s; wait for it to finish "
            "(or stop it) and retry."
        ) from exc
    try:
        yield
    finally:
        lock.release()
