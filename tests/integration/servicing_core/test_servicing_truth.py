"""Issue 14's engine rules through the API on moto: a payoff in or after an interest grace
collects the deferred interest earned; a quote for a date, paid on that date, closes the loan at
zero whatever close of business has run; a charge-back after a refund goes through and leaves
the refunded money owed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from chalicelib.services import servicing
from chalicelib.store.ledger import ledger
from ledger.chart import BORROWER_CREDIT, WRITE_OFF_EXPENSE
from tests.integration.contracts.helpers import make_product
from tests.integration.servicing_core.loans import active_loan, balances, money, status
from tests.integration.servicing_core.test_cob import run_day
from tests.integration.servicing_core.test_repayments import consistent, pay

FEES = {"late": "50.00", "penalty_rate_percent": "18"}


def quote(api: Any, key: str, loan_id: str, on: str | None = None) -> dict[str, Any]:
    r = api.call("GET", f"/v1/loans/{loan_id}/payoff-quote" + (f"?date={on}" if on else ""),
                 key=key)
    assert r.status == 200, r.json
    return r.json


def closed_at_zero(tenant: str, loan_id: str) -> None:
    assert status(tenant, loan_id) == "closed"
    assert set(balances(tenant, loan_id).values()) == {0}
    assert servicing.load(tenant, loan_id).state.credit == 0
    consistent(tenant, loan_id)


def grace_product(api: Any, key: str, principal: int, interest: int) -> str:
    grace = {"principal_periods": principal, "interest_periods": interest}
    return make_product(api, key, fees=FEES, grace=grace)["id"]


# --- 1. interest earned in a grace --------------------------------------------------------

def test_payoff_during_an_interest_grace_collects_the_interest_earned(
        api: Any, acme: dict[str, str]) -> None:
    for principal_grace in (0, 2):
        pid = grace_product(api, acme["admin"], principal_grace, 2)
        loan_id = active_loan("acme", pid, date(2024, 1, 31))
        run_day("acme", date(2024, 2, 14))
        q = quote(api, acme["partner"], loan_id, "2024-02-15")
        # 15 of period 1's 29 days (30/360) of 12,000.00 x 12% / 12 = 120.00
        assert q["components"]["interest"]["amount"] == "62.07", q
        r = pay(api, acme["partner"], loan_id, q["total"]["amount"], "2024-02-15")
        assert r.status == 201 and r.json["overpayment"]["amount"] == "0.00", r.json
        closed_at_zero("acme", loan_id)
        run_day("acme", date(2024, 3, 10))
        closed_at_zero("acme", loan_id)


def test_payoff_after_an_interest_grace_collects_all_the_deferred_interest(
        api: Any, acme: dict[str, str]) -> None:
    pid = grace_product(api, acme["admin"], 0, 2)
    loan_id = active_loan("acme", pid, date(2024, 1, 31))
    rows = servicing.load("acme", loan_id).state.installments
    pay(api, acme["partner"], loan_id, str(Decimal(rows[0].principal) / 100), "2024-02-29")
    pay(api, acme["partner"], loan_id, str(Decimal(rows[1].principal) / 100), "2024-03-31")
    run_day("acme", date(2024, 4, 14))
    q = quote(api, acme["partner"], loan_id, "2024-04-15")
    # periods 1 and 2 in full (120.00 + 100.49), half of period 3 (80.79 / 2)
    assert q["components"]["interest"]["amount"] == "260.89", q
    assert pay(api, acme["partner"], loan_id, q["total"]["amount"], "2024-04-15").status == 201
    closed_at_zero("acme", loan_id)


def test_a_prepayment_in_an_interest_grace_then_a_payoff_closes_at_zero(
        api: Any, acme: dict[str, str]) -> None:
    pid = grace_product(api, acme["admin"], 0, 2)
    loan_id = active_loan("acme", pid, date(2024, 1, 31))
    run_day("acme", date(2024, 2, 9))
    r = pay(api, acme["partner"], loan_id, "6000.00", "2024-02-10")
    assert r.status == 201 and r.json["allocated"]["principal"]["amount"] == "6000.00"
    consistent("acme", loan_id)
    assert servicing.load("acme", loan_id).state.totals(
        servicing.load("acme", loan_id).policy.day_count).charged["interest"] > 0
    run_day("acme", date(2024, 3, 14))
    q = quote(api, acme["partner"], loan_id, "2024-03-15")
    assert Decimal(q["components"]["interest"]["amount"]) > Decimal("120.00")
    assert pay(api, acme["partner"], loan_id, q["total"]["amount"], "2024-03-15").status == 201
    closed_at_zero("acme", loan_id)


# --- 2. a quote for a date, paid on that date ---------------------------------------------

def test_a_quote_for_a_later_date_paid_that_day_closes_whatever_cob_has_run(
        api: Any, acme: dict[str, str], product: str) -> None:
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    run_day("acme", date(2024, 2, 10))  # the stored state stops here
    q = quote(api, acme["partner"], loan_id, "2024-03-20")  # Feb 29 missed: late fee, penalty
    assert q["components"]["fee"]["amount"] == "50.00"
    assert Decimal(q["components"]["penalty"]["amount"]) > 0
    r = pay(api, acme["partner"], loan_id, q["total"]["amount"], "2024-03-20")
    assert r.status == 201 and r.json["overpayment"]["amount"] == "0.00", r.json
    assert r.json["allocated"]["fee"]["amount"] == "50.00"
    closed_at_zero("acme", loan_id)
    assert servicing.load("acme", loan_id).state.through == date(2024, 3, 19)
    caught_up = run_day("acme", date(2024, 3, 19))  # skipped by the marker: already closed
    assert caught_up["stepped"] == 0
    run_day("acme", date(2024, 3, 25))
    closed_at_zero("acme", loan_id)


def test_a_quote_for_today_works_on_the_disbursement_day(api: Any, acme: dict[str, str],
                                                          product: str) -> None:
    today = datetime.now(UTC).date()
    loan_id = active_loan("acme", product, today)
    q = quote(api, acme["partner"], loan_id)
    assert q["date"] == today.isoformat() and q["total"]["amount"] == "12000.00", q
    r = pay(api, acme["partner"], loan_id, q["total"]["amount"], today.isoformat())
    assert r.status == 201, r.json
    closed_at_zero("acme", loan_id)


def test_a_quote_outside_the_loans_dates_is_a_422_on_the_date(api: Any, acme: dict[str, str],
                                                             product: str) -> None:
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    for on in ("2024-01-30", (datetime.now(UTC).date() + timedelta(days=367)).isoformat()):
        r = api.call("GET", f"/v1/loans/{loan_id}/payoff-quote?date={on}", key=acme["partner"])
        assert r.status == 422 and r.json["errors"][0]["pointer"] == "/query/date", r.json


# --- 3. charge-backs after refunds --------------------------------------------------------

def tolerant_product(api: Any, key: str) -> str:
    """Overpayments need room above the default zero tolerance (intake)."""
    return make_product(api, key, fees=FEES, overpayment_tolerance="200.00")["id"]


def test_a_charge_back_after_its_credit_was_refunded_leaves_it_owed(
        api: Any, acme: dict[str, str]) -> None:
    loan_id = active_loan("acme", tolerant_product(api, acme["admin"]), date(2024, 1, 31))
    q = quote(api, acme["partner"], loan_id, "2024-02-10")
    total = str(Decimal(q["total"]["amount"]) + Decimal("50.00"))
    paid = pay(api, acme["partner"], loan_id, total, "2024-02-10")
    assert paid.json["overpayment"]["amount"] == "50.00"
    refund = api.call("POST", f"/v1/loans/{loan_id}/refunds",
                      {"amount": money("50.00"), "channel": "alipay",
                       "external_reference": "rf-1"}, key=acme["operator"])
    assert refund.status == 201, refund.json
    r = api.call("POST", f"/v1/repayments/{paid.json['id']}/reverse", {"reason": "chargeback"},
                 key=acme["operator"])
    assert r.status == 200, r.json
    # the refund is dated today: its transaction closed the loan's days up to yesterday, and
    # without the payment the refold leaves the loan unpaid since 2024 (defaulted)
    view = api.call("GET", f"/v1/loans/{loan_id}/servicing", key=acme["partner"]).json
    assert view["status"] == status("acme", loan_id) == "defaulted", view
    assert view["credit"]["amount"] == "-50.00", view
    consistent("acme", loan_id)
    today = quote(api, acme["partner"], loan_id)
    parts = sum(Decimal(v["amount"]) for v in today["components"].values())
    assert today["credit"]["amount"] == "-50.00"
    assert Decimal(today["total"]["amount"]) == parts + 50
    assert pay(api, acme["partner"], loan_id, today["total"]["amount"],
               today["date"]).status == 201
    closed_at_zero("acme", loan_id)


def test_a_closed_loan_takes_what_a_charge_back_left_owing_and_no_more(
        api: Any, acme: dict[str, str]) -> None:
    """A charge-back of an earlier payment, after the payoff's credit was refunded, leaves the
    loan closed (the payoff still covers it) with a negative credit: that debt is payable, and
    only that (intake's closed-loan and tolerance rules count a settled debt as owed)."""
    loan_id = active_loan("acme", tolerant_product(api, acme["admin"]), date(2024, 1, 31))
    early = pay(api, acme["partner"], loan_id, "100.00", "2024-02-10")
    q = quote(api, acme["partner"], loan_id, "2024-02-20")
    pay(api, acme["partner"], loan_id, str(Decimal(q["total"]["amount"]) + 150), "2024-02-20")
    assert api.call("POST", f"/v1/loans/{loan_id}/refunds",
                    {"amount": money("150.00"), "channel": "alipay",
                     "external_reference": "rf-3"}, key=acme["operator"]).status == 201
    assert api.call("POST", f"/v1/repayments/{early.json['id']}/reverse", {"reason": "cb"},
                    key=acme["operator"]).status == 200
    state = servicing.load("acme", loan_id).state
    assert state.status == "closed" and -15000 < state.credit < 0, state.credit
    owed = quote(api, acme["partner"], loan_id)
    assert Decimal(owed["total"]["amount"]) * 100 == -state.credit
    over = pay(api, acme["partner"], loan_id,
               str(Decimal(owed["total"]["amount"]) + Decimal("200.01")), owed["date"])
    assert over.status == 422, over.json
    assert over.json["errors"][0]["code"] == "overpayment_exceeds_tolerance"
    r = pay(api, acme["partner"], loan_id, owed["total"]["amount"], owed["date"])
    assert r.status == 201 and r.json["overpayment"]["amount"] == "0.00", r.json
    closed_at_zero("acme", loan_id)
    again = pay(api, acme["partner"], loan_id, "1.00", owed["date"])
    assert again.status == 422 and again.json["errors"][0]["code"] == "loan_closed"


def test_a_reversal_reopens_a_loan_a_later_payoff_closed(api: Any, acme: dict[str, str],
                                                         product: str) -> None:
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    first = pay(api, acme["partner"], loan_id, "2100.00", "2024-02-29")
    run_day("acme", date(2024, 3, 19))
    q = quote(api, acme["partner"], loan_id, "2024-03-20")
    pay(api, acme["partner"], loan_id, q["total"]["amount"], "2024-03-20")
    closed_at_zero("acme", loan_id)
    assert api.call("PUT", "/v1/sandbox/clock", {"now": "2024-03-23T10:00:00+00:00"},
                    key=acme["admin"]).status == 200
    r = api.call("POST", f"/v1/repayments/{first.json['id']}/reverse", {"reason": "chargeback"},
                 key=acme["operator"])
    assert r.status == 200, r.json
    # as the refold says: February's installment was missed (delinquent from March 1), the
    # payoff of March 20 now pays it and the running installment and prepays, and the loan is
    # open again, folded through yesterday (close of business had skipped it while closed)
    view = api.call("GET", f"/v1/loans/{loan_id}/servicing", key=acme["partner"]).json
    assert view["closed_through"] == "2024-03-22", view
    assert view["status"] == status("acme", loan_id) == "active", view
    assert view["days_past_due"] == 0
    assert Decimal(view["outstanding"]["principal"]["amount"]) > 0
    consistent("acme", loan_id)
    run_day("acme", date(2024, 4, 5))
    assert status("acme", loan_id) == "active"
    consistent("acme", loan_id)


def test_a_write_off_after_a_charge_back_of_a_refunded_credit_clears_it(
        api: Any, acme: dict[str, str]) -> None:
    loan_id = active_loan("acme", tolerant_product(api, acme["admin"]), date(2024, 1, 31))
    q = quote(api, acme["partner"], loan_id, "2024-02-10")
    paid = pay(api, acme["partner"], loan_id, str(Decimal(q["total"]["amount"]) + 30),
               "2024-02-10")
    assert api.call("POST", f"/v1/loans/{loan_id}/refunds",
                    {"amount": money("30.00"), "channel": "alipay",
                     "external_reference": "rf-2"}, key=acme["operator"]).status == 201
    credit_before = ledger().balance("acme", BORROWER_CREDIT).posted
    assert api.call("POST", f"/v1/repayments/{paid.json['id']}/reverse", {"reason": "cb"},
                    key=acme["operator"]).status == 200
    assert ledger().balance("acme", BORROWER_CREDIT).posted == credit_before - 3000
    r = api.call("POST", f"/v1/loans/{loan_id}/write-off", {"reason": "fraud"},
                 key=acme["operator"])
    assert r.status == 200, r.json
    view = api.call("GET", f"/v1/loans/{loan_id}/servicing", key=acme["partner"]).json
    assert view["status"] == "written_off" and view["credit"]["amount"] == "0.00", view
    assert ledger().balance("acme", BORROWER_CREDIT).posted == credit_before
    assert set(balances("acme", loan_id).values()) == {0}
    consistent("acme", loan_id)


def test_a_charge_back_after_a_write_off_goes_through(api: Any, acme: dict[str, str],
                                                      product: str) -> None:
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    never = active_loan("acme", product, date(2024, 1, 31))  # the twin that never paid
    paid = pay(api, acme["partner"], loan_id, "2100.00", "2024-02-29")
    run_day("acme", date(2024, 6, 1))
    for loan in (loan_id, never):
        wo = api.call("POST", f"/v1/loans/{loan}/write-off", {"reason": "uncollectable"},
                      key=acme["operator"])
        assert wo.status == 200, wo.json
    expense = ledger().balance("acme", WRITE_OFF_EXPENSE).posted
    written = sum(servicing.load("acme", loan_id).state.written_off.values())
    r = api.call("POST", f"/v1/repayments/{paid.json['id']}/reverse", {"reason": "chargeback"},
                 key=acme["operator"])
    assert r.status == 200, r.json
    assert status("acme", loan_id) == "written_off"
    after, twin = (servicing.load("acme", x).state for x in (loan_id, never))
    assert after.written_off == twin.written_off and after.stopped_on == twin.stopped_on
    more = sum(after.written_off.values()) - written  # the charged-back 2,100.00 and more
    assert more > 210000  # (its missed installment's late fee and penalties, as the twin's)
    assert ledger().balance("acme", WRITE_OFF_EXPENSE).posted == expense + more
    assert set(balances("acme", loan_id).values()) == {0}
    consistent("acme", loan_id)
    assert run_day("acme", date(2024, 6, 2), now=datetime(2024, 6, 3, tzinfo=UTC))["stepped"] == 0
