"""HTTP for the fake bank: the signed TLS protocol port and an unsigned local control port."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chalicelib.channels import bank_signing
from chalicelib.lending.money import MoneyError, parse_amount
from fakebank import statements
from fakebank.bank import Answer, Bank, Client

MAX_BODY = 1 << 20


class _Handler(BaseHTTPRequestHandler):
    bank: Bank
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # headers and body are two writes: without this, Nagle and the client's delayed ACK
        # add ~40 ms to every kept-alive answer
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests carry personal data (beneficiaries): nothing is logged

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, MAX_BODY)) if length else b""

    def _reply(self, status: int, body: dict[str, Any] | bytes,
               content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up (e.g. paid but timed out)

    def _answer(self, answer: Answer) -> None:
        if answer.delay_ms:
            time.sleep(answer.delay_ms / 1000)
        self._reply(answer.status, answer.body)

    def _statement(self, query: dict[str, list[str]], client_id: str | None) -> None:
        try:
            start = date.fromisoformat(query["from"][0])
            end = date.fromisoformat(query["to"][0])
        except (KeyError, ValueError):
            self._reply(400, {"error": "invalid", "reason": "from and to: ISO dates"})
            return
        fmt = (query.get("format") or ["csv"])[0]
        moves = self.bank.movements(client_id)
        inside = [m for m in moves if start <= m.booked <= end]
        if fmt == "csv":
            self._reply(200, statements.native_csv(inside), "text/csv")
        elif fmt == "camt053":
            currency = inside[0].currency if inside else (query.get("currency") or ["CNY"])[0]
            opening = sum(m.amount if m.credit else -m.amount for m in moves
                          if m.booked < start and m.currency == currency)
            xml = statements.camt053(f"FB-{client_id or 'ALL'}"[:34], currency, opening,
                                     [m for m in inside if m.currency == currency], start, end,
                                     f"STMT-{start.isoformat()}-{end.isoformat()}")
            self._reply(200, xml, "application/xml")
        else:
            self._reply(400, {"error": "invalid", "reason": "format: csv or camt053"})


class BankHandler(_Handler):
    """The protocol (docs/bank-protocol.md); every request is signed."""

    open_connections: set[socket.socket]

    def setup(self) -> None:
        super().setup()
        self.open_connections.add(self.connection)

    def finish(self) -> None:
        self.open_connections.discard(self.connection)
        super().finish()

    def _client(self, method: str, body: bytes) -> Client | None:
        client = self.bank.clients.get(self.headers.get("X-Client-Id") or "")
        if client is None:
            self._reply(401, {"error": "unauthenticated", "reason": "unknown client"})
            return None
        try:
            bank_signing.verify(client.api_secret, self.headers, method, self.path, body,
                                time.time())
        except bank_signing.BankSignatureError as exc:
            self._reply(401, {"error": "unauthenticated", "reason": str(exc)})
            return None
        return client

    def do_POST(self) -> None:
        body = self._body()
        client = self._client("POST", body)
        if client is None:
            return
        if urlsplit(self.path).path != "/payouts":
            self._reply(404, {"error": "not_found"})
            return
        key = self.headers.get("Idempotency-Key") or ""
        if not key:
            self._reply(400, {"error": "invalid", "reason": "Idempotency-Key is required"})
            return
        self._answer(self.bank.create(client, key, body))

    def do_GET(self) -> None:
        client = self._client("GET", b"")
        if client is None:
            return
        url = urlsplit(self.path)
        if url.path.startswith("/payouts/"):
            self._answer(self.bank.status(client, url.path.removeprefix("/payouts/")))
        elif url.path == "/statements":
            self._statement(parse_qs(url.query), client.client_id)
        else:
            self._reply(404, {"error": "not_found"})


class ControlHandler(_Handler):
    """Unsigned, 127.0.0.1 only: tests and the README set the bank up and read its ledger."""

    servers: Servers

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/_control/ledger":
            self._reply(200, self.bank.ledger())
        elif url.path == "/_control/config":
            self._reply(200, vars(self.bank.behaviour))
        elif url.path == "/_control/statements":
            query = parse_qs(url.query)
            self._statement(query, (query.get("client_id") or [None])[0])
        else:
            self._reply(404, {"error": "not_found"})

    def do_POST(self) -> None:
        try:
            data = json.loads(self._body() or b"{}")
        except ValueError:
            self._reply(400, {"error": "invalid", "reason": "JSON body"})
            return
        path = urlsplit(self.path).path
        if path == "/_control/clients":
            client = Client(str(data["client_id"]), str(data["api_secret"]),
                            data.get("webhook_secret"))
            with self.bank.lock:
                self.bank.clients[client.client_id] = client
            self._reply(201, {"client_id": client.client_id})
        elif path == "/_control/config":
            self._reply(200, vars(self.bank.configure(data)))
        elif path == "/_control/deposits":
            try:
                amount = parse_amount(str(data["amount"]), str(data["currency"]))
            except (KeyError, MoneyError):
                self._reply(400, {"error": "invalid", "reason": "amount and currency"})
                return
            m = self.bank.deposit(str(data.get("client_id") or ""), str(data["reference"]),
                                  amount, str(data["currency"]))
            self._reply(201, {"reference": m.reference, "bank_ref": m.bank_ref})
        elif path == "/_control/callbacks/release":
            self._reply(200, {"released": self.bank.release_callbacks()})
        elif path == "/_control/down":
            self.servers.set_down(bool(data.get("down", True)))
            self._reply(200, {"down": self.servers.down})
        else:
            self._reply(404, {"error": "not_found"})


class Servers:
    """The TLS protocol server (stopped while `down`: connections are refused) and the control
    server, each on its own thread."""

    def __init__(self, bank: Bank, port: int, control_port: int, cert: Path, key: Path) -> None:
        self.bank, self.cert, self.key = bank, cert, key
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.load_cert_chain(cert, key)
        self.protocol: ThreadingHTTPServer | None = None
        self.connections: set[socket.socket] = set()
        self.port = port
        self.down = False
        self._start_protocol()
        control = type("Control", (ControlHandler,), {"bank": bank, "servers": self})
        self.control = ThreadingHTTPServer(("127.0.0.1", control_port), control)
        self.control.daemon_threads = True
        threading.Thread(target=self.control.serve_forever, daemon=True).start()

    def _start_protocol(self) -> None:
        handler = type("Bank", (BankHandler,), {"bank": self.bank,
                                                "open_connections": self.connections})
        server = ThreadingHTTPServer(("127.0.0.1", self.port), handler, bind_and_activate=False)
        server.allow_reuse_address = True
        server.daemon_threads = True
        server.server_bind()
        server.server_activate()
        server.socket = self.context.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self.protocol = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def set_down(self, down: bool) -> None:
        if down and not self.down and self.protocol is not None:
            self.protocol.shutdown()
            self.protocol.server_close()
            self.protocol = None
            for conn in list(self.connections):  # kept-alive clients see the bank go, too
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        elif not down and self.down:
            self._start_protocol()
        self.down = down

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.control.server_address[1]}"
