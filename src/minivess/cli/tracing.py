"""One trace per pipeline command run from the terminal (`train`, `evaluate`, `predict`, `calibrate`, `conformal`).

The same tracer, provider and local store as the agent's turns (`minivess traces list` shows them, tagged
``cli``); pipelines import no tracing, the command wraps them. With ``MINIVESS_TRACING=off`` it records nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # settings load when a command runs, not when the CLI starts
    from minivess.settings import Settings


@contextmanager
def traced_command(name: str, settings: Settings, inputs: dict[str, Any]) -> Iterator[Any]:
    """A root ``chain`` observation named ``name``; yields it so the command can set its output.

    A failure (or Ctrl-C) marks the trace as failed and propagates.
    """
    from minivess.observability import get_tracer

    with get_tracer(settings).trace(name, input=inputs, tags=["cli"], as_type="chain") as observation:
        yield observation
