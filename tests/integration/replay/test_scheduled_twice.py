"""Issue 9: every scheduled function delivered twice (EventBridge is at-least-once) changes
nothing the second time - ledger, loans, audit chains, outbox and reconciliation results."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from chalicelib.jobs import cob, disbursement_resume, ledger_sweep, nightly_checks
from chalicelib.jobs import webhook_delivery as webhooks_job
from chalicelib.services import disbursements
from chalicelib.store.ledger import ledger
from ledger.chart import FUNDING, SUSPENSE
from ledger.model import JournalRequest, Posting, Side
from tests.integration.disbursement.conftest import channel, disburse, signed_loan
from tests.integration.replay.conftest import books_hold, snapshot
from tests.integration.servicing_core.loans import active_loan


def _twice(job: Any) -> tuple[Any, Any]:
    """Delivers the event twice, the second a minute later (`job(minutes)`); the state after
    the second equals that after the first."""
    first = job(0)
    before = snapshot()
    second = job(1)
    after = snapshot()
    for table in before:
        assert after[table] == before[table], table
    return first, second


def test_every_scheduled_function_delivered_twice_changes_nothing(api, acme, product, aws,
                                                                  clock, receiver,
                                                                  monkeypatch):
    now = datetime.now(UTC)
    # a disbursement cut off after reserving (the resume job's work)
    ch = channel(api, acme, "only")
    real_submit = disbursements._submit
    monkeypatch.setattr(disbursements, "_submit", lambda *_a: False)
    stuck_loan = signed_loan(api, acme, aws, product["id"])
    stuck = disburse(api, acme["partner"], stuck_loan).json["id"]
    monkeypatch.setattr(disbursements, "_submit", real_submit)
    # a serviced loan with a repayment announced to a webhook (delivery, COB)
    r = api.call("POST", "/v1/webhooks", {"url": receiver.url(),
                                          "event_types": ["repayment.received"]},
                 key=acme["admin"])
    assert r.status == 201, r.json
    serviced = active_loan("acme", product["id"], date(2024, 1, 31))
    r = api.call("POST", f"/v1/loans/{serviced}/repayments", {
        "amount": {"amount": "150.00", "currency": "CNY"}, "paid_at": "2024-02-05T10:00:00Z",
        "channel": ch["id"], "external_reference": "COL-1"}, key=acme["partner"])
    assert r.status == 201, r.json
    # a pending journal about to expire (the sweep), a statement with a discrepancy (nightly)
    ledger().post("acme", JournalRequest(
        "hold-1", (Posting(SUSPENSE, Side.DEBIT, 500, "CNY"),
                   Posting(FUNDING, Side.CREDIT, 500, "CNY")), now.date(), "hold", {},
        pending=True, expires_at=now + timedelta(seconds=1)))
    aws["s3"].put_object(
        Bucket="test-documents", Key=f"acme/statements/{ch['id']}/{now.date()}.csv",
        Body=b"reference,type,amount,currency,value_date\nPAY-X,payout,9.00,CNY,"
             + now.date().isoformat().encode() + b"\n")

    def later(base: datetime, minutes: int) -> datetime:
        return base + timedelta(minutes=minutes)

    swept, again = _twice(lambda m: ledger_sweep.sweep_all(later(now, 60 + m)))
    assert (swept, again) == ({"acme": 1}, {})
    sent, again = _twice(lambda m: webhooks_job.run_once(later(datetime.now(UTC), m)))
    assert sent["delivered"] == 1 and again["attempted"] == again["delivered"] == 0
    assert len(receiver.requests) == 1
    nightly = datetime.combine(now.date() + timedelta(days=1), time(1, 30), UTC)
    checked, again = _twice(lambda m: nightly_checks.run_all(later(nightly, m)))
    assert checked == again == {"acme": False}  # PAY-X is missing in the ledger
    cob_first, cob_again = _twice(lambda m: cob.run_all(date(2024, 2, 10), later(now, m)))
    assert cob_first["acme"]["stepped"] == 1 and cob_again["acme"]["stepped"] == 0
    clock.advance(disbursements.RESERVED_GRACE.total_seconds() + 1)
    resumed, again = _twice(lambda m: disbursement_resume.run_all(later(clock.now, m)))
    assert (resumed, again) == ({"acme": {"submitted": 1}}, {})
    d = api.call("GET", f"/v1/disbursements/{stuck}", key=acme["admin"]).json
    assert d["status"] == "settled" and len(d["attempts"]) == 1
    books_hold(api, acme)
