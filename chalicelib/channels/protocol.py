"""What a disbursement channel is to us: submit a payout, and say what became of one.

A bank or payment-provider adapter is one class with these two methods, registered under its
channel type. `submit` must be idempotent on `payout_id` (we resend the same id after a crash);
`status` answers after a timeout whether the payout was executed, so we fail over only when the
money certainly did not move.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from chalicelib.lending.beneficiary import Beneficiary


@dataclass(frozen=True)
class Payout:
    payout_id: str  # the channel's idempotency key: "<disbursement id>.<attempt>"
    tenant: str
    channel_id: str
    loan_id: str
    amount: int  # minor units
    currency: str
    beneficiary: Beneficiary | None = None  # where the money goes (never logged)


class OutcomeKind(StrEnum):
    SETTLED = "settled"  # paid, confirmed synchronously
    ACCEPTED = "accepted"  # taken; the channel confirms later through its callback
    FAILED = "failed"  # certainly not paid
    TIMEOUT = "timeout"  # no answer in time: unknown until `status` says
    NOT_FOUND = "not_found"  # `status`: the channel never executed this payout
    UNKNOWN = "unknown"  # `status`: cannot tell yet


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    provider_ref: str | None = None
    reason: str = ""


class Channel(Protocol):
    def submit(self, payout: Payout) -> Outcome: ...

    def status(self, payout: Payout) -> Outcome: ...


Factory = Callable[[str, Mapping[str, Any]], Channel]  # (channel id, type config) -> adapter
_ADAPTERS: dict[str, Factory] = {}


def register(channel_type: str, factory: Factory) -> None:
    _ADAPTERS[channel_type] = factory


def adapter(channel_type: str, channel_id: str, config: Mapping[str, Any]) -> Channel:
    if channel_type not in _ADAPTERS:
        raise KeyError(f"no adapter for channel type {channel_type!r}")
    return _ADAPTERS[channel_type](channel_id, config)


def types() -> list[str]:
    return sorted(_ADAPTERS)
