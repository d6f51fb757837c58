"""Portfolio and origination figures over plain records (pure, property-tested).

Money stays in integer minor units per currency (figures are never summed across currencies);
ratios are Decimal, rendered as strings with 4 decimal places. A ratio with a zero denominator
is 0 (an empty book has no risk), never a division error.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

PAR_DAYS = (1, 30, 90)
NPL_DAYS = 90
NON_PERFORMING = frozenset({"defaulted"})  # statuses counted as NPL whatever their DPD
QUANTUM = Decimal("0.0001")


@dataclass(frozen=True)
class LoanRecord:
    """What the portfolio report needs of one loan as of the report date."""

    loan_id: str
    product_id: str
    status: str
    currency: str
    principal: int
    created_on: date
    disbursed_on: date | None = None
    disbursed_amount: int = 0
    outstanding_principal: int = 0
    collected: int = 0  # every component repaid up to the date
    days_past_due: int = 0


@dataclass(frozen=True)
class ApplicationRecord:
    application_id: str
    product_id: str
    created_at: datetime
    outcome: str | None  # the automated decision: approve | refer | decline
    arm: str | None  # champion | challenger
    status: str  # current status
    decided_at: datetime | None  # when the final decision (auto or review) was made
    final: str | None  # approved | declined, None while still under review / withdrawn


def ratio(numerator: int, denominator: int) -> Decimal:
    if denominator <= 0:
        return Decimal(0).quantize(QUANTUM)
    return (Decimal(numerator) / Decimal(denominator)).quantize(QUANTUM, ROUND_HALF_EVEN)


@dataclass
class _Bucket:
    count: int = 0
    outstanding: int = 0

    def add(self, loan: LoanRecord) -> None:
        self.count += 1
        self.outstanding += loan.outstanding_principal


@dataclass
class CurrencyBook:
    currency: str
    loans: int = 0
    outstanding_principal: int = 0
    disbursed_volume: int = 0
    collections: int = 0
    by_status: dict[str, _Bucket] = field(default_factory=lambda: defaultdict(_Bucket))
    by_product: dict[str, _Bucket] = field(default_factory=lambda: defaultdict(_Bucket))
    at_risk: dict[int, int] = field(default_factory=lambda: dict.fromkeys(PAR_DAYS, 0))
    non_performing: int = 0

    def par(self, days: int) -> Decimal:
        return ratio(self.at_risk[days], self.outstanding_principal)

    def npl_ratio(self) -> Decimal:
        return ratio(self.non_performing, self.outstanding_principal)


def portfolio(loans: list[LoanRecord], as_of: date) -> dict[str, CurrencyBook]:
    """Loans created on or before `as_of`, per currency."""
    books: dict[str, CurrencyBook] = {}
    for loan in loans:
        if loan.created_on > as_of:
            continue
        book = books.setdefault(loan.currency, CurrencyBook(loan.currency))
        book.loans += 1
        book.outstanding_principal += loan.outstanding_principal
        if loan.disbursed_on is not None and loan.disbursed_on <= as_of:
            book.disbursed_volume += loan.disbursed_amount
        book.collections += loan.collected
        book.by_status[loan.status].add(loan)
        book.by_product[loan.product_id].add(loan)
        for days in PAR_DAYS:
            if loan.days_past_due >= days:
                book.at_risk[days] += loan.outstanding_principal
        if loan.days_past_due >= NPL_DAYS or loan.status in NON_PERFORMING:
            book.non_performing += loan.outstanding_principal
    return dict(sorted(books.items()))


@dataclass
class ArmStats:
    applications: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: {"approve": 0, "refer": 0,
                                                              "decline": 0})


@dataclass
class Origination:
    applications: int
    outcomes: dict[str, int]
    final: dict[str, int]  # approved, declined, undecided
    decision_seconds: list[int]
    arms: dict[str, ArmStats]

    def rate(self, outcome: str) -> Decimal:
        return ratio(self.outcomes[outcome], self.applications)

    def time_to_decision(self) -> dict[str, Any]:
        xs = sorted(self.decision_seconds)
        if not xs:
            return {"decided": 0, "mean_seconds": None, "median_seconds": None,
                    "p90_seconds": None, "max_seconds": None}
        return {"decided": len(xs), "mean_seconds": sum(xs) // len(xs),
                "median_seconds": xs[(len(xs) - 1) // 2],
                "p90_seconds": xs[min(len(xs) - 1, (len(xs) * 9 + 9) // 10 - 1)],
                "max_seconds": xs[-1]}


def origination(apps: list[ApplicationRecord], start: datetime, end: datetime) -> Origination:
    """Applications created in [start, end)."""
    chosen = [a for a in apps if start <= a.created_at < end]
    outcomes = {"approve": 0, "refer": 0, "decline": 0}
    final = {"approved": 0, "declined": 0, "undecided": 0}
    arms: dict[str, ArmStats] = {}
    seconds = []
    for a in chosen:
        if a.outcome in outcomes:
            outcomes[a.outcome] += 1
        final[a.final if a.final in ("approved", "declined") else "undecided"] += 1
        if a.decided_at is not None and a.final is not None:
            seconds.append(max(0, int((a.decided_at - a.created_at).total_seconds())))
        arm = arms.setdefault(a.arm or "champion", ArmStats())
        arm.applications += 1
        if a.outcome in arm.outcomes:
            arm.outcomes[a.outcome] += 1
    return Origination(len(chosen), outcomes, final, seconds, dict(sorted(arms.items())))
