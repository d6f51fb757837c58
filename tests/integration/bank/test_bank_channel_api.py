"""A `bank_http` channel through the channel API: https only, the API secret write-only (stored
sealed under KMS, never answered, kept on a change that gives none), and a payout's outcome
mapped from what the bank did (an unreachable bank fails over, certainly unpaid)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.disbursement.conftest import channel, disburse, signed_loan

SECRET = "bank-api-secret-0123456789-abcdef"


def settings(**over: Any) -> dict[str, Any]:
    return {"base_url": "https://127.0.0.1:9/", "client_id": "lender", "api_secret": SECRET,
            "connect_timeout_ms": 200, "read_timeout_ms": 500, **over}


def create(api: Any, keys: dict[str, str], **body: Any) -> Any:
    return api.call("POST", "/v1/channels", {"name": "Bank", "type": "bank_http",
                                             "currency": "CNY", "settlement_seconds": 60,
                                             **body}, key=keys["admin"])


def stored_config(aws: Any, channel_id: str) -> dict[str, Any]:
    from chalicelib.store import channels as store

    item = store.get_channel("acme", channel_id)
    assert item is not None
    return dict(json.loads(item.config))


def test_the_api_secret_is_stored_sealed_and_never_answered(api, aws, acme):
    r = create(api, acme, bank_http=settings())
    assert r.status == 201, r.json
    assert SECRET not in json.dumps(r.json) and r.json["bank_http"]["api_secret_set"] is True
    assert r.json["sandbox"] is None
    config = stored_config(aws, r.json["id"])
    assert SECRET not in json.dumps(config) and "api_secret" not in config
    assert json.loads(config["api_secret_sealed"])["alg"] == "AES-256-GCM"
    got = api.call("GET", f"/v1/channels/{r.json['id']}", key=acme["admin"])
    assert SECRET not in json.dumps(got.json)
    patch = dict(settings(read_timeout_ms=900))
    del patch["api_secret"]
    p = api.call("PATCH", f"/v1/channels/{r.json['id']}", {"bank_http": patch},
                 key=acme["admin"])
    assert p.status == 200 and p.json["bank_http"]["read_timeout_ms"] == 900, p.json
    after = stored_config(aws, r.json["id"])
    assert after["api_secret_sealed"] == config["api_secret_sealed"]  # kept, still sealed
    wrong = api.call("PATCH", f"/v1/channels/{r.json['id']}", {"sandbox": {"seed": 1}},
                     key=acme["admin"])
    assert wrong.status == 422 and wrong.json["errors"][0]["pointer"] == "/body/sandbox"


@pytest.mark.parametrize("body", [
    {"bank_http": settings(base_url="http://bank.example")},  # https only
    {"bank_http": settings(api_secret=None)},  # a bank channel needs its secret
    {},  # bank_http settings are required for the type
    {"bank_http": settings(ca_cert_pem="not a certificate")},
])
def test_invalid_bank_settings_are_refused_with_the_field(api, aws, acme, body):
    r = create(api, acme, **body)
    assert r.status == 422, r.json
    assert r.json["errors"], r.json


def test_an_unreachable_bank_is_certainly_unpaid_and_the_payout_fails_over(api, aws, acme,
                                                                            product):
    bank = create(api, acme, bank_http=settings(), fixed_cost="0.50")
    assert bank.status == 201, bank.json
    assert api.call("POST", f"/v1/channels/{bank.json['id']}/fundings",
                    {"amount": "100000.00", "reference": "initial"},
                    key=acme["operator"]).status == 201
    other = channel(api, acme, "fallback", fixed_cost="5.00")
    loan_id = signed_loan(api, acme, aws, product["id"])
    d = disburse(api, acme["partner"], loan_id)
    assert d.status in (200, 202), d.json
    got = api.call("GET", f"/v1/disbursements/{d.json['id']}", key=acme["admin"]).json
    assert [(a["channel_id"], a["status"]) for a in got["attempts"]] == [
        (bank.json["id"], "failed"), (other["id"], "settled")], got
    assert "not reached" in got["attempts"][0]["reason"]
