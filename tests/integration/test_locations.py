"""Every create answers with its Location, and a GET on it reads what was created (issue 16).

The security suite's fixture world makes one of nearly everything through the API; this test
records each 201/202 on the way, adds the creates the world does not make (versions, the
journal commands), then reads every Location. The refund's Location is read in the servicing
suite (a refund needs a closed, overpaid loan), a payout resolution's in the disbursement suite
(test_operator_resolution: it needs a payout stuck at its channel). The routes covered are
checked against the routes that declare a location, so a new create cannot be forgotten here."""

from __future__ import annotations

import base64
import re
from datetime import date
from typing import Any

from chalicelib.api.http import CREATED, PATH_PARAM, ROUTES
from tests.integration.origination.test_models import shipped
from tests.security import world

NOT_HERE = {"post_refund", "resolve_attempt"}  # see the module docstring


def _route(method: str, path: str) -> str | None:
    bare = path.split("?")[0]
    for r in ROUTES:
        pattern = "^" + PATH_PARAM.sub(r"[^/]+", r.path) + "$"
        if r.method == method and re.match(pattern, bare):
            return r.operation_id
    return None


def test_every_create_answers_with_a_location_that_reads_back(api, aws):
    created: list[tuple[str, str | None, str]] = []  # (operation, location, key)
    call = api.call

    def recording(method: str, path: str, body: Any = None, **kw: Any) -> Any:
        r = call(method, path, body, **kw)
        if method == "POST" and r.status in CREATED:
            created.append((_route(method, path) or path, r.headers.get("location"),
                            kw.get("key") or ""))
        return r

    api.call = recording  # type: ignore[method-assign]
    w = world.build(api, aws, "locs")
    admin, operator = w.keys["admin"], w.keys["operator"]
    ids = w.ids
    today = date.today().isoformat()
    terms = api.call("GET", f"/v1/products/{ids['product_id']}", key=admin).json["terms"]
    assert api.call("POST", f"/v1/products/{ids['product_id']}/versions", {"terms": terms},
                    key=admin).status == 201
    policy = api.call("GET", f"/v1/decision-policies/{ids['policy_id']}", key=admin).json
    assert api.call("POST", f"/v1/decision-policies/{ids['policy_id']}/versions",
                    {"config": policy["config"]}, key=admin).status == 201
    assert api.call("POST", f"/v1/contract-templates/{ids['template_id']}/versions",
                    {"body": "# Contract {{ contract_id }}\nv2\n"}, key=admin).status == 201
    model_bytes, card = shipped()
    assert api.call("POST", f"/v1/models/{ids['model_id']}/versions", {
        "card": card, "model_base64": base64.b64encode(model_bytes).decode()},
        key=admin).status == 201
    assert api.call("POST", f"/v1/ledger/journals/{ids['journal_id']}/reverse", {
        "journal_id": "locs-fund-1-rev", "effective_date": today}, key=operator).status == 201
    for n, command in ((1, "post"), (2, "void")):
        hold = {"journal_id": f"locs-hold-{n}", "effective_date": today, "pending": True,
                "postings": [{"account_id": "reserve:locs", "side": "credit",
                              "amount": {"amount": "1.00", "currency": "CNY"}},
                             {"account_id": "funding", "side": "debit",
                              "amount": {"amount": "1.00", "currency": "CNY"}}]}
        assert api.call("POST", "/v1/ledger/journals", hold, key=operator).status == 201, n
        r = api.call("POST", f"/v1/ledger/journals/locs-hold-{n}/{command}", {
            "journal_id": f"locs-hold-{n}-{command}", "effective_date": today}, key=operator)
        assert r.status == 201, r.json
    api.call = call  # type: ignore[method-assign]

    missing = [op for op, location, _ in created if not location]
    assert not missing, missing
    keys = [*w.keys.values(), api.platform_key]
    for op, location, key in created:
        assert location and location.startswith("/v1/"), (op, location)
        tried = [key, *(k for k in keys if k != key)]
        statuses = []
        for k in tried:
            statuses.append(api.call("GET", location, key=k).status)
            if statuses[-1] != 403:
                break
        assert statuses[-1] == 200, (op, location, statuses)
    declared = {r.operation_id for r in ROUTES if r.location}
    assert declared - NOT_HERE <= {op for op, _, _ in created}, \
        declared - NOT_HERE - {op for op, _, _ in created}
