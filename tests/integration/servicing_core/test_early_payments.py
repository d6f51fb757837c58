"""Issue #7 through the API and close of business: an installment paid a few days early is
not owed again, the loan stays current, and an extra amount reshapes per the product."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.services import servicing
from tests.integration.contracts.helpers import make_product
from tests.integration.servicing_core.loans import active_loan, balances, status
from tests.integration.servicing_core.test_cob import run_day
from tests.integration.servicing_core.test_repayments import consistent, pay

D = timedelta(days=1)
FEES = {"late": "50.00", "penalty_rate_percent": "18"}


def amount(minor: int) -> str:
    return f"{Decimal(minor) / 100:.2f}"


def view(api: Any, key: str, loan_id: str) -> dict[str, Any]:
    r = api.call("GET", f"/v1/loans/{loan_id}/servicing", key=key)
    assert r.status == 200, r.json
    return r.json


@pytest.mark.parametrize(("frequency", "disbursed", "prepayment"), [
    ({"unit": "week", "every": 1}, date(2024, 1, 26), "reduce_term"),  # due Feb 2: month end
    ({"unit": "month", "every": 1}, date(2024, 1, 31), "reduce_installment"),  # due Feb 29
])
def test_next_installment_paid_early_then_extra(api: Any, acme: dict[str, str],
                                                frequency: dict[str, Any], disbursed: date,
                                                prepayment: str) -> None:
    pid = make_product(api, acme["admin"], fees=FEES, frequency=frequency,
                       prepayment=prepayment)["id"]
    loan_id = active_loan("acme", pid, disbursed)
    first, second = servicing.load("acme", loan_id).state.installments[:2]
    due = first.principal + first.interest_total() + first.fee
    on = first.due - 3 * D
    run_day("acme", on - D)
    r = pay(api, acme["partner"], loan_id, amount(due), on.isoformat())
    assert r.status == 201 and r.json["overpayment"]["amount"] == "0.00", r.json
    consistent("acme", loan_id)
    run_day("acme", first.due + 2 * D)
    v = view(api, acme["reviewer"], loan_id)
    assert (v["status"], v["days_past_due"]) == ("active", 0)
    assert status("acme", loan_id) == "active"
    nxt = v["installments"][1]
    assert (nxt["principal"]["amount"], nxt["interest"]["amount"]) == (
        amount(second.principal), amount(second.interest_total()))
    assert balances("acme", loan_id)["fee"] == 0  # no late fee
    # The second installment and 100.00 more, 3 days early: the extra reshapes per product.
    r = pay(api, acme["partner"], loan_id, amount(due + 10_000), (second.due - 3 * D).isoformat())
    assert r.status == 201, r.json
    s = servicing.load("acme", loan_id).state
    assert s.prepaid_principal == 10_000
    if prepayment == "reduce_term":
        assert s.installments[2].principal == servicing.load(
            "acme", loan_id).base.installments[2].principal
    else:
        assert s.installments[2].principal < servicing.load(
            "acme", loan_id).base.installments[2].principal
    run_day("acme", second.due + 2 * D)
    v = view(api, acme["reviewer"], loan_id)
    assert (v["status"], v["days_past_due"]) == ("active", 0)
    consistent("acme", loan_id)
    # The payoff quote still closes the loan at exactly zero.
    q_on = (second.due + 3 * D).isoformat()
    q = api.call("GET", f"/v1/loans/{loan_id}/payoff-quote?date={q_on}",
                 key=acme["partner"]).json
    r = pay(api, acme["partner"], loan_id, q["total"]["amount"], q_on)
    assert r.status == 201 and r.json["overpayment"]["amount"] == "0.00"
    assert status("acme", loan_id) == "closed"
    assert set(balances("acme", loan_id).values()) == {0}
    consistent("acme", loan_id)
