"""A small loan built from the real schedule generator, for the pure servicing tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from chalicelib.lending.due_dates import MONTHLY, Frequency, FrequencyUnit
from chalicelib.lending.loan_state import LoanState, Policy, initial
from chalicelib.lending.schedule import LoanTerms, generate_schedule

WEEKLY = Frequency(unit=FrequencyUnit.WEEK)


def loan(principal: int = 1_200_000, n: int = 6, rate: str = "12", start: date = date(2024, 1, 31),
         fee: int = 0, frequency: Frequency = MONTHLY, principal_grace: int = 0,
         interest_grace: int = 0) -> LoanState:
    sched = generate_schedule(LoanTerms("CNY", principal, n, Decimal(rate), start,
                                        frequency=frequency, installment_fee=fee,
                                        principal_grace=principal_grace,
                                        interest_grace=interest_grace))
    rows = [{"number": i.number, "due_date": i.due_date, "principal": i.principal,
             "interest": i.interest, "fee": i.fee, "earned": list(i.earned)}
            for i in sched.installments]
    return initial(sched.financed, start, rows)


def policy(**kw: object) -> Policy:
    base = {"annual_rate_percent": Decimal("12"), "late_fee": 5_000,
            "penalty_rate_percent": Decimal("18")}
    base.update(kw)
    return Policy(**base)  # type: ignore[arg-type]
