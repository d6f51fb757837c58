"""The disbursement resume job: payouts a crash cut off, or a channel left unanswered, end
settled once or escalated - money conserved, never paid twice, the books verifiable."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from chalicelib.channels.sandbox import SandboxChannel
from chalicelib.jobs import disbursement_resume, ledger_sweep
from chalicelib.services import disbursements
from tests.integration.disbursement.conftest import (
    callback,
    channel,
    disburse,
    signed_loan,
    verify_ledger,
)
from tests.lag import eventually


def _resumed(expected: dict[str, Any], now: datetime | None = None) -> None:
    """The resume job did `expected`: run again while its worklist (the in-flight index, which
    trails the writes by a moment) has not caught up, as its next scheduled run would."""
    assert eventually(lambda: disbursement_resume.run_all(now), expected) == expected


def _get(api: Any, key: str, path: str) -> dict[str, Any]:
    r = api.call("GET", path, key=key)
    assert r.status == 200, r.json
    return r.json


def _books_hold(api: Any, keys: dict[str, str]) -> None:
    verify_ledger(api, keys["admin"])
    trail = api.call("POST", "/v1/audit/verify", key=keys["admin"]).json
    assert trail["ok"], trail["breaks"]


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every payout id the sandbox channel was asked to pay, in order."""
    calls: list[str] = []
    submit = SandboxChannel.submit

    def recording(self: SandboxChannel, payout: Any) -> Any:
        calls.append(payout.payout_id)
        return submit(self, payout)

    monkeypatch.setattr(SandboxChannel, "submit", recording)
    return calls


def test_payouts_cut_off_before_and_after_submitting_are_paid_once(api, acme, product, aws,
                                                                   clock, sent, monkeypatch):
    ch = channel(api, acme, "only")
    loans = [signed_loan(api, acme, aws, product["id"]) for _ in range(2)]
    real_submit = disbursements._submit

    def dies_before(*_args: Any) -> bool:
        return False  # the process vanished between reserving and submitting

    def dies_after(tenant, actor, item, channel_item, attempt) -> bool:
        SandboxChannel(channel_item.channel_id, {}).submit(disbursements.Payout(
            attempt["payout_id"], tenant, channel_item.channel_id, item.loan_id, item.payout,
            item.currency))
        return False  # the channel paid; the process vanished before recording it

    ids = []
    for loan_id, death in zip(loans, (dies_before, dies_after), strict=True):
        monkeypatch.setattr(disbursements, "_submit", death)
        ids.append(disburse(api, acme["partner"], loan_id).json["id"])
    monkeypatch.setattr(disbursements, "_submit", real_submit)
    for d in ids:
        stuck = _get(api, acme["admin"], f"/v1/disbursements/{d}")
        assert [a["status"] for a in stuck["attempts"]] == ["reserved"]
    assert _get(api, acme["admin"], f"/v1/channels/{ch['id']}")["available"][
        "amount"] == "80400.00"  # both payouts reserved, nothing posted
    _resumed({"acme": {"waiting": 2}})  # within the grace period
    clock.advance(disbursements.RESERVED_GRACE.total_seconds() + 1)
    _resumed({"acme": {"submitted": 2}})
    _resumed({})  # delivered twice: nothing left in flight
    for loan_id, d in zip(loans, ids, strict=True):
        done = _get(api, acme["admin"], f"/v1/disbursements/{d}")
        assert done["status"] == "settled" and len(done["attempts"]) == 1, done
        assert _get(api, acme["admin"], f"/v1/loans/{loan_id}")["status"] == "active"
        principal = _get(api, acme["admin"], f"/v1/ledger/accounts/loan:{loan_id}:principal")
        assert principal["balance"]["posted"] == "10000.00"
    # one payout id per loan reached the channel (resent under the same id: channel-idempotent)
    payout_ids = {_get(api, acme["admin"], f"/v1/disbursements/{d}")["attempts"][0][
        "payout_id"] for d in ids}
    assert set(sent) == payout_ids and len(sent) == 3
    cash = _get(api, acme["admin"], f"/v1/channels/{ch['id']}")
    assert cash["balance"]["amount"] == cash["available"]["amount"] == "80400.00"
    _books_hold(api, acme)


def _events(aws: Any, event_type: str) -> list[dict[str, Any]]:
    """The outbox events of a type, as the webhook body every endpoint would receive."""
    items = aws["dynamodb"].scan(
        ConsistentRead=True, TableName="test-main", FilterExpression="#t = :t AND sk = :e",
                                 ExpressionAttributeNames={"#t": "type"},
                                 ExpressionAttributeValues={":t": {"S": event_type},
                                                            ":e": {"S": "event"}})["Items"]
    return [json.loads(i["body"]["S"]) for i in items]


def test_unknown_payouts_are_asked_about_then_escalated_past_the_deadline(api, acme, product,
                                                                          aws, clock):
    """Issue 14: escalation no longer voids the reservation (the money may have moved); the
    late settlement posts it and activates the loan (before: voided, failed, and the late
    callback was `ignored`)."""
    silent = {"timeout_rate_percent": 100, "timeout_outcome": "unknown"}
    first = channel(api, acme, "first", sandbox=silent)
    loans = [signed_loan(api, acme, aws, product["id"]) for _ in range(2)]
    d1 = disburse(api, acme["partner"], loans[0]).json["id"]
    api.call("PATCH", f"/v1/channels/{first['id']}", {"enabled": False}, key=acme["admin"])
    second = channel(api, acme, "second", sandbox=silent)
    d2 = disburse(api, acme["partner"], loans[1]).json["id"]
    for d in (d1, d2):
        attempts = _get(api, acme["admin"], f"/v1/disbursements/{d}")["attempts"]
        assert [a["status"] for a in attempts] == ["unknown"], attempts
    clock.advance(disbursements.STATUS_GRACE.total_seconds() + 1)
    _resumed({"acme": {"waiting": 2}})  # the bank cannot say yet
    # the first bank finds it executed the payout; the second never finds out
    r = api.call("PATCH", f"/v1/channels/{first['id']}", {"sandbox": {
        **silent, "timeout_outcome": "executed"}}, key=acme["admin"])
    assert r.status == 200, r.json
    clock.advance(disbursements.UNKNOWN_DEADLINE.total_seconds())
    _resumed({"acme": {"settled": 1, "escalated": 1}})
    _resumed({"acme": {"waiting": 1}})  # escalated once
    assert _get(api, acme["admin"], f"/v1/disbursements/{d1}")["status"] == "settled"
    assert _get(api, acme["admin"], f"/v1/loans/{loans[0]}")["status"] == "active"
    escalated = _get(api, acme["admin"], f"/v1/disbursements/{d2}")
    assert escalated["status"] == "processing" and escalated["failure"] is None
    [attempt] = escalated["attempts"]  # no other channel tried: the money may have moved
    assert attempt["status"] == "escalated" and attempt["escalated_at"], attempt
    [event] = _events(aws, "disbursement.escalated")
    assert event["data"]["disbursement_id"] == d2 and event["data"]["was"] == "unknown"
    assert _get(api, acme["admin"], f"/v1/loans/{loans[1]}")["status"] == "disbursing"
    again = disburse(api, acme["partner"], loans[1])  # cannot start a second payout
    assert again.status == 200 and again.json["id"] == d2
    cash = _get(api, acme["admin"], f"/v1/channels/{second['id']}")
    assert cash["balance"]["amount"] == "100000.00"
    assert cash["available"]["amount"] == "90200.00"  # still reserved, not voided
    clock.advance(disbursements.PENDING_TTL.total_seconds())  # past the original expiry
    assert ledger_sweep.sweep_all(clock.now) == {}
    late = callback(api, second, {"type": "payout.settled", "payout_id": attempt["payout_id"]},
                    timestamp=int(clock.now.timestamp()))
    assert late.status == 200 and late.json["outcome"] == "processed", late.json
    assert _get(api, acme["admin"], f"/v1/disbursements/{d2}")["status"] == "settled"
    assert _get(api, acme["admin"], f"/v1/loans/{loans[1]}")["status"] == "active"
    principal = _get(api, acme["admin"], f"/v1/ledger/accounts/loan:{loans[1]}:principal")
    assert principal["balance"]["posted"] == "10000.00"
    cash = _get(api, acme["admin"], f"/v1/channels/{second['id']}")
    assert cash["balance"]["amount"] == cash["available"]["amount"] == "90200.00"
    _books_hold(api, acme)


def test_a_submitted_payout_is_escalated_before_expiry_and_lands_after_it(api, acme, product,
                                                                         aws, clock):
    """Issue 14: an accepted payout whose callback comes after the reservation's expiry. The
    sweep never voids it; the resume job escalates it a day before the expiry; the late
    settlement posts the reservation and makes the loan active."""
    ch = channel(api, acme, "async", sandbox={"settle": "callback"})
    loan_id = signed_loan(api, acme, aws, product["id"])
    d = disburse(api, acme["partner"], loan_id).json["id"]
    [attempt] = _get(api, acme["admin"], f"/v1/disbursements/{d}")["attempts"]
    assert attempt["status"] == "submitted", attempt
    # the documented times: the reservation expires 7 days after reserving; a payout sent and
    # still unanswered is escalated 1 day before that
    expiry = datetime.fromisoformat(attempt["started_at"]) + timedelta(days=7)
    escalation = expiry - timedelta(days=1)
    # just before the escalation time: asked about, still waiting, nothing escalated
    clock.now = escalation - timedelta(minutes=1)
    _resumed({"acme": {"waiting": 1}}, clock.now)
    assert ledger_sweep.sweep_all(clock.now) == {}
    clock.now = escalation
    _resumed({"acme": {"escalated": 1}}, clock.now)
    [attempt] = _get(api, acme["admin"], f"/v1/disbursements/{d}")["attempts"]
    assert datetime.fromisoformat(attempt["expires_at"]) == expiry
    pending = _get(api, acme["admin"], f"/v1/ledger/journals/{attempt['journal_id']}")
    assert pending["expires_at"] is None  # the ledger's sweep cannot find it
    [event] = _events(aws, "disbursement.escalated")
    assert event["data"]["was"] == "submitted"
    assert datetime.fromisoformat(event["data"]["expires_at"]) == expiry
    # the expiry passes: neither the sweep nor the resume job voids the sent payout
    clock.now = expiry + timedelta(days=2)
    assert ledger_sweep.sweep_all(clock.now) == {}
    _resumed({"acme": {"waiting": 1}}, clock.now)
    view = _get(api, acme["admin"], f"/v1/disbursements/{d}")
    assert view["status"] == "processing" and view["attempts"][0]["status"] == "escalated"
    assert _get(api, acme["admin"], f"/v1/channels/{ch['id']}")["available"][
        "amount"] == "90200.00"
    late = callback(api, ch, {"type": "payout.settled", "payout_id": attempt["payout_id"],
                              "provider_ref": "late-1"}, timestamp=int(clock.now.timestamp()))
    assert late.status == 200 and late.json["outcome"] == "processed", late.json
    done = _get(api, acme["admin"], f"/v1/disbursements/{d}")
    assert done["status"] == "settled" and done["attempts"][0]["status"] == "settled"
    loan = _get(api, acme["admin"], f"/v1/loans/{loan_id}")
    assert loan["status"] == "active"
    principal = _get(api, acme["admin"], f"/v1/ledger/accounts/loan:{loan_id}:principal")
    assert principal["balance"]["posted"] == "10000.00"
    post = _get(api, acme["admin"], f"/v1/ledger/journals/{attempt['journal_id']}")
    assert post["pending_status"] == "posted"
    cash = _get(api, acme["admin"], f"/v1/channels/{ch['id']}")
    assert cash["balance"]["amount"] == cash["available"]["amount"] == "90200.00"
    _resumed({}, clock.now)
    _books_hold(api, acme)


def test_a_reservation_never_sent_is_voided_at_its_expiry(api, acme, product, aws, clock,
                                                          monkeypatch):
    """Only a reservation the channel never received is voided by expiry: the process died
    before submitting, nothing resumed it for a week; the channel confirms it does not know
    the payout, so the attempt fails, the money is released and the next channel is tried."""
    # a stateless fake bank: its status query answers "never executed" for this payout
    ch = channel(api, acme, "only", sandbox={"timeout_rate_percent": 100})
    loan_id = signed_loan(api, acme, aws, product["id"])
    real_submit = disbursements._submit
    monkeypatch.setattr(disbursements, "_submit", lambda *_a: False)  # died before submitting
    d = disburse(api, acme["partner"], loan_id).json["id"]
    monkeypatch.setattr(disbursements, "_submit", real_submit)
    [attempt] = _get(api, acme["admin"], f"/v1/disbursements/{d}")["attempts"]
    assert attempt["status"] == "reserved"
    clock.now = datetime.fromisoformat(attempt["started_at"]) + timedelta(days=7, minutes=1)
    _resumed({"acme": {"expired": 1}}, clock.now)
    view = _get(api, acme["admin"], f"/v1/disbursements/{d}")
    assert view["attempts"][0]["status"] == "failed"
    assert view["attempts"][0]["reason"] == "expired before it was sent"
    assert view["status"] == "failed"  # the only channel was tried: the loan may go again
    assert _get(api, acme["admin"], f"/v1/loans/{loan_id}")["status"] == "pending_disbursement"
    cash = _get(api, acme["admin"], f"/v1/channels/{ch['id']}")
    assert cash["balance"]["amount"] == cash["available"]["amount"] == "100000.00"
    _books_hold(api, acme)


def test_an_operator_resolves_an_escalated_payout_on_the_channels_evidence(api, acme, product,
                                                                           aws, clock):
    """The channel never answers: once escalated an operator settles or fails the payout
    (the ledger API may not void its reservation); failed releases it and the next channel
    pays. (Issue 17: an `unknown` one is operator-resolvable too: test_operator_resolution.)"""
    silent = {"timeout_rate_percent": 100, "timeout_outcome": "unknown"}
    first = channel(api, acme, "silent", sandbox=silent)
    loan_id = signed_loan(api, acme, aws, product["id"])
    d = disburse(api, acme["partner"], loan_id).json["id"]
    path = f"/v1/disbursements/{d}/attempts/1/resolve"
    body = {"outcome": "failed", "note": "the bank's statement has no such payout"}
    second = channel(api, acme, "backup")
    clock.advance(disbursements.UNKNOWN_DEADLINE.total_seconds() + 1)
    _resumed({"acme": {"escalated": 1}})
    for role in ("admin", "partner", "reviewer"):
        assert api.call("POST", path, body, key=acme[role]).status == 403
    assert api.call("POST", f"/v1/disbursements/{d}/attempts/7/resolve", body,
                    key=acme["operator"]).status == 404
    r = api.call("POST", path, body, key=acme["operator"])
    assert r.status == 200, r.json
    assert r.json["attempts"][0]["status"] == "failed"
    assert r.json["attempts"][0]["reason"] == f"operator: {body['note']}"
    done = _get(api, acme["admin"], f"/v1/disbursements/{d}")
    assert done["status"] == "settled" and done["attempts"][1]["channel_id"] == second["id"]
    assert _get(api, acme["admin"], f"/v1/loans/{loan_id}")["status"] == "active"
    cash = _get(api, acme["admin"], f"/v1/channels/{first['id']}")
    assert cash["balance"]["amount"] == cash["available"]["amount"] == "100000.00"
    again = api.call("POST", path, body, key=acme["operator"])
    assert again.status == 409, again.json
    _books_hold(api, acme)
