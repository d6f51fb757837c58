"""Day-count conventions: how many days, and what fraction of a year, lie between two dates.

30/360 here is the US **Bond Basis** (ISDA 2006 §4.16(f), "30/360", a.k.a. 30U/360 without the
February end-of-month rule): D1 = 31 → 30; D2 = 31 → 30 only when D1 is then 30 or 31.
Actual/365 is "Actual/365 Fixed" (the denominator is 365 in leap years too).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum

from .money import MONEY_CONTEXT


class DayCount(StrEnum):
    THIRTY_360 = "30/360"
    ACTUAL_365 = "actual/365"
    ACTUAL_360 = "actual/360"

    @property
    def year_days(self) -> int:
        return 365 if self is DayCount.ACTUAL_365 else 360


def days_30_360(start: date, end: date) -> int:
    """Days between the dates on the 30/360 Bond Basis (may differ from the calendar count)."""
    d1, d2 = start.day, end.day
    if d1 == 31:
        d1 = 30
    if d2 == 31 and d1 == 30:
        d2 = 30
    return 360 * (end.year - start.year) + 30 * (end.month - start.month) + (d2 - d1)


def accrual_days(start: date, end: date, convention: DayCount) -> int:
    """Days of interest between `start` (exclusive) and `end` (inclusive) under `convention`."""
    if convention is DayCount.THIRTY_360:
        return days_30_360(start, end)
    return (end - start).days


def year_fraction(start: date, end: date, convention: DayCount) -> Decimal:
    """The accrual days over the convention's year basis, exact to MONEY_CONTEXT precision."""
    return MONEY_CONTEXT.divide(
        Decimal(accrual_days(start, end, convention)), Decimal(convention.year_days)
    )
