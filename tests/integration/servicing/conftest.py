"""Servicing fixtures: tenants with keys of every role, and a local webhook receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

ROLES = ("admin", "operator", "partner", "reviewer")


@pytest.fixture
def keys(api: Any) -> dict[str, dict[str, str]]:
    """Two tenants, `acme` and `beta`, each with one key per role."""
    from chalicelib.services import personal_data

    personal_data.reset()
    out = {}
    for tenant in ("acme", "beta"):
        api.tenant(tenant)
        out[tenant] = {role: api.key(tenant, role) for role in ROLES}
    yield out
    personal_data.reset()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP endpoint on 127.0.0.1 that records every request and answers `status_for`."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    fail_next: int = 0  # answer 500 to this many requests, then 204
    always_fail: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, received: Received) -> int:
        with self.lock:
            self.requests.append(received)
            if self.always_fail:
                return 500
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503
            return 204


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(min(length, 1 << 20))
            status = state.answer(Received(self.path, {k.lower(): v for k, v in
                                                       self.headers.items()}, body))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
