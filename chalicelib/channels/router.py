"""Ranks a tenant's channels for one payout: pure, so every rule is unit-testable.

Eligible: enabled, same currency, not already tried for this disbursement, amount within the
per-payout maximum and today's remaining daily limit, enough available prefunded balance, and a
breaker that lets a request through. Order by the product's strategy: `cheapest` (cost, then
speed), `fastest` (speed, then cost), `cheapest_within` (cheapest among those settling within
`max_settlement_seconds`). Ties break on the channel id so the order is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Strategy(StrEnum):
    CHEAPEST = "cheapest"
    FASTEST = "fastest"
    CHEAPEST_WITHIN = "cheapest_within"


@dataclass(frozen=True)
class Policy:
    strategy: Strategy = Strategy.CHEAPEST
    max_settlement_seconds: int | None = None
    max_attempts: int = 3


@dataclass(frozen=True)
class Candidate:
    channel_id: str
    currency: str
    enabled: bool
    fixed_cost: int  # minor units per payout
    proportional_bps: int  # 1/100 of a percent of the amount
    settlement_seconds: int
    max_payout: int | None
    daily_limit: int | None
    used_today: int
    available: int  # prefunded balance not yet reserved
    breaker_allows: bool


def cost(candidate: Candidate, amount: int) -> int:
    """Fixed plus proportional cost, the proportional part rounded up to the minor unit."""
    return candidate.fixed_cost + -(-amount * candidate.proportional_bps // 10_000)


def _skip_reason(c: Candidate, amount: int, currency: str, policy: Policy,
                 tried: set[str]) -> str | None:
    checks = [
        (c.channel_id in tried, "already_tried"),
        (not c.enabled, "disabled"),
        (c.currency != currency, "currency"),
        (c.max_payout is not None and amount > c.max_payout, "over_max_payout"),
        (c.daily_limit is not None and c.used_today + amount > c.daily_limit,
         "over_daily_limit"),
        (c.available < amount, "insufficient_balance"),
        (not c.breaker_allows, "breaker_open"),
        (policy.strategy is Strategy.CHEAPEST_WITHIN
         and policy.max_settlement_seconds is not None
         and c.settlement_seconds > policy.max_settlement_seconds, "too_slow"),
    ]
    return next((reason for failed, reason in checks if failed), None)


def rank(candidates: Iterable[Candidate], amount: int, currency: str, policy: Policy,
         tried: Iterable[str] = ()) -> tuple[list[Candidate], dict[str, str]]:
    """The eligible channels in order, and why each other one was skipped."""
    done = set(tried)
    eligible, skipped = [], {}
    for c in candidates:
        reason = _skip_reason(c, amount, currency, policy, done)
        if reason:
            skipped[c.channel_id] = reason
        else:
            eligible.append(c)
    if policy.strategy is Strategy.FASTEST:
        eligible.sort(key=lambda c: (c.settlement_seconds, cost(c, amount), c.channel_id))
    else:
        eligible.sort(key=lambda c: (cost(c, amount), c.settlement_seconds, c.channel_id))
    return eligible, skipped
