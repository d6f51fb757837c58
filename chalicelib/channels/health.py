"""Channel health crossings, pure: when a breaker or a prefunded balance changes side.

People are told once per crossing, not once per payout: a breaker that opens (closed -> open),
one that closes again (open or half-open -> closed), a balance that falls under the channel's
`low_balance_threshold` and one that is back at or above it. The caller guards each crossing
with a conditional write on the channel's state item, so concurrent requests announce it once.
"""

from __future__ import annotations

from enum import StrEnum

from chalicelib.channels import breaker


class Crossing(StrEnum):
    BREAKER_OPENED = "breaker_opened"
    BREAKER_CLOSED = "breaker_closed"
    BALANCE_LOW = "balance_low"
    BALANCE_RESTORED = "balance_restored"


def breaker_crossing(before: breaker.State, after: breaker.State) -> Crossing | None:
    """Half-open is still open to the outside: a failed probe re-opening it is no news."""
    if before.state == breaker.CLOSED and after.state == breaker.OPEN:
        return Crossing.BREAKER_OPENED
    if before.state != breaker.CLOSED and after.state == breaker.CLOSED:
        return Crossing.BREAKER_CLOSED
    return None


def balance_crossing(threshold: int | None, low: bool, available: int) -> Crossing | None:
    """`low`: what the state item says now; `available`: posted less reserved (minor units).
    No threshold: nothing is watched (a flag left from an earlier one waits for the next)."""
    if threshold is None:
        return None
    if not low and available < threshold:
        return Crossing.BALANCE_LOW
    if low and available >= threshold:
        return Crossing.BALANCE_RESTORED
    return None


def crossed_by(threshold: int | None, before: int, amount: int) -> bool:
    """Whether taking `amount` from `before` goes under the threshold (the reservation's own
    crossing, known without reading the state item)."""
    return threshold is not None and before >= threshold > before - amount
