"""Issue 17: nothing waits forever. An accepted loan unsigned or not paid out expires
`acceptance_expiry_days` (default 30) business days after its acceptance and is cancelled: not
on day 29, on day 30; its contract can no longer be signed; the borrower may apply again; a
disbursing loan never expires; a failed payout does not restart the count; the job is
idempotent. Time moves through the tenant's sandbox clock (PUT /v1/sandbox/clock), as the
scheduled job reads it."""

from __future__ import annotations

import json
import time as wall
from datetime import datetime, time, timedelta
from typing import Any

from chalicelib.jobs import loan_expiry
from tests.integration.contracts.helpers import (
    accepted_loan,
    application,
    contract_of,
    make_product,
)
from tests.integration.disbursement.conftest import channel, disburse, signed_loan
from tests.integration.origination.conftest import make_policy


def _status(api: Any, key: str, loan_id: str) -> str:
    r = api.call("GET", f"/v1/loans/{loan_id}", key=key)
    assert r.status == 200, r.json
    return str(r.json["status"])


def _set_clock(api: Any, key: str, at: datetime) -> None:
    r = api.call("PUT", "/v1/sandbox/clock", {"now": at.isoformat()}, key=key)
    assert r.status == 200, r.json


def test_accepted_loans_expire_on_day_30_not_29(api, acme, product, aws, emitted_events):
    unsigned = accepted_loan(api, acme, product["id"], serial="701")
    unsigned_id = unsigned["loan"]["id"]
    signed_id = signed_loan(api, acme, aws, product["id"])
    # a payout that failed: back to pending_disbursement, its acceptance date unchanged
    refusing = channel(api, acme, "refusing", sandbox={"failure_rate_percent": 100})
    failed_id = signed_loan(api, acme, aws, product["id"])
    assert disburse(api, acme["partner"], failed_id).status == 202
    assert _status(api, acme["admin"], failed_id) == "pending_disbursement"
    api.call("PATCH", f"/v1/channels/{refusing['id']}", {"enabled": False}, key=acme["admin"])
    # a payout in flight at a channel that answers later: never expires
    channel(api, acme, "async", sandbox={"settle": "callback"})
    disbursing_id = signed_loan(api, acme, aws, product["id"])
    assert disburse(api, acme["partner"], disbursing_id).status == 202
    assert _status(api, acme["admin"], disbursing_id) == "disbursing"
    # a product whose policy declines a borrower who has a loan that is not closed
    policy = make_policy(api, acme["admin"], rules=[{
        "id": "one_loan", "expression": "duplicates.active_loans == 0",
        "reason_code": "DUPLICATE", "reason_text": "You already have a loan with us."}])
    guarded = make_product(api, acme["admin"],
                           references={"decision_policy_id": policy["id"]})
    before = api.call("POST", "/v1/applications", application(guarded["id"], serial="701"),
                      key=acme["partner"])
    assert before.status == 201 and before.json["status"] == "declined", before.json

    accepted = datetime.fromisoformat(unsigned["loan"]["created_at"])
    day = accepted.date()
    _set_clock(api, acme["admin"], datetime.combine(day + timedelta(days=29), time(23, 59),
                                                    accepted.tzinfo))
    assert loan_expiry.run_all() == {}
    for loan_id in (unsigned_id, signed_id, failed_id):
        assert _status(api, acme["admin"], loan_id).startswith("pending_")

    _set_clock(api, acme["admin"], datetime.combine(day + timedelta(days=30), time(0, 1),
                                                    accepted.tzinfo))
    assert _expire(3) == 3
    assert loan_expiry.run_all() == {}  # idempotent: nothing left to expire
    for loan_id in (unsigned_id, signed_id, failed_id):
        assert _status(api, acme["admin"], loan_id) == "cancelled"
    assert _status(api, acme["admin"], disbursing_id) == "disbursing"

    # the unsigned contract is void: no code, no signature
    contract_id = contract_of(aws, "acme", unsigned_id)
    contract = api.call("GET", f"/v1/contracts/{contract_id}", key=acme["admin"])
    assert contract.json["status"] == "voided", contract.json
    code = api.call("POST", f"/v1/contracts/{contract_id}/signing-code", key=acme["partner"])
    assert code.status == 409 and code.json["contract_status"] == "voided", code.json

    trail = api.call("GET", f"/v1/audit/loan/{unsigned_id}", key=acme["admin"]).json["data"]
    last = trail[-1]
    assert last["action"] == "loan.cancelled" and last["actor_role"] == "system", last
    assert last["data"]["expired_on"] == (day + timedelta(days=30)).isoformat()
    cancelled = [json.loads(body)["data"] for t, body in emitted_events.bodies
                 if t == "loan.cancelled"]
    assert sorted(e["loan_id"] for e in cancelled) == sorted([unsigned_id, signed_id,
                                                              failed_id])
    assert {e["cancel_reason"] for e in cancelled} == {"expired"}

    # the borrower is no longer held by the expired loan
    after = api.call("POST", "/v1/applications", application(guarded["id"], serial="701"),
                     key=acme["partner"])
    assert after.status == 201 and after.json["status"] == "approved", after.json
    assert after.json["decision"]["facts"]["duplicates"]["active_loans"] == 0


def _expire(expected: int, within: float = 5.0) -> int:
    """Runs the hourly job until it has expired `expected` of acme's loans or `within` seconds
    pass; the number expired. It finds loans through an index, which on DynamoDB trails the
    writes by a moment (the lagged runs): its next run expires what one run did not see yet."""
    total, deadline = 0, wall.monotonic() + within
    while True:
        total += loan_expiry.run_all().get("acme", {}).get("expired", 0)
        if total >= expected or wall.monotonic() > deadline:
            return total
        wall.sleep(0.05)


def test_signing_after_expiry_is_refused(api, acme, product, aws):
    loan = accepted_loan(api, acme, product["id"], serial="702")
    contract_id = contract_of(aws, "acme", loan["loan"]["id"])
    accepted = datetime.fromisoformat(loan["loan"]["created_at"])
    code = api.call("POST", f"/v1/contracts/{contract_id}/signing-code", key=acme["partner"])
    assert code.status == 201  # a code issued before expiry ...
    _set_clock(api, acme["admin"], accepted + timedelta(days=30))
    assert _expire(1) == 1
    applicant = loan["applicant"]
    late = api.call("POST", f"/v1/contracts/{contract_id}/sign", {
        "code": code.json["code"], "signer": {"name": applicant["name"],
                                              "national_id": applicant["national_id"]["number"]}},
        key=acme["partner"])
    assert late.status == 409 and late.json["contract_status"] == "voided", late.json
    again = api.call("POST", f"/v1/contracts/{contract_id}/signing-code", key=acme["partner"])
    assert again.status == 409, again.json  # nor is a new code issued
    assert _status(api, acme["admin"], loan["loan"]["id"]) == "cancelled"
