"""The `bank_http` channel: a bank that speaks the HTTPS JSON payout protocol
(docs/bank-protocol.md).

What an answer means is decided by whether the money may have moved: a refusal (4xx) or a
connection that never opened is FAILED (certainly not paid, fail over); a read timeout, a reset
after sending, a 5xx or a 409 is TIMEOUT (ambiguous: the disbursement service asks `status`
before any failover). Resends reuse the payout id as the Idempotency-Key, so a retry never pays
twice. The API secret is stored sealed (services/personal_data) and unsealed only to sign; it
never reaches a log line, a response or an Outcome's reason.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from chalicelib.channels import bank_signing
from chalicelib.channels.protocol import Outcome, OutcomeKind, Payout, register
from chalicelib.lending.money import format_amount

RETRY_BACKOFF_SECONDS = 0.2  # before resend n (same Idempotency-Key): n x this
SECRET_RECORD = "channel-api-secret"  # personal_data record type (its AAD) of the sealed secret
_STATUS = {"settled": OutcomeKind.SETTLED, "accepted": OutcomeKind.ACCEPTED,
           "failed": OutcomeKind.FAILED, "not_found": OutcomeKind.NOT_FOUND}


@dataclass(frozen=True)
class BankConfig:
    base_url: str
    client_id: str
    api_secret_sealed: str  # personal_data envelope of {"secret": ...}
    connect_timeout_ms: int = 2000
    read_timeout_ms: int = 10_000
    ca_cert_pem: str | None = None
    callback_url: str | None = None
    max_retries: int = 1  # resends on a 5xx or a reset, same Idempotency-Key

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> BankConfig:
        return cls(**{k: v for k, v in config.items() if k in cls.__dataclass_fields__})


_pools: dict[str, urllib3.PoolManager] = {}
_pools_lock = threading.Lock()


def _pool(ca_pem: str | None) -> urllib3.PoolManager:
    """One pool per trusted CA set and process: connections are kept alive across payouts."""
    key = hashlib.sha256((ca_pem or "").encode()).hexdigest()
    with _pools_lock:
        if key not in _pools:
            extra = {"ca_cert_data": ca_pem} if ca_pem else {}
            _pools[key] = urllib3.PoolManager(num_pools=16, maxsize=8, cert_reqs="CERT_REQUIRED",
                                              retries=False, **extra)
        return _pools[key]


def _secret(tenant: str, channel_id: str, sealed: str) -> str:
    from chalicelib.services import personal_data

    return str(personal_data.unseal(tenant, SECRET_RECORD, channel_id, sealed)["secret"])


class BankUnavailable(Exception):
    """The bank did not give what was asked (a statement): try again later."""


class _Ambiguous(Exception):
    """The request may have reached the bank and been executed."""


class _NotSent(Exception):
    """The request never left: the bank cannot have executed it."""


class BankHttpChannel:
    def __init__(self, channel_id: str, config: Mapping[str, Any]) -> None:
        self.channel_id = channel_id
        self.config = BankConfig.of(config)

    def _send(self, tenant: str, method: str, path: str, body: bytes = b"",
              extra: dict[str, str] | None = None) -> urllib3.BaseHTTPResponse:
        c = self.config
        secret = _secret(tenant, self.channel_id, c.api_secret_sealed)
        signed = bank_signing.headers(c.client_id, secret, method, path, int(time.time()), body)
        headers = {"Content-Type": "application/json", **signed, **(extra or {})}
        timeout = urllib3.Timeout(connect=c.connect_timeout_ms / 1000,
                                  read=c.read_timeout_ms / 1000)
        try:
            return _pool(c.ca_cert_pem).request(method, c.base_url.rstrip("/") + path,
                                                body=body, headers=headers, timeout=timeout,
                                                retries=False, redirect=False)
        except (NewConnectionError, ConnectTimeoutError, SSLError) as exc:  # before sending
            raise _NotSent(type(exc).__name__) from None
        except urllib3.exceptions.MaxRetryError as exc:  # wraps the cause with retries=False
            if isinstance(exc.reason, NewConnectionError | ConnectTimeoutError | SSLError):
                raise _NotSent(type(exc.reason).__name__) from None
            raise _Ambiguous(type(exc.reason).__name__) from None
        except (ReadTimeoutError, ProtocolError, HTTPError) as exc:
            raise _Ambiguous(type(exc).__name__) from None

    def _request(self, payout: Payout, method: str, path: str,
                 body: bytes = b"", extra: dict[str, str] | None = None
                 ) -> tuple[int, dict[str, Any]]:
        r = self._send(payout.tenant, method, path, body, extra)
        try:
            data = json.loads(r.data or b"{}")
        except ValueError:
            data = {}
        return r.status, data if isinstance(data, dict) else {}

    def statement(self, tenant: str, start: date, end: date, fmt: str = "camt053") -> bytes:
        """The bank's statement for [start, end] (`camt053` or `csv`), for reconciliation."""
        query = urlencode({"from": start.isoformat(), "to": end.isoformat(), "format": fmt})
        try:
            r = self._send(tenant, "GET", f"/statements?{query}")
        except (_NotSent, _Ambiguous) as exc:
            raise BankUnavailable(f"statement unanswered ({exc})") from None
        if r.status != 200:
            raise BankUnavailable(f"statement: HTTP {r.status}")
        return bytes(r.data)

    def submit(self, payout: Payout) -> Outcome:
        c = self.config
        instruction: dict[str, Any] = {
            "payout_id": payout.payout_id,
            "amount": format_amount(payout.amount, payout.currency),
            "currency": payout.currency,
            "beneficiary": payout.beneficiary.as_json() if payout.beneficiary else None}
        if c.callback_url:
            instruction["callback_url"] = c.callback_url.replace("{channel_id}", self.channel_id)
        body = json.dumps(instruction, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()
        why = "bank: no answer"
        for tries, sent_before in enumerate([False] + [True] * max(0, c.max_retries)):
            if sent_before:  # a short backoff: a bank answering 5xx is often just busy
                time.sleep(RETRY_BACKOFF_SECONDS * tries)
            try:
                status, data = self._request(payout, "POST", "/payouts", body,
                                             {"Idempotency-Key": payout.payout_id})
            except _NotSent as exc:
                if sent_before:  # an earlier try may have been executed: still ambiguous
                    break
                return Outcome(OutcomeKind.FAILED, None, f"bank: not reached ({exc})")
            except _Ambiguous as exc:
                why = f"bank: no answer ({exc})"
                if "ReadTimeout" in str(exc):
                    break  # waiting again would only double the wait: ask `status`
                continue
            if 200 <= status < 300:
                kind = _STATUS.get(str(data.get("status")))
                if kind in (OutcomeKind.SETTLED, OutcomeKind.ACCEPTED):
                    return Outcome(kind, data.get("bank_ref"), str(data.get("reason") or ""))
                why = f"bank: unexpected status {data.get('status')!r}"
                break
            if status == 409 or status >= 500:
                why = f"bank: HTTP {status}"
                continue
            reason = str(data.get("reason") or data.get("error") or f"HTTP {status}")
            return Outcome(OutcomeKind.FAILED, None, f"bank refused: {reason}"[:200])
        return Outcome(OutcomeKind.TIMEOUT, None, why[:200])

    def status(self, payout: Payout) -> Outcome:
        """`not_found` only when the bank names this payout in its answer: a bare 404 (a wrong
        base URL, a proxy) says nothing about the money and must never allow a failover."""
        try:
            status, data = self._request(payout, "GET", f"/payouts/{payout.payout_id}")
        except (_NotSent, _Ambiguous) as exc:
            return Outcome(OutcomeKind.UNKNOWN, None, f"bank: status unanswered ({exc})")
        if status == 404 and data.get("status") == "not_found" \
                and data.get("payout_id") == payout.payout_id:
            return Outcome(OutcomeKind.NOT_FOUND, None, "bank: never executed")
        kind = _STATUS.get(str(data.get("status"))) if status == 200 else None
        if kind is None:
            return Outcome(OutcomeKind.UNKNOWN, None, f"bank: status HTTP {status}")
        return Outcome(kind, data.get("bank_ref"), str(data.get("reason") or ""))


register("bank_http", BankHttpChannel)
