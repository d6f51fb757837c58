"""What reaching a borrower is to us: one message out, and what its provider said (pure).

A provider (Amazon SNS for SMS, Amazon SES for e-mail, the sandbox outbox of stages local and
test) is one class with `send`, registered per channel and stage. A message's `to` is personal
data and its body may carry a secret (a signing code): neither is ever logged, so `__repr__`
shows only the kind, channel and id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from enum import StrEnum
from typing import Protocol


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class Kind(StrEnum):
    SIGNING_CODE = "signing_code"
    DISBURSEMENT_NOTICE = "disbursement_notice"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class QuietHours:
    """Local times (the tenant's zone) between which nothing but a secret the borrower asked
    for (a signing code) is sent; `start` after `end` spans midnight (21:00-08:00)."""

    start: time
    end: time


@dataclass(frozen=True)
class Recipient:
    """Where and how a borrower may be reached: read from the borrower record (personal data,
    never logged: `__repr__` shows the borrower id only)."""

    borrower_id: str | None
    phone: str | None  # E.164
    email: str | None
    locale: str = "zh-CN"  # "zh-CN" | "en"
    channels: frozenset[Channel] = frozenset()  # channels consented to for service messages
    quiet_hours: QuietHours | None = None

    def __repr__(self) -> str:
        return f"Recipient({self.borrower_id})"

    __str__ = __repr__


@dataclass(frozen=True)
class Outgoing:
    tenant: str
    notification_id: str  # ours: the send record's id, and the provider's dedup key if it has one
    kind: Kind
    channel: Channel
    to: str  # E.164 phone number or e-mail address (personal data)
    body: str  # rendered text; may carry a secret
    subject: str | None = None  # e-mail only
    locale: str = "zh-CN"
    secret: bool = False  # the body carries a secret: no copy of it may be kept anywhere
    reference: str | None = None  # what it is about (contract, loan id): the sandbox outbox filter

    def __repr__(self) -> str:
        return f"Outgoing({self.kind}, {self.channel}, {self.notification_id})"

    __str__ = __repr__


@dataclass(frozen=True)
class SendResult:
    provider: str  # "sns" | "ses" | "sandbox"
    status: str  # "sent" | "failed"
    provider_id: str | None = None  # e.g. SNS MessageId, SES MessageId
    error: str | None = None  # the provider's error code, never the message


class Provider(Protocol):
    name: str

    def send(self, message: Outgoing) -> SendResult: ...
