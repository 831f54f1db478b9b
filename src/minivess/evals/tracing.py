"""Link eval cases to the traces of the chat turns they ran.

A chat turn is traced by `ChatSession` (one trace per turn, `TurnOutcome.trace_id`). Cases run in temp homes,
so their traces are first copied into the caller's local trace store (`import_traces`); then each case's scores
are written to its trace (`link_case_to_trace`, ``source="eval"``). With Langfuse configured, the turn's trace is
exported there too and the scores follow it. With tracing off (`MINIVESS_TRACING=off`) or a `TurnOutcome` without
a trace id, both do nothing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from minivess.settings import Settings

logger = logging.getLogger(__name__)

_TRACE_ID = re.compile(r"[0-9a-f]{32}")


def turn_trace_id(outcome: Any) -> str | None:
    """The 32-hex trace id of a chat turn (a `TurnOutcome`), or None when the turn was not traced."""
    value = getattr(outcome, "trace_id", None)
    return value if isinstance(value, str) and _TRACE_ID.fullmatch(value) else None


def import_traces(settings: Settings, source: Settings, trace_ids: Iterable[str]) -> int:
    """Copy chat-turn traces from a case's (temp) home into ``settings``' trace store, so they outlive it.

    Args:
        settings: Where the traces should end up (the home the evals were run from).
        source: The settings the cases ran with (their tracer is flushed first).
        trace_ids: The traces to copy.

    Returns:
        How many observations were copied (0 with tracing off or when the homes are the same).
    """
    wanted = [t for t in trace_ids if _TRACE_ID.fullmatch(t)]
    if not wanted or not settings.tracing or source.home_dir == settings.home_dir:
        return 0
    from minivess.observability import TraceStore, TracingConfig, get_tracer

    get_tracer(source).flush()
    origin = TraceStore(TracingConfig.from_settings(source).db_path)
    target = TraceStore(TracingConfig.from_settings(settings).db_path)
    copied = 0
    for trace_id in wanted:
        records = origin.observations(trace_id)
        if records:
            target.write_observations(records)
            copied += len(records)
    logger.debug("copied %d observations of %d traces into %s", copied, len(wanted), target.path)
    return copied


def link_case_to_trace(
    settings: Settings,
    trace_id: str | None,
    scores: Mapping[str, float | None],
    *,
    suite: str,
    case_id: str,
) -> int:
    """Write an eval case's scores to its chat turn's trace (``eval.<suite>.<scorer>``, source ``eval``).

    Args:
        settings: Settings whose tracer receives the scores (`get_tracer(settings)`).
        trace_id: The turn's 32-hex trace id; None does nothing.
        scores: Scorer → score; None scores (not applicable) are skipped.
        suite: Suite name, part of each score's name.
        case_id: Eval case id, put in each score's comment.

    Returns:
        How many scores were written (0 when there is no trace id or tracing is off).
    """
    if trace_id is None or not _TRACE_ID.fullmatch(trace_id):
        return 0
    from minivess.observability import get_tracer

    tracer = get_tracer(settings)
    if not tracer.enabled:
        return 0
    written = 0
    for name, value in scores.items():
        if value is None:
            continue
        tracer.score(trace_id, f"eval.{suite}.{name}", float(value), comment=f"eval case {case_id}", source="eval")
        written += 1
    return written


def trace_home(metadata: Mapping[str, Any] | None) -> Path | None:
    """The home a case's trace was written in (the task records it next to the trace id)."""
    value = (metadata or {}).get("trace_home")
    return Path(value) if isinstance(value, str) and value else None
