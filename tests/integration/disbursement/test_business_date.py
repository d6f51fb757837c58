"""The disbursement date is the tenant's local date of the payout (issue 14)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from chalicelib.store.ledger import ledger
from tests.integration.contracts.helpers import make_product, tenant_keys
from tests.integration.disbursement.conftest import channel, disburse, signed_loan


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
