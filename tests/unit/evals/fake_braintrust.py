"""A local stand-in for the Braintrust API (127.0.0.1): answers the calls `Eval` makes and records them.

The endpoints are the ones braintrust 0.48's SDK calls for an experiment: API-key login on the app URL, then
project and experiment registration, the server version, row upload (/logs3) and the summary, all on the API URL
that the login response names (this server again).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    body: Any
    authorization: str | None


@dataclass
class FakeBraintrust:
    url: str
    requests: list[Request] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path.split('?')[0]}" for r in self.requests]

    def bodies(self, method: str, path: str) -> list[Any]:
        return [r.body for r in self.requests if r.method == method and r.path.split("?")[0] == path]


def _answer(path: str, body: Any, base: str) -> Any:
    if path == "/api/apikey/login":
        org = {"id": "org-test", "name": "test-org", "api_url": base, "proxy_url": base, "is_universal_api": False}
        return {"org_info": [org]}
    if path == "/v1/project":
        return {"id": "proj-1", "name": (body or {}).get("name", "project")}
    if path.startswith("/v1/experiment/") and path.endswith("/summarize"):
        return {"scores": {}, "metrics": {}}
    if path == "/v1/experiment":
        return {"id": "exp-1", "name": (body or {}).get("name") or "exp-1", "project_id": "proj-1"}
    return {}


@contextmanager
def fake_braintrust() -> Iterator[FakeBraintrust]:
    """Serve the fake API on a free local port for the duration of the block."""
    fake = FakeBraintrust(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                body = raw.decode("utf-8", "replace")
            fake.requests.append(Request(method, self.path, body, self.headers.get("Authorization")))
            data = json.dumps(_answer(self.path.split("?")[0], body, fake.url)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
