"""Issue 16, on real flows: a loan paid in part then paid off reaches a receiver that failed
the first event as repayment, repayment, closed, in that order; each body is checked against
its contract model (tests/webhook_contract.py)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from standardwebhooks import Webhook

from tests.integration.servicing.conftest import receiver  # noqa: F401
from tests.integration.servicing.test_webhooks import run
from tests.integration.servicing_core.loans import active_loan, status
from tests.integration.servicing_core.test_intake import payoff
from tests.integration.servicing_core.test_repayments import pay


def test_a_payoff_reaches_a_recovering_receiver_in_the_order_it_happened(
        api: Any, acme: dict[str, str], product: str, receiver: Any,  # noqa: F811
        emitted_events: Any) -> None:
    hook = api.call("POST", "/v1/webhooks", {"url": receiver.url(), "event_types": ["*"]},
                    key=acme["admin"]).json
    loan_id = active_loan("acme", product, date(2024, 1, 31))
    assert pay(api, acme["partner"], loan_id, "100.00", "2024-02-10").status == 201
    closing = pay(api, acme["partner"], loan_id, payoff(api, acme["partner"], loan_id,
                                                        "2024-02-15"), "2024-02-15")
    assert closing.status == 201 and status("acme", loan_id) == "closed"
    receiver.fail_next = 1  # the loan's first event fails once
    now = datetime.now(UTC) + timedelta(minutes=1)
    first = run(now)
    assert (first.retrying, first.waiting, first.delivered) == (1, 2, 0), first
    assert run(now + timedelta(hours=1)).delivered == 3

    got = [Webhook(hook["secret"]).verify(r.body, r.headers) for r in receiver.requests]
    order = [(e["type"], e["data"].get("repayment_id")) for e in got]
    assert order == [("repayment.received", order[0][1]), ("repayment.received", order[0][1]),
                     ("repayment.received", closing.json["id"]), ("loan.closed", None)]
    assert got[-2]["data"]["loan_status"] == "closed"
    made = {t for t, _ in emitted_events.bodies}
    assert {"repayment.received", "loan.closed"} <= made  # validated as they were built
    assert json.loads(receiver.requests[-1].body)["data"]["loan_id"] == loan_id
