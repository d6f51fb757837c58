"""The disbursement date is the tenant's local date of the payout (issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.store.ledger import ledger
from tests.integration.contracts.helpers import make_product, tenant_keys
from tests.integration.disbursement.conftest import callback, channel, disburse, signed_loan
from tests.lag import eventually


def test_a_payout_at_20h_utc_is_disbursed_on_the_next_day_in_shanghai(api: Any, aws: Any,
                                                                      clock: Any) -> None:
    keys = tenant_keys(api, "acme", "Asia/Shanghai")
    product = make_product(api, keys["admin"])
    channel(api, keys, "bank")
    loan_id = signed_loan(api, keys, aws, product["id"])
    utc_day = datetime.now(UTC).date()
    clock.now = datetime.combine(utc_day, time(20, 0), UTC)  # 04:00 the next day in Shanghai
    r = disburse(api, keys["partner"], loan_id)
    assert r.status == 202, r.json
    local_day = (utc_day + timedelta(days=1)).isoformat()
    loan = api.call("GET", f"/v1/loans/{loan_id}", key=keys["reviewer"]).json
    assert loan["status"] == "active", loan
    assert loan["schedule"]["disbursement_date"] == local_day
    d = api.call("GET", f"/v1/disbursements/{r.json['id']}", key=keys["reviewer"]).json
    journal = ledger().get_journal("acme", d["attempts"][0]["journal_id"]).journal
    assert journal.effective_date.isoformat() == local_day


def test_payouts_live_on_the_tenants_sandbox_clock(api: Any, aws: Any, clock: Any) -> None:
    """A sandbox clock set ahead moves the payout with the rest of the tenant: the reservation's
    day and expiry, the escalation of a silent payout, and the disbursement date the schedule
    runs from. On the real clock the payout would be dated weeks before the loan's own today."""
    from chalicelib.services import disbursements

    keys = tenant_keys(api, "acme", "Asia/Shanghai")
    product = make_product(api, keys["admin"])
    bank = channel(api, keys, "bank", sandbox={"settle": "callback"})
    loan_id = signed_loan(api, keys, aws, product["id"])
    ahead = datetime.now(UTC) + timedelta(days=40)

    def set_clock(at: datetime) -> None:
        r = api.call("PUT", "/v1/sandbox/clock", {"now": at.isoformat()}, key=keys["admin"])
        assert r.status == 200, r.json

    set_clock(ahead)
    r = disburse(api, keys["partner"], loan_id)
    assert r.status == 202, r.json
    attempt = api.call("GET", f"/v1/disbursements/{r.json['id']}",
                       key=keys["reviewer"]).json["attempts"][0]
    started = datetime.fromisoformat(attempt["started_at"])
    assert attempt["status"] == "submitted" and abs(started - ahead) < timedelta(minutes=1)
    assert datetime.fromisoformat(attempt["expires_at"]) - started == disbursements.PENDING_TTL
    local = ZoneInfo("Asia/Shanghai")
    journal = ledger().get_journal("acme", attempt["journal_id"]).journal
    assert journal.effective_date == ahead.astimezone(local).date()

    waiting = {"waiting": 1}  # the channel has days yet (the in-flight index trails writes)
    assert eventually(lambda: disbursements.resume("acme"), waiting) == waiting
    set_clock(ahead + timedelta(days=6, hours=12))  # past escalation, before the expiry
    assert eventually(lambda: disbursements.resume("acme"), {"escalated": 1}) == {
        "escalated": 1}
    paid_on = ahead + timedelta(days=6, hours=13)
    set_clock(paid_on)
    late = callback(api, bank, {"type": "payout.settled", "payout_id": attempt["payout_id"],
                                "provider_ref": "BANK-LATE-1"})
    assert late.status == 200 and late.json["outcome"] == "processed", late.json
    loan = api.call("GET", f"/v1/loans/{loan_id}", key=keys["reviewer"]).json
    assert loan["status"] == "active", loan
    assert loan["schedule"]["disbursement_date"] == paid_on.astimezone(local).date().isoformat()
