"""One webhook POST over HTTP(S), pinned to an address we checked (SSRF defence).

The host name is resolved once; unless private addresses are allowed (local/test stages) every
address must be globally routable, and the connection goes to that very address (TLS still
verifies the certificate against the host name, via SNI), so a DNS answer that changes between
the check and the connect (rebinding) cannot redirect the request. Redirects are not followed.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib.lending.webhooks import address_allowed

TIMEOUT_S = 5.0
MAX_RESPONSE_BYTES = 4096


@dataclass(frozen=True)
class Outcome:
    status: int | None  # HTTP status, None when no response came back
    error: str | None  # why it failed (None on 2xx)
    ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


Transport = Callable[[str, dict[str, str], bytes], Outcome]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def http_transport(allow_private: bool, timeout: float = TIMEOUT_S) -> Transport:
    def send(url: str, headers: dict[str, str], body: bytes) -> Outcome:
        started = time.perf_counter()

        def done(status: int | None, error: str | None) -> Outcome:
            return Outcome(status, error, int((time.perf_counter() - started) * 1000))

        parts = urlsplit(url)
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        host = parts.hostname or ""
        try:
            addresses = resolve(host, port)
        except OSError as exc:
            return done(None, f"could not resolve {host}: {exc}")
        if not addresses:
            return done(None, f"could not resolve {host}")
        if not allow_private and not all(address_allowed(a) for a in addresses):
            return done(None, f"{host} resolves to a private address; refused")
        cls = _PinnedHTTPS if https else _PinnedHTTP
        conn = cls(host, port, addresses[0], timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("POST", path, body=body, headers={**headers, "user-agent":
                                                           "lending-api-webhooks/1"})
            response = conn.getresponse()
            response.read(MAX_RESPONSE_BYTES)
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            return done(None, f"{type(exc).__name__}: {exc}"[:300])
        finally:
            conn.close()
        return done(status, None if 200 <= status < 300 else f"HTTP {status}")

    return send
