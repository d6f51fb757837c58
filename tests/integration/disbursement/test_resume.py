"""The disbursement resume job: payouts a crash cut off, or a channel left unanswered, end
settled once or escalated - money conserved, never paid twice, the books verifiable."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.channels.sandbox import SandboxChannel
from chalicelib.jobs import disbursement_resume
from chalicelib.services import disbursements
from tests.integration.disbursement.conftest import (
    callback,
    channel,
    disburse,
    signed_loan,
    verify_ledger,
)


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
    ch = channel(api, acme["admin"], "only")
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
    assert disbursement_resume.run_all() == {"acme": {"waiting": 2}}  # within the grace period
    clock.advance(disbursements.RESERVED_GRACE.total_seconds() + 1)
    assert disbursement_resume.run_all() == {"acme": {"submitted": 2}}
    assert disbursement_resume.run_all() == {}  # delivered twice: nothing left in flight
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


def test_unknown_payouts_are_asked_about_then_escalated_past_the_deadline(api, acme, product,
                                                                          aws, clock):
    silent = {"timeout_rate_percent": 100, "timeout_outcome": "unknown"}
    first = channel(api, acme["admin"], "first", sandbox=silent)
    loans = [signed_loan(api, acme, aws, product["id"]) for _ in range(2)]
    d1 = disburse(api, acme["partner"], loans[0]).json["id"]
    api.call("PATCH", f"/v1/channels/{first['id']}", {"enabled": False}, key=acme["admin"])
    second = channel(api, acme["admin"], "second", sandbox=silent)
    d2 = disburse(api, acme["partner"], loans[1]).json["id"]
    for d in (d1, d2):
        attempts = _get(api, acme["admin"], f"/v1/disbursements/{d}")["attempts"]
        assert [a["status"] for a in attempts] == ["unknown"], attempts
    clock.advance(disbursements.STATUS_GRACE.total_seconds() + 1)
    assert disbursement_resume.run_all() == {"acme": {"waiting": 2}}  # the bank cannot say yet
    # the first bank finds it executed the payout; the second never finds out
    r = api.call("PATCH", f"/v1/channels/{first['id']}", {"sandbox": {
        **silent, "timeout_outcome": "executed"}}, key=acme["admin"])
    assert r.status == 200, r.json
    clock.advance(disbursements.UNKNOWN_DEADLINE.total_seconds())
    assert disbursement_resume.run_all() == {"acme": {"settled": 1, "escalated": 1}}
    assert disbursement_resume.run_all() == {}
    assert _get(api, acme["admin"], f"/v1/disbursements/{d1}")["status"] == "settled"
    assert _get(api, acme["admin"], f"/v1/loans/{loans[0]}")["status"] == "active"
    escalated = _get(api, acme["admin"], f"/v1/disbursements/{d2}")
    assert escalated["status"] == "failed" and escalated["failure"].startswith("escalated")
    assert [a["status"] for a in escalated["attempts"]] == ["failed"]  # no other channel tried
    assert _get(api, acme["admin"], f"/v1/loans/{loans[1]}")["status"] == "disbursing"
    again = disburse(api, acme["partner"], loans[1])  # cannot start a second payout
    assert again.status == 200 and again.json["id"] == d2
    cash = _get(api, acme["admin"], f"/v1/channels/{second['id']}")
    assert cash["available"]["amount"] == cash["balance"]["amount"] == "100000.00"  # voided
    late = callback(api, second, {"type": "payout.settled", "payout_id": escalated[
        "attempts"][0]["payout_id"]}, timestamp=int(clock.now.timestamp()))
    assert late.status == 200 and late.json["outcome"] == "ignored"  # reconciliation's case
    principal = _get(api, acme["admin"], f"/v1/ledger/accounts/loan:{loans[1]}:principal")
    assert principal["balance"]["posted"] == "0.00"
    _books_hold(api, acme)
