"""From a product to concrete loan terms, and from a schedule to the APR a lender must disclose.

The APR always includes the fees: the advance is what the borrower actually receives (the
principal less a deducted origination fee), the payments are the installments as scheduled
(principal, interest and installment fees).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from .apr import AprMethod, AprResult, CashFlow, compute_apr
from .money import format_amount
from .schedule import LoanTerms, Schedule, generate_schedule

if TYPE_CHECKING:
    from .product import ProductConfig


def terms_from_product(
    product: ProductConfig,
    principal: int,
    term: int,
    grade: str,
    disbursement_date: date,
    first_due_date: date | None = None,
) -> LoanTerms:
    """Resolve a product + request into LoanTerms (does not check the product's ranges)."""
    return LoanTerms(
        currency=product.currency,
        principal=principal,
        installments=term,
        annual_rate_percent=product.rate_percent(grade),
        disbursement_date=disbursement_date,
        amortization=product.amortization,
        frequency=product.frequency,
        day_count=product.day_count,
        first_period=product.first_period,
        first_due_date=first_due_date,
        principal_grace=product.grace.principal_periods,
        interest_grace=product.grace.interest_periods,
        rounding=product.rounding.mode,
        installment_unit=product.installment_unit_minor(),
        origination_fee=product.origination_fee(principal),
        origination_treatment=product.fees.origination.treatment,
        installment_fee=product.installment_fee_minor(),
    )


def schedule_flows(schedule: Schedule) -> tuple[list[CashFlow], list[CashFlow]]:
    """(advances, payments) as the borrower experiences them: payout in, installments out."""
    advances = [CashFlow(schedule.disbursement_date, schedule.payout)]
    payments = [CashFlow(i.due_date, i.total) for i in schedule.installments]
    return advances, payments


def schedule_apr(schedule: Schedule, method: AprMethod = AprMethod.US_REG_Z) -> AprResult:
    advances, payments = schedule_flows(schedule)
    return compute_apr(method, advances, payments)


@dataclass(frozen=True, slots=True)
class RepresentativeApr:
    apr: Decimal  # percent, 2 places
    amount: int
    term: int
    grade: str

    def describe(self, currency: str) -> str:
        return f"{format_amount(self.amount, currency)} {currency} over {self.term} installments"


def lowest_apr(
    product: ProductConfig,
    grade: str,
    disbursement_date: date,
    only: tuple[int, int] | None = None,
) -> RepresentativeApr:
    """The lowest disclosed APR the grade can get, searched at the corners of the ranges.

    With fees, the APR falls with amount and (mostly) with term, but flat-rate products rise
    with term, so all four (amount, term) corners are tried; `only` pins one corner.
    """
    lo, _ = product.amount_range_minor()
    hi = product.max_amount_minor(grade)
    corners = (
        [only]
        if only
        else sorted({(a, t) for a in (lo, hi) for t in (product.term.min, product.term.max)})
    )
    best: RepresentativeApr | None = None
    for amount, term in corners:
        amount = min(amount, hi)
        terms = terms_from_product(product, amount, term, grade, disbursement_date)
        apr = schedule_apr(generate_schedule(terms), product.apr_method).apr
        if best is None or apr < best.apr:
            best = RepresentativeApr(apr, amount, term, grade)
    assert best is not None
    return best
