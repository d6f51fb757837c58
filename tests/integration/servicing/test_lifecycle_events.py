"""The business events wired into origination, contracts and disbursement reach a partner's
endpoint, and the sandbox payout reconciles against a channel statement naming it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from standardwebhooks import Webhook

from tests.integration.contracts.conftest import _fresh_caches  # noqa: F401
from tests.integration.disbursement.conftest import (  # noqa: F401
    acme,
    channel,
    clock,
    disburse,
    product,
    signed_loan,
)
from tests.integration.servicing.test_webhooks import run as run_worker


def test_decision_signature_and_payout_are_announced_and_reconciled(
        api, acme, product, aws, clock, receiver):  # noqa: F811
    r = api.call("POST", "/v1/webhooks", {"url": receiver.url(), "event_types": [
        "application.decided", "contract.signed", "loan.disbursed"]}, key=acme["admin"])
    secret = r.json["secret"]
    ch = channel(api, acme, "cheap", fixed_cost="1.00")
    loan_id = signed_loan(api, acme, aws, product["id"])
    d = disburse(api, acme["partner"], loan_id).json
    later = max(clock.now, datetime.now(UTC)) + timedelta(minutes=1)
    report = run_worker(later)  # waits out a whole-run lag before each phase
    assert report.delivered == 3, report
    events = [Webhook(secret).verify(x.body, x.headers) for x in receiver.requests]
    by_type = {e["type"]: e["data"] for e in events}
    assert set(by_type) == {"application.decided", "contract.signed", "loan.disbursed"}
    assert by_type["application.decided"]["outcome"] == "approve"
    assert by_type["contract.signed"]["loan_id"] == loan_id
    assert by_type["loan.disbursed"]["disbursement_id"] == d["id"]
    assert by_type["loan.disbursed"]["principal"] == {"amount": "10000.00", "currency": "CNY"}
    assert "applicant" not in str(events) and "name" not in by_type["application.decided"]

    day = clock.now.date().isoformat()
    csv = ("reference,type,amount,currency,value_date\n"
           f"{d['id']}.1,payout,9800.00,CNY,{day}\n"
           f"initial,collection,100000.00,CNY,{day}\n")
    run = api.call("POST", "/v1/reconciliation/runs", {"channel": ch["id"], "csv": csv},
                   key=acme["operator"])
    assert run.status == 201, run.json
    assert run.json["counts"]["matched"] == 2 and run.json["new_exceptions"] == 0, run.json
