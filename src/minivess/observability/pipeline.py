"""Builds the tracing pipeline: our own TracerProvider, its two exporters and a Langfuse 5 client on top of it."""

from __future__ import annotations

import logging
import math
import os
import random
import secrets
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import httpx
from langfuse import Langfuse
from langfuse._client.propagation import _get_propagated_attributes_from_context
from langfuse._client.span import _set_span_attributes_within_limit
from langfuse._client.span_processor import LangfuseSpanProcessor
from langfuse.api import CreateScoreRequest, ScoreDataType
from langfuse.api.core import ApiError
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator

from minivess.observability.api import TracingConfig
from minivess.observability.exporters import (
    DiscardExporter,
    LangfuseExporter,
    LocalStoreExporter,
    OfflineTransport,
    WarnOnce,
)
from minivess.observability.models import ScoreRecord
from minivess.observability.redact import Redactor
from minivess.observability.store import TraceStore

logger = logging.getLogger(__name__)

LOCAL_DELAY_MS = 500  # the local store is written at most this long after a span ends
LOCAL_QUEUE_SIZE = 65_536  # spans waiting for the store; OTel's default (2048) dropped spans in a 2000-span burst
LOCAL_BATCH_SIZE = 2048  # spans per SQLite transaction
# Langfuse writes each metadata key as its own attribute and drops (with a warning) what exceeds the limit;
# the redactor caps a mapping at 200 keys, so the OTel default of 128 attributes per span is too low.
MAX_SPAN_ATTRIBUTES = 512
OFFLINE_SECRET = "sk-lf-minivess-offline"  # a placeholder for the offline client, not a secret


@dataclass
class Pipeline:
    """Everything one tracer owns."""

    provider: TracerProvider
    langfuse: Langfuse
    store: TraceStore
    public_key: str  # what the Langfuse client is registered under (a random placeholder when offline)
    configured: bool  # whether spans and scores also go to Langfuse
    warn: WarnOnce = field(default_factory=WarnOnce)


# Ids come from a generator of our own, seeded from the OS's randomness at import and again in a forked child.
_IDS = random.Random(secrets.randbits(256))


def _reseed_ids() -> None:
    """A forked child must not replay its parent's ids."""
    _IDS.seed(secrets.randbits(256))


os.register_at_fork(after_in_child=_reseed_ids)


class SecretsIdGenerator(IdGenerator):
    """Trace and span ids from a private generator seeded from the OS's randomness (`secrets`).

    OTel's default ``RandomIdGenerator`` draws from the ``random`` module's global state, which training seeds
    (``seed_everything``): after ``random.seed(0)`` every process, and every training in one process, replayed the
    same ids, so new spans collided with stored ones and were dropped (a ``training finished`` event lost, traces
    of two processes sharing an id). Our generator is never seeded by anyone else; it is seeded from the OS once
    per process (and per fork) rather than per id: ``os.urandom`` is a system call per id (1–20 µs on our 2-core
    machine under load, ~50 ids per five chat turns).
    """

    def generate_span_id(self) -> int:
        span_id = _IDS.getrandbits(64)
        while span_id == otel_trace.INVALID_SPAN_ID:
            span_id = _IDS.getrandbits(64)
        return span_id

    def generate_trace_id(self) -> int:
        trace_id = _IDS.getrandbits(128)
        while trace_id == otel_trace.INVALID_TRACE_ID:
            trace_id = _IDS.getrandbits(128)
        return trace_id

    def is_trace_id_random(self) -> bool:
        return True


def _never(span: ReadableSpan) -> bool:
    return False


def build_pipeline(config: TracingConfig, redactor: Redactor) -> Pipeline:
    """A TracerProvider of our own (never the global one) with the local store and, when configured, Langfuse.

    Without keys the Langfuse client still creates the observations (so the local store holds exactly what
    Langfuse would receive), but under a random placeholder key with a discarding exporter: no network, and
    none of the SDK's per-call "no public key" warnings.

    Args:
        config: Store path, Langfuse host and keys, timeouts.
        redactor: Scrubs spans in both exporters.

    Returns:
        The pipeline.
    """
    warn = WarnOnce()
    store = TraceStore(config.db_path)
    provider = TracerProvider(
        resource=Resource.create({"service.name": "minivess"}),
        span_limits=SpanLimits(max_span_attributes=MAX_SPAN_ATTRIBUTES),
        id_generator=SecretsIdGenerator(),
    )
    provider.add_span_processor(
        BatchSpanProcessor(
            LocalStoreExporter(store, redactor, warn),
            schedule_delay_millis=LOCAL_DELAY_MS,
            max_queue_size=LOCAL_QUEUE_SIZE,
            max_export_batch_size=LOCAL_BATCH_SIZE,
        )
    )
    exporter: SpanExporter
    http_client: httpx.Client | None = None  # configured: the SDK builds its own (TLS, proxies from the env)
    if config.langfuse_configured and config.public_key and config.secret_key:
        public_key, secret_key = config.public_key, config.secret_key
        exporter = LangfuseExporter(
            host=config.host, public_key=public_key, secret_key=secret_key, redactor=redactor,
            timeout_s=config.export_timeout_s, warn=warn,
        )  # fmt: skip
    else:
        public_key, secret_key, exporter = (
            f"pk-lf-minivess-offline-{uuid.uuid4().hex}",
            OFFLINE_SECRET,
            DiscardExporter(),
        )
        # the SDK's sync REST client (scores, media, prompts) fails at once; its async one, never used, is its own
        http_client = httpx.Client(transport=OfflineTransport(), trust_env=False)
    forget_langfuse_client(public_key)
    client = Langfuse(
        public_key=public_key,
        secret_key=secret_key,
        base_url=config.host,
        timeout=max(1, math.ceil(config.export_timeout_s)),
        tracer_provider=provider,
        span_exporter=exporter,
        should_export_span=None if config.langfuse_configured else _never,
        httpx_client=http_client,
    )
    # Media upload would send binary payloads past our redaction; the redactor already replaces them by summaries.
    media = getattr(getattr(client, "_resources", None), "_media_manager", None)
    if media is not None and hasattr(media, "_enabled"):
        media._enabled = False
    if not config.langfuse_configured:
        offline_processor(provider)
    return Pipeline(provider, client, store, public_key, config.langfuse_configured, warn)


class PropagatedAttributes(SpanProcessor):
    """What Langfuse's span processor does at a span's start: the trace's session, user, name, tags and metadata
    (put in the context by `propagate_attributes`) become the span's attributes. Nothing else: it exports nothing.
    """

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        attributes = _get_propagated_attributes_from_context(parent_context or otel_context.get_current())
        if attributes:
            _set_span_attributes_within_limit(span, attributes)


def offline_processor(provider: TracerProvider) -> None:
    """Without keys, Langfuse's span processor is replaced by `PropagatedAttributes` (same spans, less work).

    Offline that processor exports nothing (``should_export_span`` is `_never`), so it marks no app root either;
    what it still did per span — the attribute copy, an app-root check, a project check and a dropped export at
    its end — cost ~25 µs of each observation's start on the calling thread. `tests/unit/observability/
    test_langfuse_spans.py` pins that the stored spans equal those made with the SDK's processor in place.
    """
    processors = provider._active_span_processor
    with processors._lock:
        langfuse = [p for p in processors._span_processors if isinstance(p, LangfuseSpanProcessor)]
        kept = tuple(p for p in processors._span_processors if p not in langfuse)
        processors._span_processors = (*kept, PropagatedAttributes())
    for processor in langfuse:
        processor.shutdown()  # type: ignore[no-untyped-call]  # its export thread; it never held a span


def forget_langfuse_client(public_key: str, only: object | None = None) -> None:
    """Drop Langfuse's process-wide resource singleton for this key (only if it is `only`, when given).

    Langfuse 5 keeps one resource manager per public key and reuses it for every later client with that key —
    including its tracer, which belongs to the *first* client's TracerProvider. A new minivess tracer (another
    home, or after `close()`) must get its own, or its spans would land in the old provider's store.
    """
    from langfuse._client.resource_manager import LangfuseResourceManager

    instances = getattr(LangfuseResourceManager, "_instances", None)
    if isinstance(instances, dict):
        with LangfuseResourceManager._lock:
            if only is not None and instances.get(public_key) is not only:
                return
            if instances.pop(public_key, None) is not None:
                logger.debug("released the Langfuse client registered for %s…", public_key[:12])


class ScoreSender:
    """Sends scores to Langfuse's REST API (`POST /api/public/scores`) on one background thread.

    Args:
        pipeline: Supplies the Langfuse client, the store (delivery status) and the warn-once reporter.
        timeout_s: Per-request time limit; no retries (the score stays in the local store either way).
    """

    def __init__(self, pipeline: Pipeline, timeout_s: float) -> None:
        self._pipeline = pipeline
        self._timeout = max(1, math.ceil(timeout_s))
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._pending: set[Future[None]] = set()

    def submit(self, score: ScoreRecord) -> None:
        """Queue one score for Langfuse (returns at once)."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="minivess-scores")
            future = self._executor.submit(self._send, score)
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def wait(self, timeout_s: float) -> bool:
        """Wait for queued scores; True when none is left."""
        with self._lock:
            pending = set(self._pending)
        return not wait(pending, timeout=timeout_s).not_done if pending else True

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=False)

    def _send(self, score: ScoreRecord) -> None:
        data_type = ScoreDataType.CATEGORICAL if isinstance(score.value, str) else ScoreDataType.NUMERIC
        request = CreateScoreRequest(
            id=score.id, trace_id=score.trace_id, observation_id=score.observation_id, name=score.name,
            value=score.value, comment=score.comment, data_type=data_type, metadata={"source": score.source},
        )  # fmt: skip
        store = self._pipeline.store
        try:
            self._pipeline.langfuse.api.scores.create(
                request=[request], request_options={"timeout_in_seconds": self._timeout, "max_retries": 0}
            )
        except (httpx.HTTPError, ApiError, ValueError) as exc:
            store.mark_score(score.id, "failed")
            self._pipeline.warn("Langfuse did not accept score %r (%s); it stays in the local store.", score.name, exc)
            return
        store.mark_score(score.id, "sent")
