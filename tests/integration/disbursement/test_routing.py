"""Disbursement through the API: routing, failover, breaker, callbacks, idempotency, ledger."""

from __future__ import annotations

from typing import Any

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


def test_cheapest_channel_pays_and_the_loan_becomes_active(api, acme, product, aws, clock):
    cheap = channel(api, acme, "cheap", fixed_cost="1.00", settlement_seconds=3600)
    channel(api, acme, "dear", fixed_cost="5.00", settlement_seconds=10)
    channel(api, acme, "pct", proportional_bps=10)  # 0.1% of 9800 = 9.80
    loan_id = signed_loan(api, acme, aws, product["id"])
    r = disburse(api, acme["partner"], loan_id)
    assert r.status == 202 and r.json["status"] == "processing", r.json
    d = _get(api, acme["reviewer"], f"/v1/disbursements/{r.json['id']}")
    assert d["status"] == "settled", d
    assert [a["channel_id"] for a in d["attempts"]] == [cheap["id"]]
    assert d["payout"]["amount"] == "9800.00" and d["origination_fee"]["amount"] == "200.00"
    loan = _get(api, acme["reviewer"], f"/v1/loans/{loan_id}")
    assert loan["status"] == "active" and loan["disbursement_id"] == d["id"]
    assert loan["balances"]["principal"]["amount"] == "10000.00"
    assert loan["schedule"]["disbursement_date"] == clock.now.date().isoformat()
    assert [h["status"] for h in loan["history"]][-3:] == [
        "pending_disbursement", "disbursing", "active"]
    ch = _get(api, acme["reviewer"], f"/v1/channels/{cheap['id']}")
    assert ch["balance"]["amount"] == "90200.00" and ch["used_today"]["amount"] == "9800.00"
    fee = api.call("GET", "/v1/ledger/accounts/fee-income", key=acme["admin"])
    assert fee.json["balance"]["posted"] == "200.00", fee.json
    verify_ledger(api, acme["admin"])
    audit = api.call("POST", "/v1/audit/verify", key=acme["admin"])
    assert audit.json["ok"], audit.json


def test_fastest_and_time_bounded_policies(api, acme, product, aws, clock):
    channel(api, acme, "cheap-slow", fixed_cost="1.00", settlement_seconds=86400)
    mid = channel(api, acme, "mid", fixed_cost="3.00", settlement_seconds=600)
    fast = channel(api, acme, "fast", fixed_cost="9.00", settlement_seconds=5)
    put = api.call("PUT", f"/v1/products/{product['id']}/routing-policy",
                   {"strategy": "cheapest_within", "max_settlement_seconds": 3600},
                   key=acme["admin"])
    assert put.status == 200, put.json
    d = disburse(api, acme["partner"], signed_loan(api, acme, aws, product["id"])).json
    assert _get(api, acme["admin"], f"/v1/disbursements/{d['id']}")["attempts"][0][
        "channel_id"] == mid["id"]
    api.call("PUT", f"/v1/products/{product['id']}/routing-policy", {"strategy": "fastest"},
             key=acme["admin"])
    d = disburse(api, acme["partner"], signed_loan(api, acme, aws, product["id"])).json
    assert d["attempts"] == [] and _get(api, acme["admin"], f"/v1/disbursements/{d['id']}")[
        "attempts"][0]["channel_id"] == fast["id"]
    verify_ledger(api, acme["admin"])


def test_failover_on_failure_and_timeout_then_fails_cleanly(api, acme, product, aws, clock):
    refuses = channel(api, acme, "a", fixed_cost="1.00",
                      sandbox={"failure_rate_percent": 100})
    times_out = channel(api, acme, "b", fixed_cost="2.00",
                        sandbox={"timeout_rate_percent": 100})
    works = channel(api, acme, "c", fixed_cost="3.00")
    loan_id = signed_loan(api, acme, aws, product["id"])
    d = disburse(api, acme["partner"], loan_id).json
    d = _get(api, acme["admin"], f"/v1/disbursements/{d['id']}")
    assert [(a["channel_id"], a["status"]) for a in d["attempts"]] == [
        (refuses["id"], "failed"), (times_out["id"], "failed"), (works["id"], "settled")]
    assert _get(api, acme["admin"], f"/v1/channels/{refuses['id']}")["available"][
        "amount"] == "100000.00"  # the void released the reservation
    verify_ledger(api, acme["admin"])
    # every channel failing: the disbursement fails and the loan can be disbursed again
    api.call("PATCH", f"/v1/channels/{works['id']}", {"enabled": False}, key=acme["admin"])
    loan2 = signed_loan(api, acme, aws, product["id"])
    d2 = _get(api, acme["admin"], "/v1/disbursements/" + disburse(
        api, acme["partner"], loan2).json["id"])
    assert d2["status"] == "failed" and len(d2["attempts"]) == 2
    assert d2["skipped"][works["id"]] == "disabled"
    assert _get(api, acme["admin"], f"/v1/loans/{loan2}")["status"] == "pending_disbursement"
    api.call("PATCH", f"/v1/channels/{works['id']}", {"enabled": True}, key=acme["admin"])
    again = disburse(api, acme["partner"], loan2)
    assert again.status == 202
    final = _get(api, acme["admin"], f"/v1/disbursements/{again.json['id']}")
    assert final["status"] == "settled"
    verify_ledger(api, acme["admin"])


def test_breaker_opens_skips_and_recovers(api, acme, product, aws, clock):
    flaky = channel(api, acme, "flaky", fixed_cost="1.00",
                    sandbox={"failure_rate_percent": 100},
                    breaker={"threshold": 2, "cooldown_seconds": 60})
    backup = channel(api, acme, "backup", fixed_cost="2.00")
    for _ in range(2):
        d = disburse(api, acme["partner"], signed_loan(api, acme, aws, product["id"])).json
        d = _get(api, acme["admin"], f"/v1/disbursements/{d['id']}")
        assert [a["channel_id"] for a in d["attempts"]] == [flaky["id"], backup["id"]]
    assert _get(api, acme["admin"], f"/v1/channels/{flaky['id']}")["breaker"]["state"] == "open"
    d = _get(api, acme["admin"], "/v1/disbursements/" + disburse(
        api, acme["partner"], signed_loan(api, acme, aws, product["id"])).json["id"])
    assert [a["channel_id"] for a in d["attempts"]] == [backup["id"]]
    assert d["skipped"][flaky["id"]] == "breaker_open"
    # after the cool-down one probe goes through; the channel is healthy again and closes
    api.call("PATCH", f"/v1/channels/{flaky['id']}", {"sandbox": {}}, key=acme["admin"])
    clock.advance(61)
    d = _get(api, acme["admin"], "/v1/disbursements/" + disburse(
        api, acme["partner"], signed_loan(api, acme, aws, product["id"])).json["id"])
    assert [a["channel_id"] for a in d["attempts"]] == [flaky["id"]]
    assert _get(api, acme["admin"], f"/v1/channels/{flaky['id']}")["breaker"]["state"] == \
        "closed"
    verify_ledger(api, acme["admin"])


def test_limits_and_balance_are_respected(api, acme, product, aws, clock):
    small = channel(api, acme, "small", fixed_cost="1.00", max_payout="5000.00")
    capped = channel(api, acme, "capped", fixed_cost="2.00", daily_limit="15000.00")
    poor = channel(api, acme, "poor", fixed_cost="0.50", fund="100.00")
    big = channel(api, acme, "big", fixed_cost="3.00")
    ids = []
    for _ in range(2):
        d = disburse(api, acme["partner"], signed_loan(api, acme, aws, product["id"])).json
        ids.append(_get(api, acme["admin"], f"/v1/disbursements/{d['id']}"))
    assert [d["attempts"][0]["channel_id"] for d in ids] == [capped["id"], big["id"]]
    assert ids[1]["skipped"] == {small["id"]: "over_max_payout",
                                 capped["id"]: "over_daily_limit",
                                 poor["id"]: "insufficient_balance"}
    verify_ledger(api, acme["admin"])


def test_duplicate_requests_leave_one_disbursement(api, acme, product, aws, clock):
    channel(api, acme, "only")
    loan_id = signed_loan(api, acme, aws, product["id"])
    first = disburse(api, acme["partner"], loan_id, idem="same-key")
    replay = disburse(api, acme["partner"], loan_id, idem="same-key")
    other_key = disburse(api, acme["operator"], loan_id)
    assert first.status == 202 and replay.headers.get("idempotent-replayed") == "true"
    assert other_key.status == 200 and other_key.json["id"] == first.json["id"]
    account = api.call("GET", f"/v1/ledger/accounts/loan:{loan_id}:principal",
                       key=acme["admin"]).json
    assert account["balance"]["posted"] == "10000.00", account
    verify_ledger(api, acme["admin"])


def test_callbacks_settle_once_and_refuse_bad_signatures(api, acme, product, aws, clock):
    ch = channel(api, acme, "async", sandbox={"settle": "callback"})
    loan_id = signed_loan(api, acme, aws, product["id"])
    d = disburse(api, acme["partner"], loan_id).json
    d = _get(api, acme["admin"], f"/v1/disbursements/{d['id']}")
    attempt = d["attempts"][0]
    assert d["status"] == "processing" and attempt["status"] == "submitted"
    assert _get(api, acme["admin"], f"/v1/loans/{loan_id}")["status"] == "disbursing"
    payload = {"type": "payout.settled", "payout_id": attempt["payout_id"], "provider_ref": "p1"}
    bad = callback(api, ch, payload, secret="whsec_" + "QUFB" * 8)
    assert bad.status == 401
    stale = callback(api, ch, payload, timestamp=int(clock.now.timestamp()) - 600)
    assert stale.status == 401
    unknown = callback(api, {**ch, "id": "ch_0000000000000000"}, payload)
    assert unknown.status == 401
    ok = callback(api, ch, payload, msg_id="msg_1")
    assert ok.status == 200 and ok.json["outcome"] == "processed", ok.json
    assert callback(api, ch, payload, msg_id="msg_1").json["outcome"] == "duplicate"
    assert callback(api, ch, payload, msg_id="msg_2").json["outcome"] == "ignored"
    failed_late = callback(api, ch, {**payload, "type": "payout.failed"}, msg_id="msg_3")
    assert failed_late.json["outcome"] == "ignored"
    d = _get(api, acme["admin"], f"/v1/disbursements/{d['id']}")
    assert d["status"] == "settled" and d["attempts"][0]["provider_ref"] == "p1"
    assert _get(api, acme["admin"], f"/v1/loans/{loan_id}")["status"] == "active"
    verify_ledger(api, acme["admin"])


def test_failed_callback_fails_over_to_the_next_channel(api, acme, product, aws, clock):
    first = channel(api, acme, "async", fixed_cost="1.00",
                    sandbox={"settle": "callback"})
    second = channel(api, acme, "sync", fixed_cost="2.00")
    loan_id = signed_loan(api, acme, aws, product["id"])
    d = disburse(api, acme["partner"], loan_id).json
    payout_id = _get(api, acme["admin"], f"/v1/disbursements/{d['id']}")["attempts"][0][
        "payout_id"]
    r = callback(api, first, {"type": "payout.failed", "payout_id": payout_id,
                              "reason": "account closed"})
    assert r.json["outcome"] == "processed"
    d = _get(api, acme["admin"], f"/v1/disbursements/{d['id']}")
    assert [(a["channel_id"], a["status"]) for a in d["attempts"]] == [
        (first["id"], "failed"), (second["id"], "settled")]
    # a callback naming another channel's payout is not found
    wrong = callback(api, second, {"type": "payout.settled", "payout_id": payout_id})
    assert wrong.status == 404
    verify_ledger(api, acme["admin"])


def test_cross_tenant_404_and_roles(api, acme, product, aws, clock):
    ch = channel(api, acme, "only")
    loan_id = signed_loan(api, acme, aws, product["id"])
    d = disburse(api, acme["partner"], loan_id).json
    other = __import__("tests.integration.contracts.helpers", fromlist=["x"]).tenant_keys(
        api, "acme-corp")
    for method, path, body, role in [  # each by a role allowed to call it
            ("GET", f"/v1/channels/{ch['id']}", None, "admin"),
            ("PATCH", f"/v1/channels/{ch['id']}", {"enabled": False}, "admin"),
            ("POST", f"/v1/channels/{ch['id']}/fundings", {"amount": "1.00", "reference": "x"},
             "operator"),
            ("POST", f"/v1/loans/{loan_id}/disbursements", None, "operator"),
            ("GET", f"/v1/disbursements/{d['id']}", None, "admin"),
            ("GET", f"/v1/loans/{loan_id}", None, "admin"),
            ("GET", f"/v1/products/{product['id']}/routing-policy", None, "admin"),
            ("PUT", f"/v1/products/{product['id']}/routing-policy", {"strategy": "fastest"},
             "admin")]:
        assert api.call(method, path, body, key=other[role]).status == 404, path
    assert api.call("GET", "/v1/channels", key=other["admin"]).json["data"] == []
    for method, path, body, role in [
            ("POST", "/v1/channels", {"name": "x", "type": "sandbox", "currency": "CNY",
                                      "settlement_seconds": 1}, "partner"),
            ("PATCH", f"/v1/channels/{ch['id']}", {"enabled": False}, "operator"),
            ("POST", f"/v1/channels/{ch['id']}/fundings", {"amount": "1.00", "reference": "y"},
             "admin"),
            ("POST", f"/v1/loans/{loan_id}/disbursements", None, "reviewer"),
            ("POST", f"/v1/loans/{loan_id}/disbursements", None, "admin"),
            ("PUT", f"/v1/products/{product['id']}/routing-policy", {"strategy": "fastest"},
             "partner")]:
        assert api.call(method, path, body, key=acme[role]).status == 403, path


def test_a_timeout_the_bank_then_reports_failed_counts_once(api, acme, product, aws, clock,
                                                             monkeypatch):
    """One silent payout is one failure for the breaker, whatever the status query says after:
    counted twice, a threshold of 2 would open the breaker on a single timeout."""
    from chalicelib.channels.protocol import Outcome, OutcomeKind
    from chalicelib.channels.sandbox import SandboxChannel

    monkeypatch.setattr(SandboxChannel, "status", lambda self, payout: Outcome(
        OutcomeKind.FAILED, None, "bank: rejected after the timeout"))
    silent = channel(api, acme, "silent", fixed_cost="1.00",
                     sandbox={"timeout_rate_percent": 100},
                     breaker={"threshold": 2, "cooldown_seconds": 60})
    backup = channel(api, acme, "backup", fixed_cost="2.00")
    d = disburse(api, acme["partner"], signed_loan(api, acme, aws, product["id"])).json
    d = _get(api, acme["admin"], f"/v1/disbursements/{d['id']}")
    assert [(a["channel_id"], a["status"]) for a in d["attempts"]] == [
        (silent["id"], "failed"), (backup["id"], "settled")]
    breaker = _get(api, acme["admin"], f"/v1/channels/{silent['id']}")["breaker"]
    assert (breaker["state"], breaker["failures"]) == ("closed", 1), breaker
    verify_ledger(api, acme["admin"])
