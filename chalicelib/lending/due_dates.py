"""Repayment frequencies and the due dates they produce.

Dates are always computed from an anchor (the disbursement date, or the first due date when one
is given) as anchor + k steps, never by stepping from the previous due date, so a loan made on
Jan 31 pays Feb 28/29, Mar 31, Apr 30, May 31 ... instead of drifting to the 28th.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from .errors import LendingError


class FrequencyUnit(StrEnum):
    DAY = "day"
    WEEK = "week"
    SEMI_MONTH = "semi_month"
    MONTH = "month"


class Frequency(BaseModel):
    """`every` units between installments: month×1 monthly, month×3 quarterly, week×2 biweekly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: FrequencyUnit = FrequencyUnit.MONTH
    every: StrictInt = Field(default=1, ge=1, le=366)

    def periods_per_year(self, year_days: int = 360) -> tuple[int, int]:
        """Nominal periods per year as a fraction (numerator, denominator).

        Months 12/every, semi-months 24/every, weeks 52/every, days year_days/every (the
        day count's year basis). Used for per-period rates and for flat-rate term years.
        """
        per_year = {
            FrequencyUnit.MONTH: 12,
            FrequencyUnit.SEMI_MONTH: 24,
            FrequencyUnit.WEEK: 52,
            FrequencyUnit.DAY: year_days,
        }[self.unit]
        return per_year, self.every


MONTHLY = Frequency()


def add_months(anchor: date, months: int, day: int | None = None) -> date:
    """`anchor` moved by whole months, keeping `day` (default anchor's day) or the month's end."""
    index = anchor.year * 12 + anchor.month - 1 + months
    year, month0 = divmod(index, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day or anchor.day, last))


def _semi_month_days(anchor_day: int) -> tuple[int, int]:
    """The pair (low, high = low + 15) of days of month that contains `anchor_day`.

    Day d ≤ 15 pairs with d + 15 (1 & 16, 15 & 30); d > 15 pairs with d − 15 (31 with 16,
    16 with 1). The high day is clipped to the month's end (Feb: 28/29), the low never is.
    """
    low = anchor_day if anchor_day <= 15 else anchor_day - 15
    return low, low + 15


def _semi_month_date(index: int, low: int, high: int) -> date:
    """Half-month number `index` (2 per month since year 0) as a date on its low or high day."""
    month_index, half = divmod(index, 2)
    year, month0 = divmod(month_index, 12)
    if half == 0:
        return date(year, month0 + 1, low)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(high, last))


def step(anchor: date, frequency: Frequency, k: int) -> date:
    """The date `k` periods after `anchor` (k may be 0), anchored to avoid month-end drift."""
    n = k * frequency.every
    if frequency.unit is FrequencyUnit.DAY:
        return anchor + timedelta(days=n)
    if frequency.unit is FrequencyUnit.WEEK:
        return anchor + timedelta(weeks=n)
    if frequency.unit is FrequencyUnit.MONTH:
        return add_months(anchor, n)
    low, high = _semi_month_days(anchor.day)
    half = 0 if anchor.day <= 15 else 1
    base = (anchor.year * 12 + anchor.month - 1) * 2 + half
    return _semi_month_date(base + n, low, high)


def due_dates(
    disbursement: date,
    count: int,
    frequency: Frequency = MONTHLY,
    first_due: date | None = None,
) -> list[date]:
    """`count` due dates: one period apart from the disbursement, or from `first_due` if given.

    With `first_due`, later dates keep first_due's day (a first due date of the 15th makes every
    due date the 15th); the first period is then irregular ("odd"), and the schedule charges its
    actual days. `first_due` must fall after the disbursement and no later than two periods
    after it.
    """
    if count < 1:
        raise LendingError.single("term", "term must be at least one installment", "term_too_small")
    if first_due is None:
        return [step(disbursement, frequency, k) for k in range(1, count + 1)]
    latest = step(disbursement, frequency, 2)
    if not disbursement < first_due <= latest:
        raise LendingError.single(
            "first_due_date",
            f"first due date {first_due.isoformat()} must be after the disbursement "
            f"({disbursement.isoformat()}) and no later than {latest.isoformat()}",
            "first_due_date_out_of_range",
            earliest=disbursement.isoformat(),
            latest=latest.isoformat(),
        )
    return [step(first_due, frequency, k) for k in range(count)]
