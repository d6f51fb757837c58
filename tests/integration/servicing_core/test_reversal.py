"""Reversal: the loan ends exactly as if the payment had never been received."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from chalicelib.lending.state_codec import state_json
from chalicelib.services import servicing
from chalicelib.store.ledger import ledger
from tests.integration.servicing_core.loans import active_loan, balances, status
from tests.integration.servicing_core.test_cob import run_day
from tests.integration.servicing_core.test_repayments import consistent, pay


def comparable(tenant: str, loan_id: str) -> tuple[str, dict[str, int], str]:
    s = state_json(servicing.load(tenant, loan_id).state)
    return json.dumps(s, sort_keys=True), balances(tenant, loan_id), status(tenant, loan_id)


def test_reversal_rederives_later_payments_like_a_loan_that_never_got_it(
        api: Any, acme: dict[str, str], product: str) -> None:
    with_it = active_loan("acme", product, date(2024, 1, 31))
    never = active_loan("acme", product, date(2024, 1, 31))
    key = acme["partner"]
    run_day("acme", date(2024, 2, 28))
    pay(api, key, with_it, "500.00", "2024-02-29")
    pay(api, key, never, "500.00", "2024-02-29")
    bounced = pay(api, key, with_it, "2500.00", "2024-03-01")  # will bounce
    run_day("acme", date(2024, 3, 20))
    pay(api, key, with_it, "1800.00", "2024-03-21")
    pay(api, key, never, "1800.00", "2024-03-21")
    run_day("acme", date(2024, 4, 10))
    assert comparable("acme", with_it)[1] != comparable("acme", never)[1]
    r = api.call("POST", f"/v1/repayments/{bounced.json['id']}/reverse",
                 {"reason": "chargeback"}, key=acme["operator"])
    assert r.status == 200 and r.json["status"] == "reversed", r.json
    assert comparable("acme", with_it) == comparable("acme", never)
    consistent("acme", with_it)
    again = api.call("POST", f"/v1/repayments/{bounced.json['id']}/reverse",
                     {"reason": "chargeback"}, key=acme["operator"])
    assert again.status == 409
    run_day("acme", date(2024, 4, 11))  # and they keep moving together
    assert comparable("acme", with_it) == comparable("acme", never)
    journal = ledger().get_journal("acme", f"rpy:{bounced.json['id']}:rev")
    assert journal is not None


def test_backdated_payment_refolds_penalties(api: Any, acme: dict[str, str],
                                             product: str) -> None:
    late = active_loan("acme", product, date(2024, 1, 31))
    on_time = active_loan("acme", product, date(2024, 1, 31))
    pay(api, acme["partner"], on_time, "2100.00", "2024-02-29")
    run_day("acme", date(2024, 3, 10))
    assert servicing.load("acme", late).state.dpd == 10
    r = pay(api, acme["partner"], late, "2100.00", "2024-02-29")  # reported late, paid on time
    assert r.status == 201
    assert comparable("acme", late) == comparable("acme", on_time)
    consistent("acme", late)
