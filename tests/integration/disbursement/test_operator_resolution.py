"""Issue 17: operators finish what machines cannot. An `unknown` or escalated payout is
settled with the bank's reference or failed by an operator; above the tenant's threshold a
second, different operator must confirm; a channel answer landing first makes the proposal
lapse. Every in-flight disbursement names who must act, and operators list what needs them."""

from __future__ import annotations

from typing import Any

from chalicelib.services import disbursements
from tests.integration.disbursement.conftest import (
    callback,
    channel,
    disburse,
    signed_loan,
    verify_ledger,
)
from tests.lag import eventually

SILENT = {"timeout_rate_percent": 100, "timeout_outcome": "unknown"}


def _get(api: Any, key: str, path: str) -> dict[str, Any]:
    r = api.call("GET", path, key=key)
    assert r.status == 200, r.json
    return r.json


def _needing(api: Any, key: str, by: str) -> set[str]:
    r = api.call("GET", f"/v1/disbursements?needs={by}", key=key)
    assert r.status == 200, r.json
    return {d["id"] for d in r.json["data"]}


def _books_hold(api: Any, keys: dict[str, str]) -> None:
    verify_ledger(api, keys["admin"])
    trail = api.call("POST", "/v1/audit/verify", key=keys["admin"]).json
    assert trail["ok"], trail["breaks"]


def _audit_actions(api: Any, key: str, disbursement_id: str) -> list[str]:
    r = api.call("GET", f"/v1/audit/disbursement/{disbursement_id}", key=key)
    assert r.status == 200, r.json
    return [rec["action"] for rec in r.json["data"]]


def test_an_operator_settles_an_unknown_payout_with_the_banks_reference(api, acme, product,
                                                                        aws, clock):
    ch = channel(api, acme, "silent", sandbox=SILENT)
    loan_id = signed_loan(api, acme, aws, product["id"])
    d = disburse(api, acme["partner"], loan_id).json["id"]
    view = _get(api, acme["admin"], f"/v1/disbursements/{d}")
    assert view["attempts"][0]["status"] == "unknown"
    assert view["action_required"]["by"] == "operator", view["action_required"]
    assert eventually(lambda: d in _needing(api, acme["operator"], "operator"), True)
    assert d not in _needing(api, acme["operator"], "channel")
    path = f"/v1/disbursements/{d}/attempts/1/resolve"
    no_ref = api.call("POST", path, {"outcome": "settled", "note": "on the statement"},
                      key=acme["operator"])
    assert no_ref.status == 422, no_ref.json
    assert [e["pointer"] for e in no_ref.json["errors"]] == ["/body/provider_ref"]
    r = api.call("POST", path, {"outcome": "settled", "provider_ref": "BANK-20261204-1",
                                "note": "on the bank's statement of the day"},
                 key=acme["operator"])
    assert r.status == 200, r.json
    assert r.json["status"] == "settled" and r.json["action_required"] is None
    assert r.json["attempts"][0]["provider_ref"] == "BANK-20261204-1"
    assert _get(api, acme["admin"], f"/v1/loans/{loan_id}")["status"] == "active"
    cash = _get(api, acme["admin"], f"/v1/channels/{ch['id']}")
    assert cash["balance"]["amount"] == cash["available"]["amount"] == "90200.00"
    assert eventually(lambda: d in _needing(api, acme["operator"], "operator"), False) is False
    assert "disbursement.settled" in _audit_actions(api, acme["admin"], d)
    _books_hold(api, acme)


def test_a_payout_the_channel_holds_is_not_an_operators_to_resolve(api, acme, product, aws,
                                                                   clock):
    channel(api, acme, "async", sandbox={"settle": "callback"})
    loan_id = signed_loan(api, acme, aws, product["id"])
    d = disburse(api, acme["partner"], loan_id).json["id"]
    view = _get(api, acme["admin"], f"/v1/disbursements/{d}")
    assert view["action_required"]["by"] == "channel"
    r = api.call("POST", f"/v1/disbursements/{d}/attempts/1/resolve",
                 {"outcome": "failed", "note": "impatient"}, key=acme["operator"])
    assert r.status == 409 and r.json["attempt_status"] == "submitted", r.json


def _four_eyes(api: Any, acme: dict[str, str], amount: str = "5000.00") -> None:
    r = api.call("PUT", "/v1/settings/payouts", {"resolution_four_eyes_above": {
        "amount": amount, "currency": "CNY"}}, key=acme["admin"])
    assert r.status == 200, r.json
    got = _get(api, acme["operator"], "/v1/settings/payouts")
    assert got["resolution_four_eyes_above"] == {"amount": amount, "currency": "CNY"}


def test_above_the_threshold_a_second_operator_confirms(api, acme, product, aws, clock):
    _four_eyes(api, acme)
    second_operator = api.key("acme", "operator")
    silent = channel(api, acme, "silent", sandbox=SILENT)
    loan_id = signed_loan(api, acme, aws, product["id"])
    d = disburse(api, acme["partner"], loan_id).json["id"]
    backup = channel(api, acme, "backup")  # added after: routing continues to it
    path = f"/v1/disbursements/{d}/attempts/1/resolve"
    body = {"outcome": "failed", "note": "the bank says it never executed it"}
    proposed = api.call("POST", path, body, key=acme["operator"])
    assert proposed.status == 202, proposed.json
    assert proposed.json["attempts"][0]["status"] == "unknown"  # nothing happened yet
    assert proposed.json["attempts"][0]["proposal"]["state"] == "pending"
    assert proposed.json["action_required"]["by"] == "second_operator"
    assert proposed.headers["location"] == f"/v1/disbursements/{d}"  # and it reads back:
    assert api.call("GET", f"/v1/disbursements/{d}", key=acme["operator"]).json[
        "attempts"][0]["proposal"]["state"] == "pending"
    assert eventually(lambda: d in _needing(api, acme["operator"], "second_operator"), True)
    again = api.call("POST", path, body, key=second_operator)
    assert again.status == 409 and again.json["proposal_state"] == "pending", again.json
    confirm = f"{path}/confirm"
    same = api.call("POST", confirm, {"note": "me again"}, key=acme["operator"])
    assert same.status == 403, same.json
    assert same.json["type"].endswith(":four-eyes"), same.json
    assert _get(api, acme["admin"], f"/v1/channels/{silent['id']}")["available"][
        "amount"] == "90200.00"  # still reserved
    ok = api.call("POST", confirm, {"note": "checked the statement"}, key=second_operator)
    assert ok.status == 200, ok.json
    first = ok.json["attempts"][0]
    assert first["status"] == "failed" and first["proposal"]["state"] == "confirmed"
    assert first["proposal"]["decided_by"] != first["proposal"]["by"]
    done = _get(api, acme["admin"], f"/v1/disbursements/{d}")  # routing continued
    assert done["status"] == "settled" and done["attempts"][1]["channel_id"] == backup["id"]
    cash = _get(api, acme["admin"], f"/v1/channels/{silent['id']}")
    assert cash["balance"]["amount"] == cash["available"]["amount"] == "100000.00"
    actions = _audit_actions(api, acme["admin"], d)
    assert actions.index("disbursement.resolution_proposed") < actions.index(
        "disbursement.attempt_failed")
    _books_hold(api, acme)


def test_a_rejected_proposal_goes_back_to_the_operators(api, acme, product, aws, clock):
    _four_eyes(api, acme)
    second_operator = api.key("acme", "operator")
    channel(api, acme, "silent", sandbox=SILENT)
    d = disburse(api, acme["partner"], signed_loan(api, acme, aws, product["id"])).json["id"]
    path = f"/v1/disbursements/{d}/attempts/1/resolve"
    assert api.call("POST", path, {"outcome": "settled", "provider_ref": "X-1", "note": "n"},
                    key=acme["operator"]).status == 202
    r = api.call("POST", f"{path}/reject", {"note": "X-1 is another payout"},
                 key=second_operator)
    assert r.status == 200, r.json
    assert r.json["attempts"][0]["proposal"]["state"] == "rejected"
    assert r.json["attempts"][0]["status"] == "unknown"
    assert r.json["action_required"]["by"] == "operator"
    twice = api.call("POST", f"{path}/confirm", {"note": "late"}, key=second_operator)
    assert twice.status == 409 and twice.json["proposal_state"] == "rejected", twice.json
    assert "disbursement.resolution_rejected" in _audit_actions(api, acme["admin"], d)


def test_below_the_threshold_one_operator_suffices(api, acme, product, aws, clock):
    _four_eyes(api, acme, amount="9800.00")  # the payout is 9800.00: not above it
    channel(api, acme, "silent", sandbox=SILENT)
    d = disburse(api, acme["partner"], signed_loan(api, acme, aws, product["id"])).json["id"]
    r = api.call("POST", f"/v1/disbursements/{d}/attempts/1/resolve",
                 {"outcome": "settled", "provider_ref": "B-9", "note": "statement"},
                 key=acme["operator"])
    assert r.status == 200 and r.json["status"] == "settled", r.json


def _failure_proposed(api: Any, acme: dict[str, str], aws: Any, product: dict[str, Any]
                      ) -> tuple[str, dict[str, Any], str, str, str, str]:
    """A silent payout above the four-eyes threshold one operator proposes to fail: (a second
    operator's key, the channel, the loan, the disbursement, its resolve path, the payout id)."""
    _four_eyes(api, acme)
    second_operator = api.key("acme", "operator")
    ch = channel(api, acme, "silent", sandbox=SILENT)
    loan_id = signed_loan(api, acme, aws, product["id"])
    d = disburse(api, acme["partner"], loan_id).json["id"]
    path = f"/v1/disbursements/{d}/attempts/1/resolve"
    assert api.call("POST", path, {"outcome": "failed", "note": "never executed?"},
                    key=acme["operator"]).status == 202
    payout_id = _get(api, acme["admin"], f"/v1/disbursements/{d}")["attempts"][0]["payout_id"]
    return second_operator, ch, loan_id, d, path, payout_id


def test_a_channel_answer_before_the_second_operator_makes_the_proposal_lapse(api, acme,
                                                                               product, aws,
                                                                               clock):
    second_operator, ch, loan_id, d, path, payout_id = _failure_proposed(api, acme, aws,
                                                                          product)
    late = callback(api, ch, {"type": "payout.settled", "payout_id": payout_id,
                              "provider_ref": "late-7"})
    assert late.status == 200 and late.json["outcome"] == "processed", late.json
    r = api.call("POST", f"{path}/confirm", {"note": "ok"}, key=second_operator)
    assert r.status == 409 and r.json["proposal_state"] == "lapsed", r.json
    view = _get(api, acme["admin"], f"/v1/disbursements/{d}")
    assert view["status"] == "settled" and view["attempts"][0]["proposal"]["state"] == "lapsed"
    assert _get(api, acme["admin"], f"/v1/loans/{loan_id}")["status"] == "active"
    _books_hold(api, acme)


def test_a_confirmation_racing_a_callback_is_refused_by_the_version_guard(api, acme, product,
                                                                          aws, clock,
                                                                          monkeypatch):
    """The callback lands between the confirmation's read and its commit: the confirmation's
    transaction is refused (409), nothing is paid or released twice."""
    from chalicelib.services import payout_resolution

    second_operator, ch, loan_id, d, path, payout_id = _failure_proposed(api, acme, aws,
                                                                          product)
    real = disbursements.resolve_escalated

    def callback_lands_first(*args: Any, **kwargs: Any) -> Any:
        late = callback(api, ch, {"type": "payout.settled", "payout_id": payout_id})
        assert late.status == 200 and late.json["outcome"] == "processed", late.json
        return real(*args, **kwargs)

    monkeypatch.setattr(payout_resolution.disbursements, "resolve_escalated",
                        callback_lands_first)
    r = api.call("POST", f"{path}/confirm", {"note": "ok"}, key=second_operator)
    assert r.status == 409, r.json
    view = _get(api, acme["admin"], f"/v1/disbursements/{d}")
    assert view["status"] == "settled" and view["attempts"][0]["proposal"]["state"] == "lapsed"
    cash = _get(api, acme["admin"], f"/v1/channels/{ch['id']}")
    assert cash["balance"]["amount"] == cash["available"]["amount"] == "90200.00"
    assert _get(api, acme["admin"], f"/v1/loans/{loan_id}")["status"] == "active"
    _books_hold(api, acme)
