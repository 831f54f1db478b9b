"""Fixtures for tracing tests: tracers closed after each test, and a fake Langfuse (OTLP/HTTP + scores) server."""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from minivess.observability import reset_tracers

OTLP_PATH = "/api/public/otel/v1/traces"
SCORES_PATH = "/api/public/scores"


@pytest.fixture(autouse=True)
def _close_tracers() -> Iterator[None]:
    """Every test starts and ends without cached tracers (their threads are stopped)."""
    reset_tracers()
    yield
    reset_tracers()


@dataclass
class Received:
    """One request the fake Langfuse got: raw body as sent and the body after gzip decoding."""

    path: str
    headers: dict[str, str]  # names lower-cased (HTTP header names are case-insensitive)
    raw: bytes
    body: bytes


@dataclass
class SpanSeen:
    """A span decoded from an OTLP request."""

    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]
    scope_attributes: dict[str, Any]


def _any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None


class FakeLangfuse:
    """A tiny HTTP server on 127.0.0.1 answering like Langfuse's OTLP and score endpoints, recording requests."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
                with fake._lock:
                    fake.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, raw, body)
                    )
                if self.path == OTLP_PATH:
                    self._answer(200, "application/x-protobuf", ExportTraceServiceResponse().SerializeToString())
                elif self.path == SCORES_PATH:
                    self._answer(202, "application/json", json.dumps({"message": "Accepted"}).encode())
                else:
                    self._answer(404, "application/json", b"{}")

            def _answer(self, status: int, content_type: str, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def spans(self) -> list[SpanSeen]:
        """Every span received so far, decoded from the protobuf bodies."""
        seen = []
        for received in self.at(OTLP_PATH):
            request = ExportTraceServiceRequest()
            request.ParseFromString(received.body)
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    scope = {kv.key: _any_value(kv.value) for kv in scope_spans.scope.attributes}
                    for span in scope_spans.spans:
                        seen.append(
                            SpanSeen(
                                name=span.name,
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_id=span.parent_span_id.hex(),
                                attributes={kv.key: _any_value(kv.value) for kv in span.attributes},
                                scope_attributes=scope,
                            )
                        )
        return seen

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_langfuse(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLangfuse]:
    """A running fake Langfuse, configured through settings (keys + host) like a real one."""
    fake = FakeLangfuse()
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-test-0123456789")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-test-secret-9876543210abcdef")
    monkeypatch.setenv("LANGFUSE_HOST", fake.url)
    yield fake
    reset_tracers()
    fake.close()


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
