"""The reference model alone, on a loan small enough to work out by hand.

3,000.00 over three months from 2025-01-15, 12% a year, 30/360, equal principal: 1,000.00
principal a month and interest 30.00, 20.00, 10.00 (1% a month on 3,000, 2,000, 1,000); late
fee 50.00; penalty 36% a year on overdue principal = 1.00 a day per 1,000.00 (360-day year).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chalicelib.lending.daycount import DayCount
from chalicelib.lending.money import Rounding
from tests.reference.model import LoanModel, Refused
from tests.reference.terms import Product, Row, attach_earning

RULES = tuple((d, c) for d in ("past_due", "due", "in_advance")
              for c in ("penalty", "fee", "interest", "principal"))
DUE = [date(2025, 2, 15), date(2025, 3, 15), date(2025, 4, 15)]
D0 = date(2025, 1, 15)


def product(**changes: object) -> Product:
    base = dict(currency="CNY", annual_percent=Decimal(12), amortization="equal_principal",
                unit="month", every=1, day_count=DayCount.THIRTY_360, principal_grace=0,
                interest_grace=0, mode=Rounding.HALF_UP, installment_unit=1,
                installment_fee=0, late_fee=5000, penalty_percent=Decimal(36),
                allocation=RULES, prepayment="reduce_term", tolerance=0)
    return Product(**{**base, **changes})  # type: ignore[arg-type]


def loan(interest: tuple[int, int, int] = (3000, 2000, 1000), **changes: object) -> LoanModel:
    p = product(**changes)
    rows = [Row(n + 1, DUE[n], 100_000, interest[n], 0) for n in range(3)]
    assert attach_earning(p, D0, 3, None, rows) == []
    return LoanModel(p, D0, rows)


def test_a_missed_installment_ages_and_is_charged_day_by_day() -> None:
    m = loan()
    m.close_business(date(2025, 2, 15))
    v = m.view()
    assert (v["status"], v["dpd"], v["outstanding"]["fee"]) == ("active", 0, 0)  # due today
    m.close_business(date(2025, 2, 16))
    v = m.view()
    assert (v["status"], v["dpd"], v["bucket"]) == ("delinquent", 1, "1-30")
    # interest: installment 1 whole, installment 2 one day of 30 (20.00 / 30 = 0.67)
    assert v["outstanding"] == {"principal": 300_000, "interest": 3067, "fee": 5000,
                                "penalty": 100}
    m.close_business(date(2025, 2, 20))
    v = m.view()
    assert (v["dpd"], v["outstanding"]["fee"], v["outstanding"]["penalty"]) == (5, 5000, 500)


def test_a_quote_for_a_later_date_closes_the_loan_at_zero_when_paid_then() -> None:
    m = loan()
    m.close_business(date(2025, 2, 9))
    q = m.payoff_quote(date(2025, 2, 20))
    # principal + 30.00 + 5/30 of 20.00 + the late fee + penalties of Feb 16-19 (4 days)
    assert q["components"] == {"principal": 300_000, "interest": 3333, "fee": 5000,
                               "penalty": 400}
    assert q["total"] == 308_733
    m.close_business(date(2025, 2, 19))
    m.repay(q["total"], date(2025, 2, 20))
    v = m.view()
    assert v["status"] == "closed" and v["credit"] == 0
    assert set(v["outstanding"].values()) == {0}
    m.close_business(date(2025, 3, 31))
    assert set(m.view()["outstanding"].values()) == {0}


def test_interest_grace_interest_is_earned_in_the_grace_period() -> None:
    m = loan((0, 5000, 1000), interest_grace=1)  # period 1's 30.00 is due with installment 2
    assert m.payoff_quote(date(2025, 1, 30))["components"]["interest"] == 1500  # 15 of 30 days
    m.close_business(date(2025, 2, 14))
    assert m.view()["outstanding"]["interest"] == 2900  # 29 days of period 1
    m.close_business(date(2025, 3, 1))
    assert m.view()["outstanding"]["interest"] == 3000 + 1067  # + 16/30 of 20.00


def test_prepayment_reduce_term_drops_the_last_installment_and_rescales_interest() -> None:
    m = loan()
    m.close_business(date(2025, 1, 19))
    paid = m.repay(103_000 + 100_000, date(2025, 1, 20))  # installment 1 as scheduled + 1,000
    assert paid == {"principal": 200_000, "interest": 3000, "fee": 0, "penalty": 0,
                    "credit": 0}
    insts = m.view()["installments"]
    assert [(i["number"], i["principal"], i["interest"]) for i in insts] == [
        (1, 100_000, 3000), (2, 100_000, 1000)]  # 20.00 on 2,000 becomes 10.00 on 1,000


def test_a_charge_back_after_the_credit_was_refunded_leaves_the_borrower_owing() -> None:
    m = loan(tolerance=100_000)
    m.close_business(date(2025, 1, 31))
    quote = m.payoff_quote(date(2025, 2, 1))["total"]
    m.repay(quote + 20_000, date(2025, 2, 1))
    assert m.view()["status"] == "closed" and m.view()["credit"] == 20_000
    m.refund(20_000, date(2025, 2, 2))
    m.reverse(1, date(2025, 2, 2))  # reopened: closed through the day before
    v = m.view()
    assert v["status"] == "active" and v["credit"] == -20_000
    # one more day of period 1 (30.00 / 30), and the refunded 200.00 now owed
    assert m.payoff_quote(date(2025, 2, 2))["total"] == quote + 100 + 20_000


def test_intake_refusals() -> None:
    m = loan()
    m.close_business(date(2025, 1, 31))
    with pytest.raises(Refused):
        m.repay(m.payoff_quote(date(2025, 2, 1))["total"] + 1, date(2025, 2, 1))
    m.repay(m.payoff_quote(date(2025, 2, 1))["total"], date(2025, 2, 1))
    with pytest.raises(Refused):
        m.repay(100, date(2025, 2, 1))
