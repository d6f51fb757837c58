"""Minimal reproductions of every divergence the reference model found between the API and
the documented rules (issue 14), each the API against the model, kept as regression tests. The
issue named the first five kinds (grace interest, a quote for a later date paid then, the
disbursement-day quote, a charge-back after a refund, the intake refusals); the model found
the rest: what a payoff leaves on later installments, a reversal reopening a loan close of
business had skipped, and a back-dated repayment undoing a write-off.

The loan is the one tests/reference/test_model.py works out by hand: 3,000.00 over three
months from 2025-01-15 at 12%, 30/360, equal principal (interest 30.00, 20.00, 10.00), late
fee 50.00, penalty 36%.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tests.reference.compare import quote_diffs, servicing_diffs
from tests.reference.driver import World, minor
from tests.reference.model import LoanModel
from tests.reference.terms import Product, attach_earning, disclosed_rows

D0 = date(2025, 1, 15)
TERMS: dict[str, Any] = {
    "currency": "CNY", "amount": {"min": "1000.00", "max": "50000.00"},
    "term": {"min": 3, "max": 12}, "amortization": "equal_principal",
    "pricing": {"grades": ["A"], "rate_percent": {"A": "12"}},
    "fees": {"late": "50.00", "penalty_rate_percent": "36"},
}



class Case:
    """One tenant, one product, one loan, the model beside it."""

    def __init__(self, api: Any, tolerance: str = "0", **changes: Any) -> None:
        terms = {**TERMS, **changes, "overpayment_tolerance": tolerance}
        p = Product.of(terms, "A")
        self.world = World(api, "found")
        status, body = self.world.product(terms)
        assert status == 201, body
        self.loan_id = self.world.loan(body["id"], D0, 300_000, 3, None)
        rows = disclosed_rows(self.world.loan_view(self.loan_id)["schedule"])
        assert attach_earning(p, D0, 3, None, rows) == []
        self.model = LoanModel(p, D0, rows)
        self.world.set_today(D0)

    def cob(self, day: date) -> None:
        """Close of business for `day` runs once it is over: the tenant's today is the next."""
        self.world.set_today(max(self.world.today or day, day + timedelta(days=1)))
        self.world.close_business(day)
        self.model.close_business(day)

    def pay(self, amount: int, on: date) -> Any:
        self.world.set_today(max(self.world.today or on, on))
        r = self.world.repay(self.loan_id, amount, on)
        if r.status == 201:
            self.model.repay(amount, on)
        return r

    def diffs(self, quote_on: date | None = None) -> list[str]:
        out = servicing_diffs(self.world, self.loan_id, self.model)
        if quote_on is not None:
            out += quote_diffs(self.world, self.loan_id, self.model, quote_on)[0]
        return out


def test_interest_is_earned_in_an_interest_grace(api: Any) -> None:
    case = Case(api, grace={"interest_periods": 1})
    case.cob(date(2025, 1, 30))
    assert case.diffs(date(2025, 1, 31)) == []  # 15 and 16 days of period 1's 30.00


def test_a_payoff_in_an_interest_grace_collects_the_deferred_interest(api: Any) -> None:
    case = Case(api, grace={"interest_periods": 1})
    case.cob(date(2025, 2, 9))
    total = case.model.payoff_quote(date(2025, 2, 10))["total"]
    assert case.pay(total, date(2025, 2, 10)).status == 201
    assert case.diffs() == []


def test_a_quote_for_a_later_date_paid_on_that_date_closes_the_loan(api: Any) -> None:
    case = Case(api)
    case.cob(date(2025, 2, 9))
    diffs, total = quote_diffs(case.world, case.loan_id, case.model, date(2025, 2, 20))
    case.cob(date(2025, 2, 19))  # the days pass: the late fee and four days of penalty
    r = case.pay(total, date(2025, 2, 20))
    assert r.status == 201
    view = case.world.servicing(case.loan_id)
    assert (diffs, view["status"], minor(view["credit"])) == ([], "closed", 0)


def test_a_payment_after_a_cob_gap_comes_after_those_days_charges(api: Any) -> None:
    case = Case(api)
    case.cob(date(2025, 2, 9))
    r = case.pay(50_000, date(2025, 2, 20))  # COB has not run Feb 10-19
    assert r.status == 201
    # The model: the late fee (50.00) and four days of penalty (4.00) are paid first, and the
    # loan is closed through Feb 19. Today the payment is allocated as if those days had not
    # passed and the loan stays closed through Feb 9 (a later COB refolds it).
    assert (r.json["allocated"]["fee"]["amount"], case.diffs()) == ("50.00", [])


def test_a_quote_for_today_works_on_the_disbursement_day(api: Any) -> None:
    case = Case(api)
    assert case.diffs(D0) == []


def test_a_charge_back_after_the_credit_was_refunded_goes_through(api: Any) -> None:
    case = Case(api, tolerance="500.00")
    case.cob(date(2025, 1, 31))
    total = case.model.payoff_quote(date(2025, 2, 1))["total"]
    first = case.pay(total + 20_000, date(2025, 2, 1))  # 200.00 over: credit
    assert first.status == 201
    refund = case.world.refund(case.loan_id, 20_000)
    assert refund.status == 201
    case.model.refund(20_000, date(2025, 2, 1))
    r = case.world.reverse(first.json["id"])
    assert r.status == 200, r.json
    case.model.reverse(1, case.world.today)
    assert case.diffs(date(2025, 2, 1)) == []


def test_a_repayment_on_a_closed_loan_is_refused(api: Any) -> None:
    case = Case(api)
    case.cob(date(2025, 1, 31))
    assert case.pay(case.model.payoff_quote(date(2025, 2, 1))["total"],
                    date(2025, 2, 1)).status == 201
    assert case.world.repay(case.loan_id, 100, date(2025, 2, 1)).status == 422


def test_a_repayment_above_the_outstanding_is_refused(api: Any) -> None:
    case = Case(api)
    case.cob(date(2025, 1, 31))
    total = case.model.payoff_quote(date(2025, 2, 1))["total"]
    assert case.world.repay(case.loan_id, total + 1, date(2025, 2, 1)).status == 422


def test_the_same_channel_reference_twice_is_a_conflict(api: Any) -> None:
    case = Case(api)
    body = {"amount": {"amount": "10.00", "currency": "CNY"},
            "paid_at": "2025-01-20T10:00:00+00:00", "channel": "alipay",
            "external_reference": "same-ref"}
    path = f"/v1/loans/{case.loan_id}/repayments"
    case.world.set_today(date(2025, 1, 20))
    assert case.world.call("POST", path, body, role="partner").status == 201
    assert case.world.call("POST", path, body, role="partner").status == 409


def test_after_a_payoff_no_installment_shows_a_fee_it_does_not_owe(api: Any) -> None:
    case = Case(api, pricing={"grades": ["A"], "rate_percent": {"A": "0"}},
                fees={"installment": "5.00"})
    case.cob(date(2025, 1, 19))
    assert case.pay(case.model.payoff_quote(date(2025, 1, 20))["total"],
                    date(2025, 1, 20)).status == 201
    assert case.diffs() == []  # the API shows 5.00 fee, 0 paid, on installments 1-3


def test_after_a_payoff_no_installment_shows_less_interest_than_was_paid_on_it(
        api: Any) -> None:
    case = Case(api)
    case.cob(date(2025, 1, 19))
    assert case.pay(2500, date(2025, 1, 20)).status == 201  # installment 1's interest, in part
    case.cob(date(2025, 1, 24))
    assert case.pay(case.model.payoff_quote(date(2025, 1, 25))["total"],
                    date(2025, 1, 25)).status == 201
    assert case.diffs() == []  # the API shows installment 1's interest 10.00, paid 25.00


def test_reversing_the_payoff_of_a_closed_loan_reopens_it_as_of_today(api: Any) -> None:
    case = Case(api)
    case.cob(date(2025, 1, 19))
    first = case.pay(case.model.payoff_quote(date(2025, 1, 20))["total"], date(2025, 1, 20))
    case.cob(date(2025, 2, 20))  # a closed loan is skipped
    assert case.world.reverse(first.json["id"]).status == 200
    case.model.reverse(1, case.world.today)
    assert case.diffs() == []  # the model: delinquent, 5 DPD, the late fee and penalties


def test_a_back_dated_repayment_does_not_undo_a_write_off(api: Any) -> None:
    case = Case(api)
    case.cob(date(2025, 2, 20))
    assert case.world.write_off(case.loan_id).status == 200
    case.model.write_off(date(2025, 2, 21))
    r = case.world.repay(case.loan_id, 10_000, date(2025, 2, 10))  # reported late
    # Today: 201, 70.00 principal and 30.00 interest allocated, the loan delinquent again with
    # 2,930.00 principal (and interest, fee, penalty) receivable: the write-off is undone.
    assert (r.status in (409, 422), case.diffs()) == (True, [])
