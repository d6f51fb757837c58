"""The contract a reference loan runs on: its due-date grid, each period's rate and earned
interest, and a simple recomputation of the disclosed schedule to check it.

Written from the product definition (chalicelib/lending/product.py's fields) and the documented
rules alone (docs/); it imports only the money and day-count helpers, which
tests/reference/test_daycount.py checks against closed forms. Nothing here is shared with the
engine's schedule or fold.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.lending.daycount import DayCount, accrual_days
from chalicelib.lending.money import MONEY_CONTEXT, Rounding, parse_amount, round_minor

PER_YEAR = {"month": 12, "semi_month": 24, "week": 52}

#: (start, end, amount): interest earned pro rata over (start, end] by the day count.
Segment = tuple[date, date, int]


# --- the due-date grid -------------------------------------------------------------------

def months_later(anchor: date, months: int) -> date:
    """Same day of month `months` later, clipped to the month's end (Jan 31 -> Feb 29)."""
    y, m = divmod(anchor.year * 12 + anchor.month - 1 + months, 12)
    return date(y, m + 1, min(anchor.day, calendar.monthrange(y, m + 1)[1]))


def semi_months_later(anchor: date, halves: int) -> date:
    """Twice a month on the anchor's pair of days (d and d+15, the later clipped to month end)."""
    low = anchor.day if anchor.day <= 15 else anchor.day - 15
    index = (anchor.year * 12 + anchor.month - 1) * 2 + (0 if anchor.day <= 15 else 1) + halves
    (y, m), second = divmod(index // 2, 12), index % 2
    day = low if not second else min(low + 15, calendar.monthrange(y, m + 1)[1])
    return date(y, m + 1, day)


def periods_later(anchor: date, unit: str, every: int, k: int) -> date:
    n = k * every
    if unit == "day":
        return anchor + timedelta(days=n)
    if unit == "week":
        return anchor + timedelta(weeks=n)
    if unit == "month":
        return months_later(anchor, n)
    return semi_months_later(anchor, n)


def grid(disbursed: date, n: int, unit: str, every: int, first_due: date | None) -> list[date]:
    """The n period ends: anchored on the disbursement, or on a chosen first due date."""
    if first_due is None:
        return [periods_later(disbursed, unit, every, k) for k in range(1, n + 1)]
    return [periods_later(first_due, unit, every, k) for k in range(n)]


# --- rates and the schedule --------------------------------------------------------------

@dataclass(frozen=True)
class Product:
    """What the reference needs of a product (from its JSON terms) and of the loan's grade."""

    currency: str
    annual_percent: Decimal
    amortization: str
    unit: str
    every: int
    day_count: DayCount
    principal_grace: int
    interest_grace: int
    mode: Rounding
    installment_unit: int
    installment_fee: int
    late_fee: int
    penalty_percent: Decimal
    allocation: tuple[tuple[str, str], ...]
    prepayment: str
    tolerance: int

    @classmethod
    def of(cls, terms: dict[str, Any], grade: str) -> Product:
        cur = terms["currency"]
        fees = terms.get("fees", {})
        freq = terms.get("frequency", {})
        grace = terms.get("grace", {})
        rounding = terms.get("rounding", {})
        unit = rounding.get("installment_unit")
        default_alloc = [(d, c) for d in ("past_due", "due", "in_advance")
                         for c in ("penalty", "fee", "interest", "principal")]
        alloc = terms.get("allocation")
        return cls(
            currency=cur,
            annual_percent=Decimal(terms["pricing"]["rate_percent"][grade]),
            amortization=terms.get("amortization", "equal_installments"),
            unit=freq.get("unit", "month"), every=freq.get("every", 1),
            day_count=DayCount(terms.get("day_count", "30/360")),
            principal_grace=grace.get("principal_periods", 0),
            interest_grace=grace.get("interest_periods", 0),
            mode=Rounding(rounding.get("mode", "half_up")),
            installment_unit=parse_amount(unit, cur) if unit else 1,
            installment_fee=parse_amount(fees.get("installment", "0"), cur),
            late_fee=parse_amount(fees.get("late", "0"), cur),
            penalty_percent=Decimal(fees.get("penalty_rate_percent", "0")),
            allocation=tuple((r["due_class"], r["component"]) for r in alloc) if alloc
            else tuple(default_alloc),
            prepayment=terms.get("prepayment", "reduce_term"),
            tolerance=parse_amount(terms.get("overpayment_tolerance", "0"), cur),
        )

    @property
    def year_days(self) -> int:
        return 365 if self.day_count is DayCount.ACTUAL_365 else 360

    def period_rate(self, start: date, end: date, regular: bool) -> Decimal:
        """A period's rate: 30/360 regular periods a fixed fraction of the year (every /
        periods per year), odd ones and actual day counts by their days over the year basis."""
        annual = MONEY_CONTEXT.divide(self.annual_percent, Decimal(100))
        if self.day_count is DayCount.THIRTY_360 and regular:
            per_year = PER_YEAR.get(self.unit, 360)
            return MONEY_CONTEXT.divide(annual * self.every, Decimal(per_year))
        days = accrual_days(start, end, self.day_count)
        return MONEY_CONTEXT.divide(annual * days, Decimal(self.year_days))


@dataclass
class Row:
    """One disclosed installment, with the periods whose interest it collects."""

    n: int
    due: date
    principal: int
    interest: int
    fee: int
    segments: list[Segment] = field(default_factory=list)


def disclosed_rows(schedule: dict[str, Any]) -> list[Row]:
    cur = schedule["currency"]
    return [Row(r["number"], date.fromisoformat(r["due_date"]), parse_amount(r["principal"], cur),
                parse_amount(r["interest"], cur), parse_amount(r["fee"], cur))
            for r in schedule["installments"]]


def attach_earning(p: Product, disbursed: date, n: int, first_due: date | None,
                   rows: list[Row]) -> list[str]:
    """Gives each row the periods whose interest it collects, each period earning its own
    interest over its own days (a grace period's interest too, though it is due later), and
    returns every way the disclosed interest differs from that recomputation."""
    ends = grid(disbursed, n, p.unit, p.every, first_due)
    financed = sum(r.principal for r in rows)
    if p.amortization == "single_bullet":
        rows[0].segments = [(disbursed, rows[0].due, rows[0].interest)]
        rates = _rates(p, disbursed, ends, first_due)
        expect = round_minor(financed * sum(rates, Decimal(0)), p.mode)
        return [] if expect == rows[0].interest else [
            f"bullet interest {rows[0].interest} != {expect}"]
    rates = _rates(p, disbursed, ends, first_due)
    flat = _flat_interest(p, financed, n)
    by_due = {r.due: r for r in rows}
    problems: list[str] = []
    balance, start, pending, deferred = financed, disbursed, [], 0
    for k, end in enumerate(ends, start=1):
        earned = flat[k - 1] if flat else round_minor(balance * rates[k - 1], p.mode)
        pending.append((start, end, earned))
        deferred += earned
        row = by_due.get(end)
        if row is not None and k > p.interest_grace:
            if row.interest != deferred:
                problems.append(f"installment {row.n} interest {row.interest} != {deferred} "
                                "(its periods' interest recomputed)")
            row.segments, pending, deferred = pending, [], 0
        elif row is not None and row.interest != 0:
            problems.append(f"installment {row.n} in interest grace carries {row.interest}")
        if row is not None:
            balance -= row.principal
        start = end
    if any(not r.segments and r.interest for r in rows) or pending:
        problems.append("interest periods left without a collecting installment")
    if problems:  # fall back to the disclosed rows, so the model still runs
        prev = disbursed
        for r in rows:
            r.segments, prev = [(prev, r.due, r.interest)], r.due
    return problems


def _rates(p: Product, disbursed: date, ends: list[date], first_due: date | None) -> list[Decimal]:
    out, prev = [], disbursed
    for k, end in enumerate(ends):
        regular = k > 0 or first_due is None or end == periods_later(prev, p.unit, p.every, 1)
        out.append(p.period_rate(prev, end, regular))
        prev = end
    return out


def _flat_interest(p: Product, financed: int, n: int) -> list[int]:
    """Flat: interest on the original principal for the whole term, spread evenly."""
    if p.amortization != "flat":
        return []
    per_year = PER_YEAR.get(p.unit, p.year_days)
    total = round_minor(MONEY_CONTEXT.divide(
        Decimal(financed) * p.annual_percent * n * p.every, Decimal(100) * per_year), p.mode)
    each = total // n
    return [each] * (n - 1) + [total - each * (n - 1)]


def principal_problems(p: Product, rows: list[Row], n: int, financed: int, disbursed: date,
                       first_due: date | None) -> list[str]:
    """Where cheap, the disclosed principal against a closed form: it sums to the loan; equal
    principal and flat repay financed // paying periods a row; interest only and the bullet
    repay at the end; equal installments pay the annuity (rounded by the product's mode, or
    down) on every row but the last. Only with an installment unit of one minor unit."""
    total = sum(r.principal for r in rows)
    if total != financed:
        return [f"principal sums to {total}, not {financed}"]
    if p.installment_unit != 1 or len(rows) < 2:
        return []
    paying = n - p.principal_grace
    amortizing = [r for r in rows if r.principal][:-1]
    got = [r.principal for r in amortizing]
    if p.amortization in ("equal_principal", "flat") and set(got) - {financed // paying}:
        return [f"{p.amortization} principal {got}, expected {financed // paying} each"]
    if p.amortization == "interest_only" and any(r.principal for r in rows[:-1]):
        return ["interest-only rows repay principal before the end"]
    if p.amortization == "equal_installments" and p.interest_grace == 0:
        ends = grid(disbursed, n, p.unit, p.every, first_due)
        exact = level_payment(financed, _rates(p, disbursed, ends, first_due)[p.principal_grace:])
        allowed = {round_minor(exact, p.mode), round_minor(exact, Rounding.DOWN)}
        paid = {r.principal + r.interest for r in amortizing}
        if paid - allowed:
            return [f"equal installments {sorted(paid)}, the annuity is {exact:.4f}"]
    return []


def level_payment(balance: int, rates: list[Decimal]) -> Decimal:
    """The annuity: B r (1+r)^n / ((1+r)^n - 1) for equal rates; general periods otherwise."""
    if all(r == rates[0] for r in rates) and rates[0] != 0:
        r, n = rates[0], len(rates)
        g = (1 + r) ** n
        return MONEY_CONTEXT.divide(balance * r * g, g - 1)
    growth, annuity = Decimal(1), Decimal(0)
    for r in reversed(rates):
        annuity += growth
        growth *= 1 + r
    return MONEY_CONTEXT.divide(balance * growth, annuity)


def earned_by(segments: list[Segment], day: date, dc: DayCount) -> int:
    """Interest earned by the end of `day`: each segment pro rata over its days, rounded
    half-up once per segment (so by its end exactly its amount)."""
    total = 0
    for start, end, amount in segments:
        if day <= start or not amount:
            continue
        if day >= end:
            total += amount
            continue
        length = accrual_days(start, end, dc)
        elapsed = max(0, min(accrual_days(start, day, dc), length))
        total += half_up(amount * elapsed, length)
    return total


def half_up(num: int, den: int) -> int:
    """num / den rounded half away from zero, for non-negative integers."""
    if den <= 0:
        return num
    q, r = divmod(num, den)
    return q + (1 if 2 * r >= den else 0)
