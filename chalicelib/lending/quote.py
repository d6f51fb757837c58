"""A quote: the schedule, the cost of credit and the APR a product gives one borrower, and
whether the product's rules and cap allow it, with the figures behind every refusal.

Requests the product cannot even price (unknown grade, non-positive amount) raise LendingError;
requests it prices but does not allow (out of range, above the grade's limit, above the cap)
come back as a quote with `refusals`, so a partner sees both the offer and why it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from .apr import AprResult
from .errors import LendingError, Problem
from .money import format_amount
from .pricing import schedule_apr, terms_from_product
from .product import ProductConfig
from .schedule import Schedule, generate_schedule


@dataclass(frozen=True, slots=True)
class Quote:
    currency: str
    grade: str
    annual_rate_percent: Decimal
    principal: int
    term: int
    schedule: Schedule | None  # None when no schedule can be made (see refusals)
    apr: AprResult | None
    refusals: tuple[Problem, ...]

    @property
    def within_rules(self) -> bool:
        return not any(p.type != "apr_above_cap" for p in self.refusals)

    @property
    def within_cap(self) -> bool:
        return self.apr is not None and not any(p.type == "apr_above_cap" for p in self.refusals)

    @property
    def eligible(self) -> bool:
        return not self.refusals

    @property
    def total_interest(self) -> int:
        return self.schedule.total_interest if self.schedule else 0

    @property
    def total_fees(self) -> int:
        return self.schedule.total_fees if self.schedule else 0

    @property
    def total_cost(self) -> int:
        """Finance charge: interest plus all fees (what is repaid or withheld beyond payout)."""
        return self.schedule.total_cost if self.schedule else 0

    def as_json(self) -> dict[str, Any]:
        def m(v: int) -> str:
            return format_amount(v, self.currency)

        return {
            "currency": self.currency,
            "grade": self.grade,
            "annual_rate_percent": format(self.annual_rate_percent, "f"),
            "principal": m(self.principal),
            "term": self.term,
            "total_interest": m(self.total_interest),
            "total_fees": m(self.total_fees),
            "total_cost": m(self.total_cost),
            "apr": None if self.apr is None else self.apr.as_json(),
            "within_rules": self.within_rules,
            "within_cap": self.within_cap,
            "eligible": self.eligible,
            "refusals": [p.as_dict() for p in self.refusals],
            "schedule": None if self.schedule is None else self.schedule.as_json(),
        }


def quote(
    product: ProductConfig,
    principal: int,
    term: int,
    grade: str,
    disbursement_date: date,
    first_due_date: date | None = None,
) -> Quote:
    """Price `principal` over `term` installments for `grade` under `product`."""
    if isinstance(principal, bool) or not isinstance(principal, int) or principal <= 0:
        raise LendingError.single(
            "amount", "amount must be a positive int of minor units", "amount_not_positive"
        )
    rate = product.rate_percent(grade)  # raises for an unknown grade
    cur = product.currency
    refusals = _rule_refusals(product, principal, term, grade)

    schedule: Schedule | None = None
    apr: AprResult | None = None
    try:
        terms = terms_from_product(
            product, principal, term, grade, disbursement_date, first_due_date
        )
        schedule = generate_schedule(terms)
        apr = schedule_apr(schedule, product.apr_method)
    except LendingError as exc:
        refusals.extend(exc.problems)
    if apr is not None and product.apr_cap_percent is not None:
        cap = Decimal(product.apr_cap_percent)
        if apr.apr > cap:
            refusals.append(
                Problem(
                    ("apr",),
                    f"APR {apr.apr}% exceeds the product's cap of {product.apr_cap_percent}% "
                    f"(grade {grade}, rate {rate}%, {format_amount(principal, cur)} {cur} over "
                    f"{term} installments)",
                    "apr_above_cap",
                    {"apr": str(apr.apr), "cap": product.apr_cap_percent},
                )
            )
    return Quote(cur, grade, rate, principal, term, schedule, apr, tuple(refusals))


def _rule_refusals(product: ProductConfig, principal: int, term: int, grade: str) -> list[Problem]:
    cur = product.currency
    lo, hi = product.amount_range_minor()
    grade_max = product.max_amount_minor(grade)
    out: list[Problem] = []

    def money(v: int) -> str:
        return f"{format_amount(v, cur)} {cur}"

    if principal < lo:
        out.append(
            Problem(
                ("amount",),
                f"amount {money(principal)} is below the product minimum {money(lo)}",
                "amount_below_min",
                {"min": format_amount(lo, cur)},
            )
        )
    if principal > hi:
        out.append(
            Problem(
                ("amount",),
                f"amount {money(principal)} is above the product maximum {money(hi)}",
                "amount_above_max",
                {"max": format_amount(hi, cur)},
            )
        )
    elif principal > grade_max:
        out.append(
            Problem(
                ("amount",),
                f"amount {money(principal)} is above grade {grade}'s limit of {money(grade_max)}",
                "amount_above_grade_max",
                {"max": format_amount(grade_max, cur), "grade": grade},
            )
        )
    if not product.term.min <= term <= product.term.max:
        out.append(
            Problem(
                ("term",),
                f"term {term} is outside the product's "
                f"{product.term.min} to {product.term.max} installments",
                "term_out_of_range",
                {"min": product.term.min, "max": product.term.max},
            )
        )
    return out
