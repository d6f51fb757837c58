"""The sandbox outbox of stages local and test: what we would have sent, kept in memory.

It stands in for SNS and SES only where a person runs the stack or the tests (never in a deployed
stage): demos and e2e tests read a signing code from it through `GET /v1/sandbox/outbox` instead of
an echo in a response. It lives in the serving process's memory and nowhere else (no item, no
object, no log line), so a code in it is gone when the process ends; it keeps the last `KEEP`
messages per tenant and says so on the route.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from chalicelib import clock
from chalicelib.notifications.port import Outgoing, SendResult

KEEP = 1000  # per tenant: a sandbox, not a mailbox


@dataclass(frozen=True)
class Kept:
    message: Outgoing
    provider_id: str
    sent_at: datetime


class SandboxOutbox:
    """A provider that succeeds at once and keeps the message for the outbox route."""

    name = "sandbox"

    def __init__(self) -> None:
        self._kept: dict[str, deque[Kept]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def send(self, message: Outgoing) -> SendResult:
        with self._lock:
            provider_id = f"sandbox-{next(self._ids):08d}"
            box = self._kept.setdefault(message.tenant, deque(maxlen=KEEP))
            box.append(Kept(message, provider_id, clock.now(message.tenant)))
        return SendResult(provider=self.name, status="sent", provider_id=provider_id)

    def messages(self, tenant: str, *, reference: str | None = None,
                 kind: str | None = None) -> list[Kept]:
        """The tenant's kept messages, newest first, optionally about one reference / kind."""
        with self._lock:
            kept = list(self._kept.get(tenant, ()))
        return [k for k in reversed(kept)
                if (reference is None or k.message.reference == reference)
                and (kind is None or k.message.kind == kind)]

    def clear(self, tenant: str) -> None:
        with self._lock:
            self._kept.pop(tenant, None)


OUTBOX = SandboxOutbox()
