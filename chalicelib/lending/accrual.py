"""Daily interest accrual: how much of an installment's interest has been earned by a date.

An installment's interest is a list of segments (from, to, amount): the contractual schedule
gives one segment per period (a row collecting an interest grace's deferred interest has one
per period it collects, each earned over its own period); a prepayment inside a period freezes
the part already earned and keeps each segment's rest, scaled to the new balance. Earned by day
d = Σ amount × elapsed/length, where elapsed and length are counted by the product's day
count, capped at the length, and rounded half-up once per segment with integer arithmetic
(never a float). By the segment's end exactly its amount is earned, so the daily accrual sums
to the scheduled interest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from .daycount import DayCount, accrual_days
from .money import Rounding, round_minor

Segment = tuple[date, date, int]


def ratio_half_up(amount: int, num: int, den: int) -> int:
    """round(amount × num / den) half-up for non-negative ints."""
    if den <= 0:
        return amount
    return (2 * amount * num + den) // (2 * den)


def earned(segment: Segment, day: date, day_count: DayCount) -> int:
    start, end, amount = segment
    if day <= start or amount == 0:
        return 0
    if day >= end:
        return amount
    length = accrual_days(start, end, day_count)
    elapsed = min(max(accrual_days(start, day, day_count), 0), length)
    return ratio_half_up(amount, elapsed, length)


def accrued(segments: Sequence[Segment], day: date, day_count: DayCount) -> int:
    return sum(earned(s, day, day_count) for s in segments)


def frozen(segments: Sequence[Segment], day: date, day_count: DayCount) -> list[Segment]:
    """What each segment has earned by `day`, as its own segment ending then (or at its end):
    a payoff or prepayment on `day` keeps it and replaces the rest. Segments are not merged:
    a merged one would re-spread their earnings over the earlier days, so a refold applying an
    event dated after the last closed day would move income already recognised (by more than
    the rounding unit each piece may differ by)."""
    return [(a, min(b, day), earned((a, b, v), day, day_count))
            for a, b, v in segments if a < day and v]


def period_interest(balance: int, annual_rate_percent: Decimal, start: date, end: date,
                    day_count: DayCount, mode: Rounding) -> int:
    """Interest on `balance` from start to end at the nominal rate by the day count."""
    if balance <= 0 or end <= start:
        return 0
    days = accrual_days(start, end, day_count)
    exact = Decimal(balance) * annual_rate_percent * days / (Decimal(100) * day_count.year_days)
    return round_minor(exact, mode)
