"""The tracing API the rest of minivess calls: `get_tracer(settings)`, the `Tracer` protocol and the no-op tracer.

This module is cheap to import (no Langfuse, no OTel SDK): the real tracer is built lazily on first use.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import trace as otel_trace

from minivess.observability.models import Level, ObservationType, ScoreSource
from minivess.observability.store import STORE_FILENAME

if TYPE_CHECKING:
    from minivess.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_LANGFUSE_HOST = "https://cloud.langfuse.com"
EXPORT_TIMEOUT_S = 2.0  # one OTLP export to Langfuse, retries included
FLUSH_TIMEOUT_S = 2.0  # the most `flush()` waits, whatever the network does
MAX_TRACERS = 4  # tracers kept alive per process (one per home/keys); older ones are closed


class Observation(Protocol):
    """What `Tracer.trace` / `Tracer.observe` yield: ids plus `update()` for what is known later."""

    @property
    def trace_id(self) -> str | None: ...

    @property
    def id(self) -> str | None: ...

    def update(
        self,
        *,
        output: Any = None,
        input: Any = None,
        metadata: Mapping[str, Any] | None = None,
        usage: Mapping[str, int] | None = None,
        cost_usd: float | None = None,
        model: str | None = None,
        model_parameters: Mapping[str, Any] | None = None,
        level: Level | None = None,
        status_message: str | None = None,
    ) -> None: ...


class Tracer(Protocol):
    """Traces agent decisions. Obtain one with `get_tracer(settings)`; every method is cheap and never raises
    because of the tracing backend (a down Langfuse only costs one warning)."""

    @property
    def enabled(self) -> bool:
        """False for the no-op tracer (`MINIVESS_TRACING=off`)."""
        ...

    def trace(
        self,
        name: str,
        *,
        session_id: str | None = None,
        input: Any = None,
        metadata: Mapping[str, Any] | None = None,
        user_id: str | None = None,
        tags: list[str] | None = None,
        as_type: ObservationType = "span",
    ) -> AbstractContextManager[Observation]:
        """Start a new trace (one chat turn), also when called inside another observation.

        Args:
            name: Trace name (also the root observation's name).
            session_id: Groups traces in Langfuse sessions (the chat thread id).
            input: What started it (redacted, summarised).
            metadata: Shown on the root; short scalar values also become trace metadata.
            user_id: Langfuse user id.
            tags: Langfuse trace tags.
            as_type: Observation type of the root (``agent`` for a chat turn).

        Returns:
            A context manager yielding the root's handle (`trace_id`, `update`); an exception leaving it is
            recorded (level ERROR, redacted message) and re-raised.
        """
        ...

    def observe(
        self,
        name: str,
        *,
        as_type: ObservationType = "span",
        input: Any = None,
        metadata: Mapping[str, Any] | None = None,
        model: str | None = None,
        model_parameters: Mapping[str, Any] | None = None,
    ) -> AbstractContextManager[Observation]:
        """Observe a step as a child of the active observation (a new trace when there is none).

        Args:
            name: Observation name (node, tool or model call).
            as_type: span, generation (LLM call: model/usage/cost render), tool, agent, chain, event …
            input: What the step saw (redacted, summarised).
            metadata: Extra facts (redacted).
            model: Model name (generation); other types keep it in metadata.
            model_parameters: Temperature, timeout … (generation).

        Returns:
            A context manager yielding the handle; exceptions are recorded and re-raised. LangGraph control
            flow (interrupts) is recorded without an error. ``as_type="event"`` records one event at the end.
        """
        ...

    def event(
        self,
        name: str,
        *,
        input: Any = None,
        output: Any = None,
        metadata: Mapping[str, Any] | None = None,
        level: Level | None = None,
        status_message: str | None = None,
    ) -> None:
        """Record a point-in-time event under the active observation (epoch finished, approval answered)."""
        ...

    def update_trace(self, *, output: Any = None, metadata: Mapping[str, Any] | None = None) -> None:
        """Update the current `trace()` root from anywhere inside it (e.g. ``{"mlflow_run_id": …}``)."""
        ...

    def score(
        self,
        trace_id: str,
        name: str,
        value: float | bool | str,
        *,
        comment: str | None = None,
        source: ScoreSource = "user",
        observation_id: str | None = None,
    ) -> str | None:
        """Score a trace: stored locally at once, sent to Langfuse (REST, background) when configured.

        Args:
            trace_id: Full 32-hex trace id.
            name: e.g. ``user_feedback``.
            value: Number, bool (stored as 1/0) or category text.
            comment: Why (redacted).
            source: ``user`` or ``eval``.
            observation_id: Score one observation instead of the whole trace.

        Returns:
            The score id (None from the no-op tracer).

        Raises:
            ValueError: A malformed trace id or an empty name.
        """
        ...

    def flush(self, timeout_s: float = FLUSH_TIMEOUT_S) -> bool:
        """Export what is queued, waiting at most `timeout_s`; True when everything went out in time."""
        ...

    def close(self) -> None:
        """Flush (bounded) and stop the exporters' threads."""
        ...


class NullObservation:
    """The handle of a disabled tracer: accepts every update and records nothing."""

    __slots__ = ()

    trace_id: str | None = None
    id: str | None = None

    def __enter__(self) -> NullObservation:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, **_: Any) -> None:
        """Ignore the update."""


_NULL = NullObservation()


class NullTracer:
    """Tracing off (`MINIVESS_TRACING=off`): the same API, no work, nothing written."""

    enabled = False

    def trace(self, name: str, **_: Any) -> NullObservation:
        return _NULL

    def observe(self, name: str, **_: Any) -> NullObservation:
        return _NULL

    def event(self, name: str, **_: Any) -> None:
        """Ignore the event."""

    def update_trace(self, **_: Any) -> None:
        """Ignore the update."""

    def score(self, trace_id: str, name: str, value: float | bool | str, **_: Any) -> str | None:
        return None

    def flush(self, timeout_s: float = FLUSH_TIMEOUT_S) -> bool:
        return True

    def close(self) -> None:
        """Nothing to close."""


NULL_TRACER = NullTracer()


@dataclass(frozen=True)
class TracingConfig:
    """Where traces go: the local store always; Langfuse when both keys are set."""

    db_path: Path
    host: str = DEFAULT_LANGFUSE_HOST
    public_key: str | None = None
    secret_key: str | None = None
    export_timeout_s: float = EXPORT_TIMEOUT_S
    flush_timeout_s: float = FLUSH_TIMEOUT_S

    @property
    def langfuse_configured(self) -> bool:
        return bool(self.public_key and self.secret_key)

    @classmethod
    def from_settings(cls, settings: Settings) -> TracingConfig:
        """Read the store path and Langfuse keys/host from settings (a half-configured Langfuse warns once)."""
        public = settings.langfuse_public_key.get_secret_value() if settings.langfuse_public_key else None
        secret = settings.langfuse_secret_key.get_secret_value() if settings.langfuse_secret_key else None
        if bool(public) != bool(secret) or (settings.langfuse_host and not (public and secret)):
            missing = "LANGFUSE_PUBLIC_KEY" if not public else "LANGFUSE_SECRET_KEY"
            _warn_once_per_config(f"Langfuse export is off: {missing} is not set (traces stay local).")
        return cls(
            db_path=settings.home_dir / STORE_FILENAME,
            host=(settings.langfuse_host or DEFAULT_LANGFUSE_HOST).rstrip("/"),
            public_key=public or None,
            secret_key=secret or None,
        )

    def cache_key(self) -> tuple[str, ...]:
        secret = hashlib.sha256((self.secret_key or "").encode()).hexdigest()
        return (str(self.db_path), self.host, self.public_key or "", secret)


_WARNED: set[str] = set()


def _warn_once_per_config(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        logger.warning(message)


_LOCK = threading.Lock()
_TRACERS: OrderedDict[tuple[str, ...], Tracer] = OrderedDict()
# The settings fields a TracingConfig is made of → (cache key, tracer): call sites ask for the tracer on every node,
# LLM call and tool call, and building the config (paths, a SHA-256 of the secret) cost ~20-50 µs each time.
_BY_FIELDS: dict[tuple[Any, ...], tuple[tuple[str, ...], Tracer]] = {}


def get_tracer(settings: Settings) -> Tracer:
    """The process's tracer for these settings (cached per home and Langfuse keys; built on first use).

    Args:
        settings: Effective settings; `settings.tracing` False gives the no-op tracer.

    Returns:
        A `Tracer`: the real one writing HOME/traces.db (+ Langfuse when configured), or `NULL_TRACER`.
    """
    if not settings.tracing:
        return NULL_TRACER
    fields = _config_fields(settings)
    with _LOCK:
        known = _BY_FIELDS.get(fields)
        if known is not None and _TRACERS.get(known[0]) is known[1]:
            _TRACERS.move_to_end(known[0])
            return known[1]
    config = TracingConfig.from_settings(settings)
    key = config.cache_key()
    with _LOCK:
        tracer = _TRACERS.get(key)
        if tracer is not None:
            _TRACERS.move_to_end(key)
            _BY_FIELDS[fields] = (key, tracer)
            return tracer
        from minivess.observability.tracer import LangfuseTracer  # heavy imports only when tracing is used

        stale = [k for k in _TRACERS if k[2] and k[2] == key[2]]  # one Langfuse client per public key
        while len(_TRACERS) - len(stale) >= MAX_TRACERS:
            stale.append(next(k for k in _TRACERS if k not in stale))
        for old in stale:
            _TRACERS.pop(old).close()
        _forget_closed()
        tracer = _TRACERS[key] = LangfuseTracer(config, settings)
        _BY_FIELDS[fields] = (key, tracer)
        return tracer


def _config_fields(settings: Settings) -> tuple[Any, ...]:
    """The settings values `TracingConfig.from_settings` reads (SecretStr compares and hashes by its value)."""
    return (settings.home_dir, settings.langfuse_host, settings.langfuse_public_key, settings.langfuse_secret_key)


def _forget_closed() -> None:
    """Drop shortcuts to tracers no longer cached (call with `_LOCK` held)."""
    for fields, (key, tracer) in list(_BY_FIELDS.items()):
        if _TRACERS.get(key) is not tracer:
            del _BY_FIELDS[fields]


def reset_tracers() -> None:
    """Flush and close every cached tracer (tests; long-lived processes that change settings)."""
    with _LOCK:
        tracers = list(_TRACERS.values())
        _TRACERS.clear()
        _BY_FIELDS.clear()
    for tracer in tracers:
        tracer.close()


def current_trace_id() -> str | None:
    """The 32-hex trace id of the active observation (the Langfuse trace id), or None outside any trace."""
    context = otel_trace.get_current_span().get_span_context()
    return otel_trace.format_trace_id(context.trace_id) if context.is_valid else None


def current_observation_id() -> str | None:
    """The 16-hex id of the active observation, or None outside any trace."""
    context = otel_trace.get_current_span().get_span_context()
    return otel_trace.format_span_id(context.span_id) if context.is_valid else None
