"""Delivery of signing codes: a protocol, so SMS or e-mail providers are one class each.

Locally (stages `local` and `test`) the recording notifier keeps what it sent in memory and logs
it, and the API echoes the code back so demos and e2e tests can sign; no other stage does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger("lending.notifier")


@dataclass(frozen=True)
class Message:
    tenant: str
    contract_id: str
    destination: str  # masked when logged
    code: str


class Notifier(Protocol):
    def send(self, message: Message) -> None: ...


@dataclass
class RecordingNotifier:
    sent: list[Message] = field(default_factory=list)

    def send(self, message: Message) -> None:
        self.sent.append(message)
        del self.sent[:-1000]
        log.info("signing code for %s/%s to ***%s: %s", message.tenant, message.contract_id,
                 message.destination[-4:], message.code)

    def last_code(self, contract_id: str) -> str | None:
        codes = [m.code for m in self.sent if m.contract_id == contract_id]
        return codes[-1] if codes else None


_notifier: Notifier = RecordingNotifier()


def current() -> Notifier:
    return _notifier


def install(notifier: Notifier) -> None:
    """Deployments install their provider's notifier at start-up."""
    global _notifier
    _notifier = notifier


def echoes_code(stage: str) -> bool:
    return stage in ("local", "test")
