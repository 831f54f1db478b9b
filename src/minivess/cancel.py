"""Ctrl-C that stops what it started: a process-wide cancellation flag that long work checks.

LangGraph runs nodes on worker threads, so a KeyboardInterrupt lands in the main thread while a training loop
keeps running on another (STACK-NOTES). While `cancel_on_interrupt()` is active, SIGINT first sets `CANCELLED`
and then raises KeyboardInterrupt in the main thread; long work calls `check()` at every step or volume and
stops there with `Cancelled` (a KeyboardInterrupt, so the training engine marks its run KILLED).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

CANCELLED = threading.Event()


class Cancelled(KeyboardInterrupt):
    """Work stopped because the user pressed Ctrl-C."""


def check() -> None:
    """Raise `Cancelled` when Ctrl-C was pressed during the current `cancel_on_interrupt()` block.

    Raises:
        Cancelled: The user interrupted.
    """
    if CANCELLED.is_set():
        raise Cancelled("stopped by the user (Ctrl-C)")


@contextmanager
def cancel_on_interrupt() -> Iterator[None]:
    """While inside: Ctrl-C sets `CANCELLED` for every thread, then interrupts the main thread as usual.

    Outside the main thread, or when SIGINT is ignored (a background job), the handler is left as it is.
    """
    CANCELLED.clear()
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) in (
        signal.SIG_IGN,
        None,
    ):
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        CANCELLED.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
