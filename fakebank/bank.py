"""The fake bank's state and behaviour: clients, idempotent payouts, its ledger, callbacks.

Fate per payout is drawn from a RNG seeded with (seed, payout id), so a test can predict it.
Everything is in memory and guarded by one lock; the HTTP layer (server.py) only translates.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.channels import webhooks
from chalicelib.lending.money import MoneyError, parse_amount
from fakebank import beneficiaries
from fakebank.statements import Movement


@dataclass
class Behaviour:
    latency_ms: int = 0
    failure_rate: float = 0.0  # 5xx, not executed
    refusal_rate: float = 0.0  # 422, not executed
    paid_timeout_rate: float = 0.0  # executed, answered only after `paid_timeout_ms`
    paid_timeout_ms: int = 15_000
    settle: str = "sync"  # "sync": settled in the answer; "callback": accepted, called back
    callback_delay_ms: int = 0
    hold_callbacks: bool = False  # keep callbacks until POST /_control/callbacks/release
    duplicate_callbacks: int = 0  # extra sends of each callback (same webhook-id)
    closed_accounts: list[str] = field(default_factory=list)  # valid numbers it refuses (422)
    seed: int = 0


@dataclass
class Client:
    client_id: str
    api_secret: str
    webhook_secret: str | None = None


@dataclass
class Payout:
    payout_id: str
    client_id: str
    amount: int
    currency: str
    status: str  # accepted | settled
    bank_ref: str
    booked: date
    callback_url: str | None = None
    beneficiary: dict[str, Any] | None = None  # as the instruction named it


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    delay_ms: int = 0  # sleep this long before answering (after executing)


@dataclass
class Bank:
    behaviour: Behaviour = field(default_factory=Behaviour)
    clients: dict[str, Client] = field(default_factory=dict)
    payouts: dict[str, Payout] = field(default_factory=dict)
    deposits: list[tuple[str, Movement]] = field(default_factory=list)  # (client id, deposit)
    keys: dict[tuple[str, str], tuple[str, Answer]] = field(default_factory=dict)
    in_progress: set[tuple[str, str]] = field(default_factory=set)
    held: list[tuple[str, str, bytes]] = field(default_factory=list)
    callbacks_sent: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)

    def configure(self, changes: dict[str, Any]) -> Behaviour:
        with self.lock:
            known = {k: v for k, v in changes.items() if k in Behaviour.__dataclass_fields__}
            self.behaviour = Behaviour(**{**asdict(self.behaviour), **known})
            return self.behaviour

    def _roll(self, payout_id: str) -> float:
        return random.Random(f"{self.behaviour.seed}:{payout_id}").random()

    def create(self, client: Client, key: str, body: bytes) -> Answer:
        """POST /payouts, idempotent on (client, Idempotency-Key)."""
        digest = hashlib.sha256(body).hexdigest()
        slot = (client.client_id, key)
        with self.lock:
            if slot in self.keys:
                seen, answer = self.keys[slot]
                if seen != digest:
                    return Answer(422, {"error": "idempotency_mismatch",
                                        "reason": "this key was used with another body"})
                return Answer(answer.status, answer.body)
            if slot in self.in_progress:
                return Answer(409, {"error": "in_progress", "reason": "ask again later"})
            self.in_progress.add(slot)
        try:
            answer = self._execute(client, key, body)
        finally:
            with self.lock:
                self.in_progress.discard(slot)
        if answer.status < 500:  # a 5xx executed nothing: a retry is a fresh try
            with self.lock:
                self.keys[slot] = (digest, Answer(answer.status, answer.body))
        return answer

    def _execute(self, client: Client, key: str, body: bytes) -> Answer:
        b = self.behaviour
        if b.latency_ms:
            time.sleep(b.latency_ms / 1000)
        try:
            data = json.loads(body)
            payout_id = str(data["payout_id"])
            currency = str(data["currency"])
            amount = parse_amount(str(data["amount"]), currency)
        except (ValueError, KeyError, TypeError, MoneyError):
            return Answer(400, {"error": "invalid", "reason": "payout_id, amount, currency"})
        if payout_id != key:
            return Answer(400, {"error": "invalid", "reason": "Idempotency-Key != payout_id"})
        if amount <= 0:
            return Answer(400, {"error": "invalid", "reason": "amount must be positive"})
        beneficiary = data.get("beneficiary")
        if wrong := beneficiaries.problems(beneficiary):
            return Answer(422, {"error": "beneficiary_invalid",
                                "reason": "the beneficiary cannot be paid: " + ", ".join(
                                    f"{p.field} {p.code}" for p in wrong),
                                "problems": [asdict(p) for p in wrong]})
        if beneficiaries.account_key(beneficiary) in b.closed_accounts:
            return Answer(422, {"error": "beneficiary_rejected",
                                "reason": "the beneficiary's account is closed"})
        roll = self._roll(payout_id)
        if roll < b.failure_rate:
            return Answer(503, {"error": "unavailable", "reason": "try again"})
        if roll < b.failure_rate + b.refusal_rate:
            return Answer(422, {"error": "beneficiary_rejected", "reason": "refused by bank"})
        callback = data.get("callback_url") if b.settle == "callback" else None
        with self.lock:
            payout = Payout(payout_id, client.client_id, amount, currency,
                            "accepted" if callback else "settled",
                            f"FB{secrets.token_hex(6).upper()}", datetime.now(UTC).date(),
                            callback, beneficiary)
            self.payouts[payout_id] = payout
        if callback:
            self._schedule_callback(client, payout)
        delay = b.paid_timeout_ms if roll >= 1 - b.paid_timeout_rate else 0
        return Answer(201, self.view(payout), delay)

    def view(self, p: Payout) -> dict[str, Any]:
        return {"payout_id": p.payout_id, "status": p.status, "bank_ref": p.bank_ref,
                "reason": None}

    def status(self, client: Client, payout_id: str) -> Answer:
        with self.lock:
            p = self.payouts.get(payout_id)
            if p is None or p.client_id != client.client_id:
                return Answer(404, {"payout_id": payout_id, "status": "not_found"})
            return Answer(200, self.view(p))

    # --- callbacks ---------------------------------------------------------------------

    def _schedule_callback(self, client: Client, payout: Payout) -> None:
        body = json.dumps({"type": "payout.settled", "payout_id": payout.payout_id,
                           "provider_ref": payout.bank_ref, "reason": None}).encode()
        msg_id = f"fb_{payout.payout_id}"
        if self.behaviour.hold_callbacks:
            with self.lock:
                self.held.append((client.client_id, payout.payout_id, body))
            return
        timer = threading.Timer(self.behaviour.callback_delay_ms / 1000, self._send,
                                (client, payout.payout_id, msg_id, body))
        timer.daemon = True
        timer.start()

    def release_callbacks(self) -> int:
        with self.lock:
            held, self.held = self.held, []
        for client_id, payout_id, body in held:
            self._send(self.clients[client_id], payout_id, f"fb_{payout_id}", body)
        return len(held)

    def _send(self, client: Client, payout_id: str, msg_id: str, body: bytes) -> None:
        with self.lock:
            payout = self.payouts[payout_id]
            payout.status = "settled"
            url = payout.callback_url
        if not url or not client.webhook_secret:
            return
        for _ in range(1 + self.behaviour.duplicate_callbacks):
            headers = {"Content-Type": "application/json",
                       **webhooks.headers(client.webhook_secret, msg_id, int(time.time()), body)}
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=30) as r:
                    r.read()
            except OSError:
                pass  # a real bank retries later; the resume job covers a lost callback
            with self.lock:
                self.callbacks_sent += 1

    # --- ledger and statements --------------------------------------------------------

    def deposit(self, client_id: str, reference: str, amount: int, currency: str) -> Movement:
        """A prefunding deposit into the client's account (a CRDT line on its statement)."""
        m = Movement(reference, f"FBD{secrets.token_hex(6).upper()}", True, amount, currency,
                     datetime.now(UTC).date())
        with self.lock:
            self.deposits.append((client_id, m))
        return m

    def movements(self, client_id: str | None) -> list[Movement]:
        """The client's booked movements (every client's when None), in booking order."""
        with self.lock:
            out = [Movement(p.payout_id, p.bank_ref, False, p.amount, p.currency, p.booked,
                            beneficiaries.creditor(p.beneficiary))
                   for p in self.payouts.values() if p.status == "settled"
                   and client_id in (None, p.client_id)]
            out += [m for owner, m in self.deposits if client_id in (None, owner)]
            return sorted(out, key=lambda m: (m.booked, m.reference))

    def ledger(self) -> dict[str, Any]:
        with self.lock:
            return {"payouts": [{**asdict(p), "booked": p.booked.isoformat()}
                                for p in self.payouts.values()],
                    "deposits": [{**asdict(d), "client_id": c, "booked": d.booked.isoformat()}
                                 for c, d in self.deposits],
                    "callbacks_sent": self.callbacks_sent, "held_callbacks": len(self.held)}
