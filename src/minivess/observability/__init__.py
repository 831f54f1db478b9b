"""Tracing: every agent decision as an observation in a local SQLite store (HOME/traces.db) and in Langfuse.

Call sites use `get_tracer(settings)` and the `Tracer` protocol; nothing heavy is imported until a tracer is built.
"""

from __future__ import annotations

from minivess.observability.api import (
    NULL_TRACER,
    NullObservation,
    NullTracer,
    Observation,
    Tracer,
    TracingConfig,
    current_observation_id,
    current_trace_id,
    get_tracer,
    reset_tracers,
)
from minivess.observability.redact import Redactor
from minivess.observability.store import TraceStore

__all__ = [
    "NULL_TRACER",
    "NullObservation",
    "NullTracer",
    "Observation",
    "Redactor",
    "TraceStore",
    "Tracer",
    "TracingConfig",
    "current_observation_id",
    "current_trace_id",
    "get_tracer",
    "reset_tracers",
]
