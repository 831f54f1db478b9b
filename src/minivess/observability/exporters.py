"""Span exporters: the local SQLite store (always) and Langfuse's OTLP endpoint, both scrubbed before writing."""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from langfuse import LangfuseOtelSpanAttributes as A
from langfuse._version import __version__ as langfuse_version
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status, StatusCode, format_span_id, format_trace_id

from minivess.observability.models import ObservationRecord
from minivess.observability.redact import Redactor
from minivess.observability.store import TraceStore

logger = logging.getLogger(__name__)

OTLP_PATH = "/api/public/otel/v1/traces"  # where Langfuse 5's span processor posts (LangfuseSpanProcessor)
RETRY_AFTER_S = 30.0  # after a failed export, Langfuse is skipped this long (spans stay in the local store)

_CONSUMED = {
    A.OBSERVATION_TYPE, A.OBSERVATION_INPUT, A.OBSERVATION_OUTPUT, A.OBSERVATION_MODEL, A.OBSERVATION_LEVEL,
    A.OBSERVATION_STATUS_MESSAGE, A.OBSERVATION_USAGE_DETAILS, A.OBSERVATION_COST_DETAILS, A.TRACE_SESSION_ID,
    A.TRACE_USER_ID, A.TRACE_NAME,
}  # fmt: skip
_METADATA_PREFIX = A.OBSERVATION_METADATA + "."
_TRACE_METADATA_PREFIX = A.TRACE_METADATA + "."
# Attributes the Langfuse SDK sets only from values our tracer passed through `Redactor.value` (masked there, with a
# per-string cache): scanning their JSON again here cost more than the rest of tracing on 2 cores.
_PRE_REDACTED = frozenset({A.OBSERVATION_INPUT, A.OBSERVATION_OUTPUT, A.OBSERVATION_METADATA,
                           A.OBSERVATION_MODEL_PARAMETERS})  # fmt: skip
_PRE_REDACTED_PREFIXES = (_METADATA_PREFIX, _TRACE_METADATA_PREFIX)


class WarnOnce:
    """Logs the first problem as a warning and later ones at debug level (one warning per tracer, not per call)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.fired = False

    def __call__(self, message: str, *args: object) -> None:
        with self._lock:
            first, self.fired = not self.fired, True
        logger.log(logging.WARNING if first else logging.DEBUG, message, *args)


def scrub_span(span: ReadableSpan, redactor: Redactor) -> ReadableSpan:
    """A copy of a finished span whose name, string attributes, events and status carry no known secret.

    This is the export-stage safety net behind the call-site redaction: it also covers what never went through
    our API (exception events, status descriptions, attributes set by libraries).

    Args:
        span: A finished span.
        redactor: Knows the secret values and patterns.

    Returns:
        The scrubbed copy (same ids, times, parent, resource and scope).
    """
    status = span.status
    description = redactor.text(status.description) if status.description else None
    return ReadableSpan(
        name=redactor.text(span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_scrub_attributes(span.attributes, redactor),
        events=[Event(e.name, _scrub_attributes(e.attributes, redactor), e.timestamp) for e in span.events],
        links=span.links,
        kind=span.kind,
        status=Status(status.status_code, description) if status.status_code is StatusCode.ERROR else status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _scrub_attributes(attributes: Mapping[str, Any] | None, redactor: Redactor) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if key in _PRE_REDACTED or key.startswith(_PRE_REDACTED_PREFIXES):
            out[key] = value  # set only from `Redactor.value` output by our tracer: already fully masked
        elif isinstance(value, str):
            out[key] = redactor.text(value)
        elif isinstance(value, tuple | list):
            out[key] = tuple(redactor.text(v) if isinstance(v, str) else v for v in value)
        else:
            out[key] = value
    return out


def span_to_record(span: ReadableSpan) -> ObservationRecord:
    """Read Langfuse's attributes off a (scrubbed) span into a store record."""
    attrs = dict(span.attributes or {})
    context, parent = span.context, span.parent
    if context is None:
        raise ValueError(f"span '{span.name}' has no context; only finished SDK spans can be stored.")
    level = str(attrs.get(A.OBSERVATION_LEVEL) or "DEFAULT")
    if span.status.status_code is StatusCode.ERROR and level == "DEFAULT":
        level = "ERROR"
    usage = _json_dict(attrs.get(A.OBSERVATION_USAGE_DETAILS))
    cost = _json_dict(attrs.get(A.OBSERVATION_COST_DETAILS))
    metadata = {k.removeprefix(_METADATA_PREFIX): _loads(v) for k, v in attrs.items() if k.startswith(_METADATA_PREFIX)}
    if A.OBSERVATION_METADATA in attrs:
        metadata["_"] = _loads(attrs[A.OBSERVATION_METADATA])
    rest = {
        k: list(v) if isinstance(v, tuple) else _loads(v) if k.startswith(_TRACE_METADATA_PREFIX) else v
        for k, v in attrs.items()
        if k not in _CONSUMED and not k.startswith(_METADATA_PREFIX) and not k.startswith("langfuse.internal.")
    }
    return ObservationRecord(
        trace_id=format_trace_id(context.trace_id),
        span_id=format_span_id(context.span_id),
        parent_id=format_span_id(parent.span_id) if parent is not None else None,
        name=span.name,
        type=str(attrs.get(A.OBSERVATION_TYPE) or "span"),
        start_ns=span.start_time or 0,
        end_ns=span.end_time or span.start_time or 0,
        level=level,
        status_message=_str(attrs.get(A.OBSERVATION_STATUS_MESSAGE)) or span.status.description,
        session_id=_str(attrs.get(A.TRACE_SESSION_ID)),
        user_id=_str(attrs.get(A.TRACE_USER_ID)),
        trace_name=_str(attrs.get(A.TRACE_NAME)),
        model=_str(attrs.get(A.OBSERVATION_MODEL)),
        input=_str(attrs.get(A.OBSERVATION_INPUT)),
        output=_str(attrs.get(A.OBSERVATION_OUTPUT)),
        metadata=metadata,
        usage={k: int(v) for k, v in usage.items() if isinstance(v, int | float)},
        cost_usd=float(cost["total"]) if isinstance(cost.get("total"), int | float) else None,
        attributes=rest,
        events=[
            {"name": e.name, "timestamp_ns": e.timestamp, "attributes": dict(e.attributes or {})} for e in span.events
        ],
    )


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _loads(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _json_dict(value: Any) -> dict[str, Any]:
    parsed = _loads(value)
    return parsed if isinstance(parsed, dict) else {}


class LocalStoreExporter(SpanExporter):
    """Writes finished spans to the local SQLite store (runs on the batch processor's thread, never the caller's).

    Args:
        store: The trace store.
        redactor: Scrubs every span before it is written.
        warn: Reports the first write failure.
    """

    def __init__(self, store: TraceStore, redactor: Redactor, warn: WarnOnce) -> None:
        self.store = store
        self._redactor = redactor
        self._warn = warn

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            self.store.write_observations([span_to_record(scrub_span(s, self._redactor)) for s in spans])
        except (sqlite3.Error, OSError, ValueError) as exc:
            self._warn(
                "could not write traces to %s (%s); tracing continues without the local store", self.store.path, exc
            )
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Close the store's writer connection."""
        self.store.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class OfflineTransport(httpx.BaseTransport):
    """The offline Langfuse client's HTTP transport: every request fails at once, nothing leaves the machine.

    Handing the SDK a client on this transport also spares it building a TLS context (loading the CA bundle,
    ~70 ms) for a client that must never be used.
    """

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"offline: no Langfuse keys are configured, {request.url.host} is not contacted")


class DiscardExporter(SpanExporter):
    """Where Langfuse's span processor sends spans when no Langfuse keys are configured: nowhere."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _Demoted:
    """Stands in for the OTLP client's logger: its retry and failure messages become debug lines (we warn once)."""

    def __getattr__(self, name: str) -> Any:
        return logger.debug


def langfuse_headers(public_key: str, secret_key: str) -> dict[str, str]:
    """The headers Langfuse's own span processor sends: Basic auth of public:secret plus SDK identification."""
    token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode("ascii")
    return {
        "Authorization": f"Basic {token}",
        "x-langfuse-sdk-name": "python",
        "x-langfuse-sdk-version": langfuse_version,
        "x-langfuse-public-key": public_key,
        "x-langfuse-ingestion-version": "4",
    }


class LangfuseExporter(SpanExporter):
    """OTLP/HTTP export to Langfuse (gzip, bounded timeout), scrubbed; after a failure Langfuse is skipped a while.

    Args:
        host: Langfuse base URL (cloud or self-hosted).
        public_key: Langfuse public key.
        secret_key: Langfuse secret key.
        redactor: Scrubs every span before it leaves the process.
        timeout_s: Per-export time limit (retries included).
        warn: Reports the first failure (one warning per tracer).
    """

    def __init__(
        self, *, host: str, public_key: str, secret_key: str, redactor: Redactor, timeout_s: float, warn: WarnOnce
    ) -> None:
        self.endpoint = host.rstrip("/") + OTLP_PATH
        self._otlp = OTLPSpanExporter(
            endpoint=self.endpoint,
            headers=langfuse_headers(public_key, secret_key),
            timeout=timeout_s,
            compression=Compression.Gzip,
        )
        client = getattr(self._otlp, "_client", None)
        if client is not None and hasattr(client, "_logger"):
            client._logger = _Demoted()  # its per-batch retry/failure logs would repeat on every flush
        self._redactor = redactor
        self._warn = warn
        self._skip_until = 0.0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if time.monotonic() < self._skip_until:
            return SpanExportResult.FAILURE
        result = self._otlp.export([scrub_span(s, self._redactor) for s in spans])
        if result is SpanExportResult.SUCCESS:
            self._skip_until = 0.0
            return result
        self._skip_until = time.monotonic() + RETRY_AFTER_S
        self._warn(
            "Langfuse did not accept traces at %s; they stay in the local store (`minivess traces list`). "
            "Check LANGFUSE_HOST and the keys.",
            self.endpoint,
        )
        return result

    def shutdown(self) -> None:
        self._otlp.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
