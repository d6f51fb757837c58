"""Repayment schedules: exact, explicit about rounding, and summing to the loan to the minor unit.

Interest rule (per period k, on the principal outstanding at its start):
* 30/360: a regular period earns rate × every / periods-per-year (monthly rate/12, semi-monthly
  rate/24, weekly rate/52, every-n-days rate × n/360); an odd (irregular) first period earns
  rate × its Bond Basis 30/360 days / 360.
* actual/365 and actual/360: every period earns rate × its actual days / 365 (or 360).
Each period's interest is rounded to the minor unit once, by the product's mode.

Equal installments use the level payment that exactly amortizes the loan over the periods'
own rates (the closed form B·Π(1+r_k) / Σ_j Π_{k>j}(1+r_k), in Decimal); with equal periodic
rates this is the textbook annuity, i.e. numpy_financial.pmt. The payment is rounded to the
product's unit by its mode (rounded down instead when rounding up would repay the loan before
its last installment); the last installment takes whatever principal is left, with that
period's interest, so rounding never leaks out of the schedule.

Even spreads (equal principal's principal, flat's interest and principal) give every
installment the floor share of the total; the last takes the remainder, so it is never smaller.

Grace: during the first `principal_grace` periods no principal is due (interest only); during
the first `interest_grace` periods interest accrues but is not due, and moves to the first
installment after the interest grace (deferred, never capitalized or waived). A period in
which nothing at all is due yields no installment row; its days roll into the next row.
Deferred interest is still earned over its own period: the row that collects it carries
`earned`, one (start, end, amount) segment per period whose interest it collects, so servicing
accrues each day's interest when it is earned while it stays due where the schedule says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .daycount import DayCount, accrual_days
from .due_dates import MONTHLY, Frequency, due_dates, step
from .errors import LendingError, Problem
from .money import MONEY_CONTEXT, Rounding, format_amount, round_minor

#: More installments than this is not a consumer or small-business loan; refuse early.
MAX_INSTALLMENTS = 1200
#: 1000% nominal: above any legal cap anywhere; guards the solver and the arithmetic.
MAX_RATE_PERCENT = Decimal(1000)

_HUNDRED = Decimal(100)
_ONE = Decimal(1)


class Amortization(StrEnum):
    EQUAL_INSTALLMENTS = "equal_installments"  # 等额本息: level payment, declining interest
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金: level principal, declining payment
    INTEREST_ONLY = "interest_only"  # interest each period, principal at the end
    SINGLE_BULLET = "single_bullet"  # one payment at the end: principal + simple interest
    FLAT = "flat"  # interest on the original principal for the whole term, spread evenly


class FirstPeriod(StrEnum):
    ONE_PERIOD = "one_period"  # first due date exactly one period after disbursement
    ACTUAL_DAYS = "actual_days"  # a chosen first due date; the odd first period earns its days


class OriginationTreatment(StrEnum):
    DEDUCTED = "deducted"  # taken from the payout; the borrower repays the full principal
    FINANCED = "financed"  # added to the principal, amortized and bearing interest


@dataclass(frozen=True, slots=True)
class LoanTerms:
    """Everything a schedule depends on, resolved from a product (or given explicitly).

    `principal` is what the borrower asked for, in minor units; `annual_rate_percent` is the
    nominal annual rate in percent (Decimal("12") for 12%).
    """

    currency: str
    principal: int
    installments: int
    annual_rate_percent: Decimal
    disbursement_date: date
    amortization: Amortization = Amortization.EQUAL_INSTALLMENTS
    frequency: Frequency = MONTHLY
    day_count: DayCount = DayCount.THIRTY_360
    first_period: FirstPeriod = FirstPeriod.ONE_PERIOD
    first_due_date: date | None = None
    principal_grace: int = 0
    interest_grace: int = 0
    rounding: Rounding = Rounding.HALF_UP
    installment_unit: int = 1
    origination_fee: int = 0
    origination_treatment: OriginationTreatment = OriginationTreatment.DEDUCTED
    installment_fee: int = 0

    def __post_init__(self) -> None:
        problems = list(_term_problems(self))
        if problems:
            raise LendingError(problems)

    @property
    def financed(self) -> int:
        """The principal that amortizes (the requested amount, plus a financed fee)."""
        if self.origination_treatment is OriginationTreatment.FINANCED:
            return self.principal + self.origination_fee
        return self.principal

    @property
    def payout(self) -> int:
        """What the borrower receives on the disbursement date."""
        if self.origination_treatment is OriginationTreatment.DEDUCTED:
            return self.principal - self.origination_fee
        return self.principal


def _term_problems(t: LoanTerms) -> list[Problem]:
    out: list[Problem] = []

    def bad(loc: str, msg: str, type_: str, **ctx: Any) -> None:
        out.append(Problem((loc,), msg, type_, ctx))

    if isinstance(t.principal, bool) or not isinstance(t.principal, int) or t.principal <= 0:
        bad("principal", "principal must be a positive integer of minor units", "principal_invalid")
    if not 1 <= t.installments <= MAX_INSTALLMENTS:
        bad("term", f"term must be 1 to {MAX_INSTALLMENTS} installments", "term_out_of_range")
    rate = t.annual_rate_percent
    if not isinstance(rate, Decimal) or not rate.is_finite() or not 0 <= rate <= MAX_RATE_PERCENT:
        bad(
            "annual_rate_percent",
            f"rate must be a Decimal from 0 to {MAX_RATE_PERCENT}",
            "rate_out_of_range",
        )
    if t.principal_grace < 0 or t.interest_grace < 0:
        bad("grace", "grace periods cannot be negative", "grace_negative")
    if t.installments >= 1 and max(t.principal_grace, t.interest_grace) >= t.installments:
        bad(
            "grace",
            f"grace ({max(t.principal_grace, t.interest_grace)} periods) must be "
            f"shorter than the term ({t.installments})",
            "grace_too_long",
        )
    if t.amortization is Amortization.SINGLE_BULLET and (t.principal_grace or t.interest_grace):
        bad("grace", "a single bullet loan has no grace periods", "grace_not_applicable")
    if t.installment_unit < 1:
        bad("installment_unit", "the rounding unit must be at least one minor unit", "unit_invalid")
    if t.origination_fee < 0 or t.installment_fee < 0:
        bad("fees", "fees cannot be negative", "fee_negative")
    if (
        t.origination_treatment is OriginationTreatment.DEDUCTED
        and isinstance(t.principal, int)
        and t.origination_fee >= t.principal > 0
    ):
        bad(
            "fees",
            "the origination fee deducted from the payout must be below the principal",
            "fee_exceeds_principal",
            fee=t.origination_fee,
            principal=t.principal,
        )
    if t.first_due_date is not None and t.first_period is FirstPeriod.ONE_PERIOD:
        bad(
            "first_due_date",
            "this product's first due date is one period after disbursement; it cannot be chosen",
            "first_due_date_not_allowed",
        )
    return out


@dataclass(frozen=True, slots=True)
class Installment:
    number: int
    due_date: date
    days: int  # calendar days since the previous due date (or the disbursement)
    principal: int
    interest: int
    fee: int
    total: int
    outstanding_after: int
    #: The periods whose interest this row collects, as (start, end, amount), when they are
    #: not just its own: deferred interest of an interest grace. Empty: its own row period.
    earned: tuple[tuple[date, date, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Schedule:
    currency: str
    disbursement_date: date
    principal: int  # requested
    financed: int  # amortizing principal (principal + financed fee)
    payout: int  # received by the borrower
    origination_fee: int
    regular_payment: int | None  # the level payment (equal installments, flat), else None
    installments: tuple[Installment, ...] = field(default_factory=tuple)

    @property
    def total_principal(self) -> int:
        return sum(i.principal for i in self.installments)

    @property
    def total_interest(self) -> int:
        return sum(i.interest for i in self.installments)

    @property
    def total_installment_fees(self) -> int:
        return sum(i.fee for i in self.installments)

    @property
    def total_fees(self) -> int:
        """All fees the borrower bears: origination (however paid) plus installment fees."""
        return self.origination_fee + self.total_installment_fees

    @property
    def total_payments(self) -> int:
        return sum(i.total for i in self.installments)

    @property
    def total_cost(self) -> int:
        """Finance charge: everything repaid or withheld beyond what the borrower received."""
        return self.total_payments - self.payout

    def as_json(self) -> dict[str, Any]:
        """Amounts as decimal strings, dates as ISO strings: the API's rendering."""
        fmt = self.currency

        def m(v: int) -> str:
            return format_amount(v, fmt)

        return {
            "currency": self.currency,
            "disbursement_date": self.disbursement_date.isoformat(),
            "principal": m(self.principal),
            "financed": m(self.financed),
            "payout": m(self.payout),
            "origination_fee": m(self.origination_fee),
            "regular_payment": None if self.regular_payment is None else m(self.regular_payment),
            "total_interest": m(self.total_interest),
            "total_fees": m(self.total_fees),
            "total_payments": m(self.total_payments),
            "total_cost": m(self.total_cost),
            "installments": [
                {
                    "number": i.number,
                    "due_date": i.due_date.isoformat(),
                    "days": i.days,
                    "principal": m(i.principal),
                    "interest": m(i.interest),
                    "fee": m(i.fee),
                    "total": m(i.total),
                    "outstanding_after": m(i.outstanding_after),
                    **({"earned": [[a.isoformat(), b.isoformat(), m(v)] for a, b, v in i.earned]}
                       if i.earned else {}),
                }
                for i in self.installments
            ],
        }


def periodic_rates(
    terms: LoanTerms, dates: Sequence[date], start: date | None = None
) -> list[Decimal]:
    """The interest rate (as a fraction) each period earns, by the module's interest rule."""
    rate = MONEY_CONTEXT.divide(terms.annual_rate_percent, _HUNDRED)
    freq, dc = terms.frequency, terms.day_count
    per_year, every = freq.periods_per_year(dc.year_days)
    regular = MONEY_CONTEXT.divide(rate * every, Decimal(per_year))
    previous = start or terms.disbursement_date
    out: list[Decimal] = []
    for k, due in enumerate(dates):
        is_regular = dc is DayCount.THIRTY_360 and (
            k > 0 or due == step(previous, freq, 1) or terms.first_due_date is None
        )
        if is_regular:
            out.append(regular)
        else:
            days = accrual_days(previous, due, dc)
            out.append(MONEY_CONTEXT.divide(rate * days, Decimal(dc.year_days)))
        previous = due
    return out


def level_payment(balance: int, rates: Sequence[Decimal]) -> Decimal:
    """The exact (unrounded) payment that amortizes `balance` over periods with these rates."""
    ctx = MONEY_CONTEXT
    growth = _ONE  # Π_{k>j}(1 + r_k), built from the last period backwards
    annuity = Decimal(0)  # Σ_j Π_{k>j}(1 + r_k)
    for r in reversed(rates):
        annuity = ctx.add(annuity, growth)
        growth = ctx.multiply(growth, ctx.add(_ONE, r))
    return ctx.divide(ctx.multiply(Decimal(balance), growth), annuity)


def generate_schedule(terms: LoanTerms) -> Schedule:
    """The installment plan for `terms`; raises LendingError if the terms cannot make one."""
    n = terms.installments
    dates = due_dates(terms.disbursement_date, n, terms.frequency, terms.first_due_date)
    rates = periodic_rates(terms, dates)
    if terms.amortization is Amortization.SINGLE_BULLET:
        return _single_bullet(terms, dates[-1], rates)

    mode, unit = terms.rounding, terms.installment_unit
    financed = terms.financed
    g_p, g_i = terms.principal_grace, terms.interest_grace
    amortizing = n - g_p
    method = terms.amortization

    payment: int | None = None
    flat_interest: list[int] = []
    fixed_principal = 0
    if method is Amortization.EQUAL_INSTALLMENTS:
        exact = level_payment(financed, rates[g_p:])
        payment = round_minor(exact, mode, unit)
        if payment > exact and _ends_early(financed, payment, rates, terms):
            payment = round_minor(exact, Rounding.DOWN, unit)
    elif method is Amortization.EQUAL_PRINCIPAL:
        fixed_principal = financed // amortizing
    elif method is Amortization.FLAT:
        flat_interest = _flat_interest(terms, financed)
        fixed_principal = financed // amortizing
        payment = _unit_adjusted(fixed_principal, flat_interest[0], terms) + flat_interest[0]

    rows: list[Installment] = []
    outstanding = financed
    deferred = 0
    row_start = terms.disbursement_date
    periods: list[tuple[date, date, int]] = []  # deferred periods' (start, end, interest)
    for k in range(1, n + 1):
        due = dates[k - 1]
        period_start = dates[k - 2] if k > 1 else terms.disbursement_date
        if method is Amortization.FLAT:
            accrued = flat_interest[k - 1]
        else:
            accrued = round_minor(MONEY_CONTEXT.multiply(outstanding, rates[k - 1]), mode)
        earned: tuple[tuple[date, date, int], ...] = ()
        if k <= g_i:
            deferred += accrued
            interest = 0
            periods.append((period_start, due, accrued))
        else:
            interest, deferred = accrued + deferred, 0
            if periods:
                earned, periods = (*periods, (period_start, due, accrued)), []

        if k == n:
            principal = outstanding
        elif k <= g_p:
            principal = 0
        elif method is Amortization.EQUAL_INSTALLMENTS:
            assert payment is not None
            principal = payment - accrued
        elif method is Amortization.EQUAL_PRINCIPAL:
            principal = _unit_adjusted(fixed_principal, interest, terms)
        elif method is Amortization.FLAT:
            principal = _unit_adjusted(fixed_principal, accrued, terms)
        else:  # interest only
            principal = 0

        fee = terms.installment_fee
        total = principal + interest + fee
        if k < n and (principal < 0 or (principal >= outstanding and principal > 0)):
            raise _unamortizable(terms, k, principal, outstanding)
        if total == 0:
            if k <= g_p:
                continue  # full grace: nothing due, the period rolls into the next row
            raise LendingError.single(
                "principal",
                f"installment {k} would be zero: {format_amount(financed, terms.currency)} "
                f"{terms.currency} is too small to spread over {n} installments",
                "installment_zero",
                installment=k,
            )
        outstanding -= principal
        rows.append(
            Installment(
                number=len(rows) + 1,
                due_date=due,
                days=(due - row_start).days,
                principal=principal,
                interest=interest,
                fee=fee,
                total=total,
                outstanding_after=outstanding,
                earned=earned,
            )
        )
        row_start = due
    return _schedule(terms, payment, rows)


def _ends_early(financed: int, payment: int, rates: Sequence[Decimal], terms: LoanTerms) -> bool:
    """Would a payment rounded up repay everything before the last installment?

    Tiny payments over many periods (or a coarse unit) can accumulate a whole payment of
    rounding; the schedule then rounds the payment down instead and lets the last installment
    absorb the difference, rather than emitting empty installments.
    """
    outstanding = financed
    n = terms.installments
    for k in range(terms.principal_grace + 1, n):
        interest = round_minor(MONEY_CONTEXT.multiply(outstanding, rates[k - 1]), terms.rounding)
        outstanding -= payment - interest
        if outstanding <= 0:
            return True
    return False


def _unit_adjusted(principal: int, interest: int, terms: LoanTerms) -> int:
    """Principal after rounding the installment total to the product's unit."""
    if terms.installment_unit == 1:
        return principal
    total = round_minor(Decimal(principal + interest), terms.rounding, terms.installment_unit)
    return total - interest


def _flat_interest(terms: LoanTerms, financed: int) -> list[int]:
    """Flat interest: principal × rate × term in years, spread evenly; the last row absorbs."""
    n = terms.installments
    per_year, every = terms.frequency.periods_per_year(terms.day_count.year_days)
    total = MONEY_CONTEXT.divide(
        Decimal(financed) * terms.annual_rate_percent * n * every, _HUNDRED * per_year
    )
    total_minor = round_minor(total, terms.rounding)
    each = total_minor // n
    return [each] * (n - 1) + [total_minor - each * (n - 1)]


def _single_bullet(terms: LoanTerms, due: date, rates: Sequence[Decimal]) -> Schedule:
    """One payment at maturity: principal plus simple interest over every period."""
    simple = MONEY_CONTEXT.multiply(terms.financed, sum(rates, Decimal(0)))
    interest = round_minor(simple, terms.rounding)
    fee = terms.installment_fee
    row = Installment(
        number=1,
        due_date=due,
        days=(due - terms.disbursement_date).days,
        principal=terms.financed,
        interest=interest,
        fee=fee,
        total=terms.financed + interest + fee,
        outstanding_after=0,
    )
    return _schedule(terms, None, [row])


def _unamortizable(terms: LoanTerms, k: int, principal: int, outstanding: int) -> LendingError:
    cur = terms.currency
    if principal < 0:
        msg = (
            f"installment {k} does not cover its interest (principal would be "
            f"{format_amount(principal, cur)} {cur}): the rounding unit or the rate makes the "
            "balance grow"
        )
        code = "negative_amortization"
    else:
        msg = (
            f"installment {k} would repay the whole remaining {format_amount(outstanding, cur)} "
            f"{cur} before the last installment: the rounding unit is too coarse for this loan"
        )
        code = "schedule_ends_early"
    return LendingError.single(("rounding", "installment_unit"), msg, code, installment=k)


def _schedule(terms: LoanTerms, payment: int | None, rows: list[Installment]) -> Schedule:
    return Schedule(
        currency=terms.currency,
        disbursement_date=terms.disbursement_date,
        principal=terms.principal,
        financed=terms.financed,
        payout=terms.payout,
        origination_fee=terms.origination_fee,
        regular_payment=payment,
        installments=tuple(rows),
    )
