"""The real tracer: Langfuse 5 observations on our own OTel provider, redacted, exported in the background."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from langfuse import propagate_attributes
from opentelemetry import context as otel_context

from minivess.observability.api import TracingConfig, current_trace_id
from minivess.observability.langfuse_spans import sdk_json, start_observation
from minivess.observability.models import Level, ObservationType, ScoreRecord, ScoreSource
from minivess.observability.pipeline import ScoreSender, build_pipeline, forget_langfuse_client
from minivess.observability.redact import Redactor
from minivess.observability.store import TraceStore

if TYPE_CHECKING:
    from minivess.settings import Settings

logger = logging.getLogger(__name__)

GENERATION_TYPES = frozenset({"generation", "embedding"})
# Exceptions that steer control flow (LangGraph interrupts and hand-offs) end an observation without an error.
CONTROL_FLOW = frozenset({"GraphBubbleUp", "GraphInterrupt", "NodeInterrupt", "ParentCommand"})
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_USAGE_KEYS = {"prompt_tokens": "input", "completion_tokens": "output", "total_tokens": "total"}

_ROOT: ContextVar[_Observation | None] = ContextVar("minivess_trace_root", default=None)


def usage_details(usage: Mapping[str, int]) -> dict[str, int]:
    """Token counts under Langfuse's keys (input, output, total); OpenAI-style names are accepted too."""
    out = {_USAGE_KEYS.get(k, k): int(v) for k, v in usage.items() if v is not None}
    if "total" not in out and ("input" in out or "output" in out):
        out["total"] = out.get("input", 0) + out.get("output", 0)
    return out


class _Observation:
    """Handle of one live observation: `update()` redacts and forwards to the Langfuse observation."""

    __slots__ = ("_generation", "_level_set", "_obs", "_redactor", "id", "trace_id")

    def __init__(self, obs: Any, redactor: Redactor, generation: bool) -> None:
        self._obs = obs
        self._redactor = redactor
        self._generation = generation
        self._level_set = False
        self.trace_id: str | None = obs.trace_id
        self.id: str | None = obs.id

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
    ) -> None:
        """Add what became known (output, tokens, cost …); usage/cost/model go to metadata on non-generations."""
        r = self._redactor
        meta = dict(metadata or {})
        kwargs: dict[str, Any] = {}
        if self._generation:
            if usage:
                kwargs["usage_details"] = sdk_json(usage_details(usage))
            if cost_usd is not None:
                kwargs["cost_details"] = sdk_json({"total": float(cost_usd)})
            if model:
                kwargs["model"] = model
            if model_parameters:
                kwargs["model_parameters"] = sdk_json(r.value(dict(model_parameters)))
        else:
            extra = {"usage": dict(usage) if usage else None, "cost_usd": cost_usd, "model": model}
            meta.update({k: v for k, v in extra.items() if v is not None})
        if output is not None:
            kwargs["output"] = r.payload(output)
        if input is not None:
            kwargs["input"] = r.payload(input)
        if meta:
            kwargs["metadata"] = r.value(meta)
        if level is not None:
            kwargs["level"] = level
            self._level_set = True
        if status_message:
            kwargs["status_message"] = r.string(status_message, 1000)
        if kwargs:
            self._obs.update(**kwargs)

    def fail(self, exc: BaseException) -> None:
        """Record an exception leaving the observation (redacted; control-flow exceptions are no error)."""
        control = any(cls.__name__ in CONTROL_FLOW for cls in type(exc).__mro__)
        interrupted = isinstance(exc, KeyboardInterrupt)  # Ctrl-C: stopped, not broken
        level: Level | None = (
            None if self._level_set else "DEFAULT" if control else "WARNING" if interrupted else "ERROR"
        )
        self.update(
            level=level, status_message=f"{type(exc).__name__}: {exc}", metadata={"exception": type(exc).__name__}
        )


class _PendingEvent:
    """`observe(..., as_type="event")`: collects updates and records one event when the block ends."""

    id: str | None = None

    def __init__(self, input: Any, metadata: Mapping[str, Any] | None) -> None:
        self.trace_id = current_trace_id()
        self.fields: dict[str, Any] = {"input": input, "metadata": dict(metadata or {})}

    def update(self, *, metadata: Mapping[str, Any] | None = None, **fields: Any) -> None:
        """Keep output, level, status_message (and merge metadata) for the event."""
        self.fields["metadata"].update(metadata or {})
        self.fields.update({k: v for k, v in fields.items() if k in ("output", "level", "status_message", "input")})


class LangfuseTracer:
    """Tracer writing the local store (always) and Langfuse (when keys are set). Build it with `get_tracer`.

    Args:
        config: Store path, Langfuse host/keys and timeouts.
        settings: Their secret values are masked wherever they appear.
    """

    enabled = True

    def __init__(self, config: TracingConfig, settings: Settings | None = None) -> None:
        self.config = config
        self.redactor = Redactor.from_settings(settings)
        self._pipeline = build_pipeline(config, self.redactor)
        self._langfuse = self._pipeline.langfuse
        self._scores = ScoreSender(self._pipeline, config.export_timeout_s)
        self._closed = False

    @property
    def store(self) -> TraceStore:
        return self._pipeline.store

    @property
    def langfuse_configured(self) -> bool:
        return self._pipeline.configured

    @contextmanager
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
    ) -> Iterator[_Observation]:
        """A new trace (e.g. one chat turn), even inside another one; `session_id` groups a thread's turns."""
        meta = self.redactor.value(dict(metadata or {}))
        fresh = otel_context.attach(otel_context.Context())  # a root of its own, not a child of the caller's span
        error: BaseException | None = None
        try:
            with self._start(name, as_type, input, meta) as obs:
                handle = _Observation(obs, self.redactor, as_type in GENERATION_TYPES)
                with propagate_attributes(
                    session_id=_ascii(session_id), user_id=_ascii(user_id), trace_name=_ascii(name),
                    tags=tags, metadata=_propagatable(meta),
                ):  # fmt: skip
                    root = _ROOT.set(handle)
                    try:
                        yield handle
                    except (Exception, KeyboardInterrupt) as exc:
                        handle.fail(exc)
                        error = exc
                    finally:
                        _ROOT.reset(root)
        finally:
            otel_context.detach(fresh)
        if error is not None:
            raise error

    def observe(
        self,
        name: str,
        *,
        as_type: ObservationType = "span",
        input: Any = None,
        metadata: Mapping[str, Any] | None = None,
        model: str | None = None,
        model_parameters: Mapping[str, Any] | None = None,
    ) -> AbstractContextManager[_Observation | _PendingEvent]:
        """A child of the active observation (or a new trace when there is none)."""
        if as_type == "event":
            return self._event_scope(name, input, metadata)
        return self._span_scope(name, as_type, input, metadata, model, model_parameters)

    @contextmanager
    def _span_scope(
        self,
        name: str,
        as_type: ObservationType,
        input: Any,
        metadata: Mapping[str, Any] | None,
        model: str | None,
        model_parameters: Mapping[str, Any] | None,
    ) -> Iterator[_Observation]:
        generation = as_type in GENERATION_TYPES
        meta = dict(metadata or {})
        if model and not generation:
            meta["model"] = model
        extra: dict[str, Any] = {}
        if generation:
            parameters = self.redactor.value(dict(model_parameters or {}))
            extra = {"model": model, "model_parameters": sdk_json(parameters) if parameters else None}
        error: BaseException | None = None
        with self._start(name, as_type, input, self.redactor.value(meta) or None, **extra) as obs:
            handle = _Observation(obs, self.redactor, generation)
            try:
                yield handle
            except (Exception, KeyboardInterrupt) as exc:  # recorded redacted here, never raw by OTel
                handle.fail(exc)
                error = exc
        if error is not None:
            raise error

    def _start(self, name: str, as_type: ObservationType, input: Any, metadata: Any, **extra: Any) -> Any:
        return start_observation(
            self._langfuse,
            self.redactor.string(name, 200),
            as_type,
            input=self.redactor.payload(input),
            metadata=metadata or None,
            **extra,
        )

    @contextmanager
    def _event_scope(self, name: str, input: Any, metadata: Mapping[str, Any] | None) -> Iterator[_PendingEvent]:
        pending = _PendingEvent(input, metadata)
        try:
            yield pending
        finally:
            self.event(name, **pending.fields)

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
        """A point-in-time observation under the active one (e.g. an epoch finished, an approval answered)."""
        r = self.redactor
        self._langfuse.create_event(
            name=r.string(name, 200),
            input=r.payload(input),
            output=r.payload(output),
            metadata=r.value(dict(metadata)) if metadata else None,
            level=level,
            status_message=r.string(status_message, 1000) if status_message else None,
        )

    def update_trace(self, *, output: Any = None, metadata: Mapping[str, Any] | None = None) -> None:
        """Update the root observation of the current `trace()` from anywhere inside it (e.g. an MLflow run id)."""
        root = _ROOT.get()
        if root is None:
            logger.debug("update_trace outside a trace: ignored")
            return
        root.update(output=output, metadata=metadata)

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
        """Score a trace: stored locally at once, sent to Langfuse in the background when configured.

        Args:
            trace_id: The full 32-hex trace id.
            name: Score name (e.g. ``user_feedback``).
            value: A number, a bool (stored as 1/0) or a category.
            comment: Free text (redacted).
            source: ``user`` (feedback) or ``eval``.
            observation_id: Score one observation of the trace instead of the whole trace.

        Returns:
            The score id.

        Raises:
            ValueError: The trace id is not 32 lowercase hex characters, or the name is empty.
        """
        if not _TRACE_ID.fullmatch(trace_id):
            raise ValueError(f"trace id '{trace_id}' is not 32 hex characters; `minivess traces list` shows ids.")
        if not name.strip():
            raise ValueError("a score needs a name, e.g. 'user_feedback'.")
        score = ScoreRecord(
            id=uuid.uuid4().hex, trace_id=trace_id, observation_id=observation_id, name=name.strip(),
            value=value if isinstance(value, str) else float(value),
            comment=self.redactor.string(comment, 1000) if comment else None, source=source,
            created_ns=time.time_ns(), langfuse="pending" if self.langfuse_configured else "local",
        )  # fmt: skip
        try:
            self.store.add_score(score)
        except (sqlite3.Error, OSError) as exc:
            self._pipeline.warn("could not store score %r in %s (%s)", name, self.store.path, exc)
        if self.langfuse_configured:
            self._scores.submit(score)
        return score.id

    def flush(self, timeout_s: float | None = None) -> bool:
        """Export what is queued (local store, Langfuse, scores), waiting at most `timeout_s` seconds.

        Returns:
            True when everything was handed to the exporters in time; the rest continues in the background.
        """
        timeout = self.config.flush_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        done = threading.Event()

        def run() -> None:
            try:
                self._pipeline.provider.force_flush()
            finally:
                done.set()

        threading.Thread(target=run, name="minivess-trace-flush", daemon=True).start()
        finished = done.wait(timeout)
        finished = self._scores.wait(max(0.0, deadline - time.monotonic())) and finished
        if not finished:
            self._pipeline.warn("tracing did not finish exporting within %.1f s; continuing in the background", timeout)
        return finished

    def close(self) -> None:
        """Flush (bounded), stop the exporters and release the Langfuse client's threads."""
        if self._closed:
            return
        self._closed = True
        self.flush()
        self._scores.close()
        self._pipeline.provider.shutdown()
        self._langfuse.shutdown()
        forget_langfuse_client(self._pipeline.public_key, only=getattr(self._langfuse, "_resources", None))


def _ascii(value: str | None) -> str | None:
    """Langfuse drops (with a warning) propagated values that are not ASCII or longer than 200 characters."""
    return value if value and value.isascii() and len(value) <= 200 else None


def _propagatable(metadata: Any) -> dict[str, Any] | None:
    """Trace-level metadata: only short scalar values (Langfuse's limit is 200 characters per value)."""
    if not isinstance(metadata, dict):
        return None
    short = {
        k: v
        for k, v in metadata.items()
        if k.isascii() and isinstance(v, str | int | float | bool) and len(json.dumps(v)) <= 200
    }
    return short or None
