"""Issue 17 over real HTTP on the local stack: an `unknown` payout waits in the operators'
worklist, is resolved with the bank's reference under four-eyes (the proposer cannot confirm,
a second operator does), and leaves every worklist; the books verify."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_disbursement import (
    _drain_stack_output,  # noqa: F401  # autouse
    channel,
    post0,
    product,
    signed_loan,
    tenant_with_keys,
)
from tests.e2e.test_local_stack import _post
from tests.lag import eventually

pytestmark = pytest.mark.e2e
SILENT = {"timeout_rate_percent": 100, "timeout_outcome": "unknown"}


def _needing(stack: Any, key: str, by: str) -> set[str]:
    r = stack.call("GET", f"/v1/disbursements?needs={by}", key)
    assert r.status_code == 200, r.text
    return {d["id"] for d in r.json()["data"]}


def test_an_unknown_payout_is_resolved_by_two_operators_over_http(stack):
    keys = tenant_with_keys(stack)
    keys["operator2"] = _post(stack, f"/v1/tenants/{keys['tenant']}/api-keys",
                              {"role": "operator", "name": "second"}, stack.admin_key
                              ).json()["key"]
    r = stack.call("PUT", "/v1/settings/payouts", keys["admin"], json={
        "resolution_four_eyes_above": {"amount": "5000.00", "currency": "CNY"}})
    assert r.status_code == 200, r.text
    channel(stack, keys, "silent", "100000.00", sandbox=SILENT)
    loan_id = signed_loan(stack, keys, product(stack, keys), 801)
    started = post0(stack, f"/v1/loans/{loan_id}/disbursements", keys["partner"])
    assert started.status_code == 202, started.text
    d = started.json()["id"]
    view = stack.call("GET", f"/v1/disbursements/{d}", keys["operator"]).json()
    assert view["attempts"][0]["status"] == "unknown"
    assert view["action_required"]["by"] == "operator"
    assert eventually(lambda: d in _needing(stack, keys["operator"], "operator"), True)

    path = f"/v1/disbursements/{d}/attempts/1/resolve"
    proposed = _post(stack, path, {"outcome": "settled", "provider_ref": "BANK-E2E-1",
                                   "note": "on the bank's statement"}, keys["operator"])
    assert proposed.status_code == 202, proposed.text
    assert proposed.json()["action_required"]["by"] == "second_operator"
    same = _post(stack, f"{path}/confirm", {"note": "me"}, keys["operator"])
    assert same.status_code == 403, same.text
    assert same.headers["content-type"].startswith("application/problem+json")
    ok = _post(stack, f"{path}/confirm", {"note": "checked"}, keys["operator2"])
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "settled" and ok.json()["action_required"] is None
    assert stack.call("GET", f"/v1/loans/{loan_id}", keys["operator"]).json()[
        "status"] == "active"
    for by in ("operator", "second_operator"):
        assert eventually(lambda by=by: d in _needing(stack, keys["operator"], by), False) \
            is False
    verified = post0(stack, "/v1/ledger/verify", keys["admin"])
    assert verified.status_code == 200 and verified.json()["ok"], verified.text
