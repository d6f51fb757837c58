"""Disbursement over real HTTP: concurrent payouts respect daily limits and prefunded balances,
concurrent duplicates leave one disbursement, and the ledger verifies afterwards."""

from __future__ import annotations

import copy
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.test_local_stack import _post
from tests.integration.origination.conftest import TERMS, application

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True, scope="module")
def _drain_stack_output(stack):
    if stack.process.stdout is not None and not getattr(stack, "_drained", False):
        threading.Thread(target=lambda: [None for _ in stack.process.stdout], daemon=True).start()
        stack._drained = True


def post0(stack: Any, path: str, key: str) -> Any:
    """A POST without a body."""
    return stack.call("POST", path, key, data=b"", headers={"Idempotency-Key": str(uuid.uuid4())})


def tenant_with_keys(stack: Any) -> dict[str, str]:
    tenant = f"e2e-{uuid.uuid4().hex[:8]}"
    assert _post(stack, "/v1/tenants", {"tenant_id": tenant, "name": "E2E 小贷",
                                        "time_zone": "UTC"},
                 stack.admin_key).status_code == 201
    keys = {"tenant": tenant}
    for role in ("admin", "partner", "operator"):
        keys[role] = _post(stack, f"/v1/tenants/{tenant}/api-keys",
                           {"role": role, "name": role}, stack.admin_key).json()["key"]
    return keys


def product(stack: Any, keys: dict[str, str]) -> str:
    terms = copy.deepcopy(TERMS)
    r = _post(stack, "/v1/products", {"name": "Micro", "terms": terms}, keys["admin"])
    assert r.status_code == 201, r.text
    return r.json()["id"]


def signed_loan(stack: Any, keys: dict[str, str], product_id: str, serial: int,
                **overrides: Any) -> str:
    """Application → accept → signing code → sign, over HTTP (the local stage echoes codes);
    `overrides` change the application (e.g. its `beneficiary`)."""
    body = application(product_id, serial=f"{serial:03d}", **overrides)
    app = _post(stack, "/v1/applications", body, keys["partner"]).json()
    assert app["status"] == "approved", app
    loan = post0(stack, f"/v1/applications/{app['id']}/accept", keys["partner"]).json()
    loan_id = loan["loan"]["id"]
    contract_id = stack.call("GET", f"/v1/loans/{loan_id}", keys["partner"]).json()[
        "contract_id"]
    code = post0(stack, f"/v1/contracts/{contract_id}/signing-code", keys["partner"]).json()
    person = body["applicant"]
    r = _post(stack, f"/v1/contracts/{contract_id}/sign", {"code": code["code"], "signer": {
        "name": person["name"], "national_id": person["national_id"]["number"]}},
              keys["partner"])
    assert r.status_code == 200, r.text
    return loan_id


def channel(stack: Any, keys: dict[str, str], name: str, fund: str, **fields: Any) -> str:
    body = {"name": name, "type": "sandbox", "currency": "CNY", "settlement_seconds": 60,
            **fields}
    r = _post(stack, "/v1/channels", body, keys["admin"])
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    f = _post(stack, f"/v1/channels/{cid}/fundings", {"amount": fund, "reference": "init"},
              keys["operator"])
    assert f.status_code == 201, f.text
    return cid


def disburse(stack: Any, keys: dict[str, str], loan_id: str, idem: str | None = None) -> Any:
    return stack.call("POST", f"/v1/loans/{loan_id}/disbursements", keys["partner"],
                      data=b"", headers={"Idempotency-Key": idem or str(uuid.uuid4())})


def test_concurrent_disbursements_respect_limits_and_balances(stack):
    keys = tenant_with_keys(stack)
    pid = product(stack, keys)
    loans = [signed_loan(stack, keys, pid, 100 + i) for i in range(8)]  # 10,000.00 each
    limited = channel(stack, keys, "limited", "1000000.00", fixed_cost="1.00",
                      daily_limit="30000.00")  # room for three
    thin = channel(stack, keys, "thin", "20000.00", fixed_cost="2.00")  # balance for two
    wide = channel(stack, keys, "wide", "1000000.00", fixed_cost="3.00")
    with ThreadPoolExecutor(8) as pool:
        started = list(pool.map(lambda loan: disburse(stack, keys, loan), loans))
        # duplicates of the first loan, concurrently, under fresh keys
        dupes = list(pool.map(lambda _: disburse(stack, keys, loans[0]), range(4)))
    assert all(r.status_code in (200, 202) for r in started), [r.text for r in started]
    assert all(r.status_code in (200, 202, 409) for r in dupes), [r.text for r in dupes]
    assert {r.json()["id"] for r in dupes if r.status_code != 409} <= {started[0].json()["id"]}
    used: dict[str, int] = {}
    for r in started:
        d = stack.call("GET", f"/v1/disbursements/{r.json()['id']}", keys["admin"]).json()
        assert d["status"] == "settled", d
        settled = [a for a in d["attempts"] if a["status"] == "settled"]
        assert len(settled) == 1
        used[settled[0]["channel_id"]] = used.get(settled[0]["channel_id"], 0) + 1
    assert used.get(limited, 0) <= 3 and used.get(thin, 0) <= 2
    assert sum(used.values()) == 8 and used.get(wide, 0) >= 3
    thin_view = stack.call("GET", f"/v1/channels/{thin}", keys["admin"]).json()
    assert Decimal(thin_view["balance"]["amount"]) >= 0
    limited_view = stack.call("GET", f"/v1/channels/{limited}", keys["admin"]).json()
    assert Decimal(limited_view["used_today"]["amount"]) <= Decimal("30000.00")
    v = post0(stack, "/v1/ledger/verify", keys["admin"])
    assert v.status_code == 200 and v.json()["ok"], v.text
