"""Origination over real HTTP: policy, model upload, applications, review, offer, loan."""

from __future__ import annotations

import base64
import copy
import threading
import uuid

import pytest

from tests.contract_check import check_response
from tests.e2e.test_local_stack import _post
from tests.integration.origination.conftest import MID, TERMS, application
from tests.integration.origination.test_models import FEATURES, shipped

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True, scope="module")
def _drain_stack_output(stack):
    """The session stack's output is a pipe nobody reads; once its 64 KiB buffer fills with
    request logs the server blocks writing and every request times out. Drain it."""
    if stack.process.stdout is not None and not getattr(stack, "_drained", False):
        threading.Thread(target=lambda: [None for _ in stack.process.stdout], daemon=True).start()
        stack._drained = True


def _get(stack, path, key):
    r = stack.call("GET", path, key)
    check_response("GET", path, r.status_code, r.headers.get("content-type", ""), r.content)
    return r


def _tenant(stack) -> tuple[str, dict[str, str]]:
    tenant = f"e2e-{uuid.uuid4().hex[:8]}"
    assert _post(stack, "/v1/tenants", {"tenant_id": tenant, "name": "E2E", "time_zone": "UTC"},
                 stack.admin_key).status_code == 201
    keys = {}
    for role in ("admin", "partner", "reviewer"):
        r = _post(stack, f"/v1/tenants/{tenant}/api-keys", {"role": role, "name": role},
                  stack.admin_key)
        keys[role] = r.json()["key"]
    return tenant, keys


def test_origination_walkthrough_over_http(stack):
    _, k = _tenant(stack)
    model_bytes, card = shipped()
    model = _post(stack, "/v1/models", {"name": "German credit (ours)", "card": copy.deepcopy(card),
                                        "model_base64": base64.b64encode(model_bytes).decode()},
                  k["admin"]).json()
    assert _post(stack, f"/v1/models/{model['id']}/versions/1/activate", None,
                 k["admin"]).status_code == 200
    scored = _post(stack, "/v1/score", {"model_id": model["id"], "features": FEATURES},
                   k["partner"])
    assert scored.status_code == 200 and scored.json()["reasons"]
    policy = _post(stack, "/v1/decision-policies", {"name": "Standard", "config": {
        "score_bands": {"approve_from": 540, "decline_below": 500},
        "rules": [{"id": "adult", "expression": "applicant.age >= 18 && score.pd < 0.35",
                   "reason_code": "RISK", "reason_text": "Your risk of default is too high."}],
        "max_auto_approve": {"amount": "30000.00", "currency": "CNY"}}}, k["admin"]).json()
    terms = {**copy.deepcopy(TERMS), "references": {"decision_policy_id": policy["id"],
                                                    "scoring_model_id": model["id"]}}
    product = _post(stack, "/v1/products", {"name": "Microloan", "terms": terms},
                    k["admin"]).json()

    approved = _post(stack, "/v1/applications", application(product["id"]), k["partner"])
    assert approved.status_code == 201, approved.text
    app = approved.json()
    assert app["status"] == "approved" and app["decision"]["model"]["id"] == model["id"]
    loan = _post(stack, f"/v1/applications/{app['id']}/accept", None, k["partner"]).json()
    assert loan["loan"]["status"] == "pending_contract"

    declined = _post(stack, "/v1/applications", application(
        product["id"], serial="321", characteristics=MID), k["partner"]).json()
    assert declined["status"] == "declined" and declined["decision"]["reasons"]

    referred = _post(stack, "/v1/applications", application(product["id"], serial="654",
                                                            amount="40000.00"),
                     k["partner"]).json()
    assert referred["status"] == "referred"
    queue = _get(stack, "/v1/reviews", k["reviewer"]).json()["data"]
    assert [a["id"] for a in queue] == [referred["id"]]
    reviewed = _post(stack, f"/v1/applications/{referred['id']}/review",
                     {"decision": "approve", "comment": "verified"}, k["reviewer"]).json()
    assert reviewed["status"] == "approved" and reviewed["offer"]

    bad = application(product["id"], amount="99999.00")
    bad["applicant"]["phone"] = "123"
    r = _post(stack, "/v1/applications", bad, k["partner"])
    assert r.status_code == 422


def test_tenants_cannot_see_each_others_applications_or_models(stack):
    _, a = _tenant(stack)
    _, b = _tenant(stack)
    model_bytes, card = shipped()
    model = _post(stack, "/v1/models", {"name": "m", "card": copy.deepcopy(card),
                                        "model_base64": base64.b64encode(model_bytes).decode()},
                  a["admin"]).json()
    product = _post(stack, "/v1/products", {"name": "p", "terms": TERMS}, a["admin"]).json()
    app = _post(stack, "/v1/applications", application(product["id"]), a["partner"]).json()
    assert _get(stack, f"/v1/applications/{app['id']}", b["partner"]).status_code == 404
    assert _get(stack, f"/v1/models/{model['id']}", b["admin"]).status_code == 404
    assert [m["id"] for m in _get(stack, "/v1/models", b["admin"]).json()["data"]] == [
        "shipped"]
