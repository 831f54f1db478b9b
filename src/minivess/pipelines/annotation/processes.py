"""Whether processes are alive, from signals and /proc (zombies do not count): for the server and stale builds."""

from __future__ import annotations

import os
from pathlib import Path


def stat_fields(stat: Path) -> list[str] | None:
    """A /proc/PID/stat line after the command name: state, ppid, pgrp, … (None if the process is gone)."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def is_live_process(pid: int, program: str = "label-studio") -> bool:
    """Whether ``pid`` is a live (not zombie) process of ``program`` of ours; a recycled pid of another is not."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):  # gone, or someone else's: not a process we started
        return False
    proc = Path("/proc") / str(pid)
    if not proc.is_dir():  # no procfs (macOS): the signal check is all we have
        return True
    fields = stat_fields(proc / "stat")
    try:
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return False
    return fields is not None and fields[0] != "Z" and program in cmdline


def group_alive(pgid: int) -> bool:
    """Whether a live process of the group is left (zombies do not count: an init that never reaps keeps them)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not Path("/proc/self").is_dir():
        return True
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = stat_fields(stat)
        if fields is not None and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False
