"""A tenant's fixture world built through the API (and the webhook worker), so that every
path id the security suite uses is real: product, policy, template, model, quote, channel,
application, loan, contract (PDF rendered and signed), disbursement, repayment, COB run,
ledger account and journal, reconciliation run and exception, webhook, delivery, dead letter."""

from __future__ import annotations

import base64
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from chalicelib.services import webhook_delivery
from chalicelib.services.webhook_transport import Outcome
from tests.integration.contracts.helpers import accepted_loan, contract_of, make_product, sign
from tests.integration.disbursement.conftest import channel, disburse
from tests.integration.origination.conftest import application, make_policy
from tests.integration.origination.test_models import shipped

ROLES = ("admin", "partner", "reviewer", "operator")
PHONE_DIGITS = "13812345678"  # every applicant of the fixture applications has this phone
TODAY = date.today()


@dataclass
class World:
    tenant: str
    keys: dict[str, str]
    ids: dict[str, str] = field(default_factory=dict)
    national_ids: list[str] = field(default_factory=list)
    delivered: list[bytes] = field(default_factory=list)  # webhook payloads sent to partners

    def secrets(self) -> list[str]:
        """Personal data that must never be stored, logged or shown in clear."""
        return [*self.national_ids, PHONE_DIGITS]


def _ok(r: Any, *statuses: int) -> Any:
    assert r.status in (statuses or (200, 201, 202)), (r.status, r.json)
    return r.json


def _money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "CNY"}


def build(api: Any, aws: dict[str, Any], tenant: str, serial: int = 100) -> World:
    """About 2 s of API calls; the ids land in `World.ids` under their path parameter names."""
    api.tenant(tenant)
    w = World(tenant, {role: api.key(tenant, role) for role in ROLES})
    admin, partner, operator = w.keys["admin"], w.keys["partner"], w.keys["operator"]
    ids = w.ids
    hook = _ok(api.call("POST", "/v1/webhooks", {"url": "https://hooks.example.com/in",
                                                 "event_types": ["application.decided",
                                                                 "contract.signed",
                                                                 "loan.disbursed",
                                                                 "repayment.received"]},
                        key=admin))
    ids["webhook_id"] = hook["id"]
    product = make_product(api, admin, fees={"origination": {"percent": "2",
                                                             "treatment": "deducted"},
                                             "late": "50.00", "penalty_rate_percent": "18"})
    ids["product_id"] = product["id"]
    ch = channel(api, w.keys, f"{tenant}-sandbox")
    ids["channel_id"] = ch["id"]
    w.ids["webhook_secret_channel"] = ch["webhook_secret"]

    accepted = accepted_loan(api, w.keys, product["id"], serial=str(serial))
    w.national_ids.append(accepted["applicant"]["national_id"]["number"])
    loan_id = accepted["loan"]["id"]
    ids["loan_id"], ids["application_id"] = loan_id, accepted["application"]["id"]
    ids["contract_id"] = contract_of(aws, tenant, loan_id)
    assert sign(api, w.keys, ids["contract_id"], accepted["applicant"]).status == 200
    ids["disbursement_id"] = _ok(disburse(api, partner, loan_id))["id"]
    ids["n"] = "1"  # its first (settled) attempt
    # a second application, still open (for withdraw/review paths)
    second = application(product["id"], serial=str(serial + 1), amount="2000.00")
    w.national_ids.append(second["applicant"]["national_id"]["number"])
    ids["open_application_id"] = _ok(api.call("POST", "/v1/applications", second,
                                              key=partner))["id"]

    rep = _ok(api.call("POST", f"/v1/loans/{loan_id}/repayments", {
        "amount": _money("100.00"), "paid_at": datetime.now(UTC).isoformat(),
        "channel": "alipay", "external_reference": f"{tenant}-rep-1"}, key=partner))
    ids["repayment_id"] = rep["id"]
    ids["run_id"] = _ok(api.call("POST", "/v1/cob/runs", {"business_date": TODAY.isoformat()},
                                 key=operator))["id"]
    ids["quote_id"] = _ok(api.call("POST", "/v1/quotes", {
        "product_id": product["id"], "amount": _money("5000.00"), "term": 6, "grade": "B",
        "disbursement_date": TODAY.isoformat()}, key=partner))["id"]
    ids["policy_id"] = make_policy(api, admin)["id"]
    ids["template_id"] = _ok(api.call("POST", "/v1/contract-templates", {
        "name": "Short", "body": "# Contract {{ contract_id }}\n{{ loan.principal }}\n"},
        key=admin))["id"]
    model_bytes, card = shipped()
    ids["model_id"] = _ok(api.call("POST", "/v1/models", {
        "name": "Own model", "card": card,
        "model_base64": base64.b64encode(model_bytes).decode()}, key=admin))["id"]
    ids["version"] = "1"

    _ok(api.call("POST", "/v1/ledger/accounts", {
        "account_id": f"reserve:{tenant}", "name": "Reserve", "type": "asset",
        "currency": "CNY"}, key=admin))
    ids["account_id"] = f"reserve:{tenant}"  # an id only this tenant has
    # a manual journal on the tenant's own accounts (a channel's cash is the domain's)
    _ok(api.call("POST", "/v1/ledger/journals", {
        "journal_id": f"{tenant}-fund-1", "effective_date": TODAY.isoformat(), "metadata": {},
        "postings": [{"account_id": f"reserve:{tenant}", "side": "debit",
                      "amount": _money("500.00")},
                     {"account_id": "funding", "side": "credit", "amount": _money("500.00")}]},
        key=operator))
    ids["journal_id"] = f"{tenant}-fund-1"
    csv = ("reference,type,amount,currency,value_date\n"
           f"{tenant}-unknown-ref,payout,12.34,CNY,{TODAY.isoformat()}\n")
    run = _ok(api.call("POST", "/v1/reconciliation/runs", {"channel": ch["id"], "csv": csv},
                       key=operator))
    ids["recon_run_id"] = run["id"]
    exc = _ok(api.call("GET", "/v1/reconciliation/exceptions", key=operator))["data"]
    ids["exception_id"] = exc[0]["id"]

    _deliver(w)
    deliveries = _ok(api.call("GET", f"/v1/webhooks/{hook['id']}/deliveries", key=admin))
    dead = [d for d in deliveries["data"] if d["status"] == "dead"]
    assert dead, deliveries
    ids["delivery_id"] = dead[0]["id"]
    ids["aggregate_type"], ids["aggregate_id"] = "loan", loan_id
    ids["tenant_id"], ids["key_id"] = tenant, w.keys["admin"].split("_")[2]
    return w


def _deliver(w: World) -> None:
    """Deliver every queued event once (payloads recorded), then make one a dead letter."""
    later = datetime.now(UTC) + timedelta(minutes=2)
    calls = {"n": 0}

    def transport(url: str, headers: dict[str, str], body: bytes) -> Outcome:
        calls["n"] += 1
        w.delivered.append(body)
        return Outcome(500 if calls["n"] == 1 else 204, None if calls["n"] > 1 else "boom", 1)

    webhook_delivery.run(later, transport=transport, max_attempts=1, workers=1,
                         rng=random.Random(1))


def problem(r: Any) -> dict[str, Any]:
    """The body of an RFC 9457 answer (asserting its media type)."""
    assert r.headers.get("content-type", "").startswith("application/problem+json"), \
        (r.status, r.headers, r.body[:200])
    body = json.loads(r.body)
    assert body["status"] == r.status and body["type"].startswith("urn:problem-type:")
    return body
