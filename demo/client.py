"""An HTTP client that behaves as a careful partner: one Idempotency-Key per logical request,
kept across its retries, and retries with jittered exponential backoff on 409 (in flight or a
transaction conflict), 429 and 503, and on dropped connections. Counts every request."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

RETRY_STATUSES = {409, 429, 503}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class Stats:
    requests: int = 0
    retries: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)  # 5xx nobody recovered from
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int) -> None:
        with self.lock:
            self.requests += 1
            self.by_status[status] += 1

    def retried(self) -> None:
        with self.lock:
            self.retries += 1

    def failed(self, what: str) -> None:
        with self.lock:
            self.server_errors.append(what)


class Api:
    def __init__(self, base: str, *, attempts: int = 8, timeout: float = 120.0) -> None:
        self.base = base.rstrip("/")
        self.attempts = attempts
        self.timeout = timeout
        self.stats = Stats()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = self._local.session = requests.Session()
        return s

    def call(self, method: str, path: str, key: str | None = None, body: Any = None, *,
             params: dict[str, str] | None = None, data: bytes | None = None,
             headers: dict[str, str] | None = None, idempotent: bool = True,
             retry: set[int] = RETRY_STATUSES) -> requests.Response:
        """One logical request. A 5xx left after the retries (or any 5xx but a retried 503)
        is recorded as a server error: the demo fails on it."""
        h = dict(headers or {})
        if key:
            h["Authorization"] = f"Bearer {key}"
        if method in WRITE_METHODS and idempotent:
            h["Idempotency-Key"] = f"demo-{uuid.uuid4()}"
        kw: dict[str, Any] = {"headers": h, "params": params, "timeout": self.timeout}
        if data is not None:
            kw["data"] = data
        elif body is not None:
            kw["json"] = body
        elif method in WRITE_METHODS:
            kw["data"] = b""
        for attempt in range(1, self.attempts + 1):
            try:
                r = self._session().request(method, self.base + path, **kw)
            except requests.ConnectionError:
                if attempt == self.attempts:
                    raise
                self.stats.retried()
                self._sleep(attempt)
                continue
            self.stats.record(r.status_code)
            if r.status_code >= 500 and r.status_code != 503:
                self.stats.failed(f"{method} {path} → {r.status_code} {r.text[:300]}")
            if r.status_code in retry and attempt < self.attempts:
                self.stats.retried()
                self._sleep(attempt, r.headers.get("Retry-After"))
                continue
            if r.status_code == 503:
                self.stats.failed(f"{method} {path} → 503 after {attempt} attempts")
            return r
        raise AssertionError("unreachable")

    def ok(self, method: str, path: str, key: str | None = None, body: Any = None,
           **kw: Any) -> Any:
        """A call that must succeed (2xx); its JSON body."""
        r = self.call(method, path, key, body, **kw)
        if not 200 <= r.status_code < 300:
            raise DemoError(f"{method} {path} → {r.status_code}: {r.text[:500]}")
        return r.json() if r.content else None

    @staticmethod
    def _sleep(attempt: int, retry_after: str | None = None) -> None:
        if retry_after and retry_after.isdigit():
            time.sleep(min(int(retry_after), 5))
            return
        time.sleep(min(2.0, 0.05 * 2 ** attempt) * (0.5 + random.random()))


class DemoError(Exception):
    """A step the demo needs did not succeed."""
