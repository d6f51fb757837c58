"""Issue 9: payout callbacks delivered twice or out of order change nothing after the first
that decided the attempt (the channel's later word goes to reconciliation, not the ledger)."""

from __future__ import annotations

from typing import Any

from tests.integration.disbursement.conftest import callback, channel, disburse, signed_loan
from tests.integration.replay.conftest import books_hold, snapshot


def _attempts(api: Any, key: str, disbursement_id: str) -> list[dict[str, Any]]:
    r = api.call("GET", f"/v1/disbursements/{disbursement_id}", key=key)
    assert r.status == 200, r.json
    return r.json["attempts"]


def _unchanged(api: Any, ch: dict[str, Any], clock: Any,
               deliveries: list[tuple[str, dict[str, Any], str]]) -> None:
    before = snapshot()
    for msg_id, payload, expected in deliveries:
        r = callback(api, ch, payload, msg_id=msg_id, timestamp=int(clock.now.timestamp()))
        assert r.status == 200 and r.json["outcome"] == expected, (payload, r.json)
    after = snapshot()
    for table in before:
        assert after[table] == before[table], table


def test_payout_callbacks_twice_and_out_of_order(api, acme, product, aws, clock):
    async_ch = channel(api, acme, "async", fixed_cost="1.00",
                       sandbox={"settle": "callback"})
    sync_ch = channel(api, acme, "sync", fixed_cost="2.00")
    loans = [signed_loan(api, acme, aws, product["id"]) for _ in range(2)]
    paid, refused = (disburse(api, acme["partner"], x).json["id"] for x in loans)
    ids = [_attempts(api, acme["admin"], d)[0]["payout_id"] for d in (paid, refused)]
    settled = {"type": "payout.settled", "payout_id": ids[0], "provider_ref": "p-1"}
    failed = {"type": "payout.failed", "payout_id": ids[1], "reason": "account closed"}

    # settled, then: the same message again, a duplicate settled, failed after settled
    assert callback(api, async_ch, settled, msg_id="m-1",
                    timestamp=int(clock.now.timestamp())).json["outcome"] == "processed"
    _unchanged(api, async_ch, clock, [
        ("m-1", settled, "duplicate"), ("m-2", settled, "ignored"),
        ("m-3", {**settled, "type": "payout.failed"}, "ignored")])
    # failed (the next channel pays), then: failed again, succeeded after failed
    assert callback(api, async_ch, failed, msg_id="m-4",
                    timestamp=int(clock.now.timestamp())).json["outcome"] == "processed"
    assert [(a["channel_id"], a["status"]) for a in _attempts(api, acme["admin"], refused)] \
        == [(async_ch["id"], "failed"), (sync_ch["id"], "settled")]
    _unchanged(api, async_ch, clock, [
        ("m-4", failed, "duplicate"), ("m-5", failed, "ignored"),
        ("m-6", {**failed, "type": "payout.settled"}, "ignored")])
    for loan_id in loans:
        loan = api.call("GET", f"/v1/loans/{loan_id}", key=acme["admin"]).json
        assert loan["status"] == "active" and loan["balances"]["principal"][
            "amount"] == "10000.00"
    cash = api.call("GET", f"/v1/channels/{async_ch['id']}", key=acme["admin"]).json
    assert cash["balance"]["amount"] == cash["available"]["amount"] == "90200.00"
    books_hold(api, acme)
