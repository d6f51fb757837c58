"""The demo tenant, set up over HTTP as its people would: the platform onboards it and issues
keys; its admin uploads the shipped scoring model, a decision policy, two products (weekly and
monthly) and two prefunded sandbox channels (one settles by signed callback, one at once)."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.scoring.registry import shipped_model_dir
from demo.client import Api
from demo.money import CURRENCY, text

ROLES = ("admin", "partner", "reviewer", "reviewer2", "operator")
POLICY = {
    "score_bands": {"approve_from": 540, "decline_below": 500},
    "rules": [{"id": "risk", "expression": "applicant.age >= 18 && score.pd < 0.35",
               "reason_code": "RISK", "reason_text": "Your risk of default is too high."}],
    "max_auto_approve": {"amount": "30000.00", "currency": CURRENCY},
    "review": {"four_eyes_above": {"amount": "40000.00", "currency": CURRENCY}},
}
PRICING = {"rate_percent": {"A": "10.2", "B": "12", "C": "14", "D": "18", "E": "24"},
           "max_amount": {"E": "5000.00"}}
FEES = {"late": "20.00", "penalty_rate_percent": "18"}
# A payoff quote is for the first open day; paid today, its day of interest is an overpayment
# (refunded by the demo), which the product must tolerate: at most 50,000.00 at 36% a year.
OVERPAYMENT_TOLERANCE = "100.00"
TIME_ZONE = "Asia/Shanghai"  # the tenant's business day (a Chinese microfinance lender)


@dataclass
class Channel:
    id: str
    name: str
    settle: str  # sync | callback
    secret: str


@dataclass
class Tenant:
    id: str
    keys: dict[str, str]
    products: dict[str, str]  # weekly | monthly → product id
    channels: list[Channel] = field(default_factory=list)
    funded: int = 0  # minor units per channel
    time_zone: str = TIME_ZONE

    def local_date(self, at: datetime) -> date:
        """The tenant's business date of an instant (what its statements and the API use)."""
        return at.astimezone(ZoneInfo(self.time_zone)).date()


def _model_upload() -> dict[str, Any]:
    d = shipped_model_dir()
    card = json.loads((d / "german_credit_v1.card.json").read_text())
    onnx = base64.b64encode((d / "german_credit_v1.onnx").read_bytes()).decode()
    return {"name": "German credit scorecard", "card": card, "model_base64": onnx}


def model_categories() -> dict[str, list[str]]:
    """Each categorical characteristic of the shipped model and its codes (for borrowers)."""
    card = json.loads((shipped_model_dir() / "german_credit_v1.card.json").read_text())
    return {f["name"]: [c["code"] for c in f["categories"]] for f in card["inputs"]
            if f.get("type") == "categorical"}


def setup(api: Api, admin_key: str, loans: int) -> Tenant:
    tenant_id = f"demo-{uuid.uuid4().hex[:6]}"
    api.ok("POST", "/v1/tenants", admin_key, {"tenant_id": tenant_id, "name": "Demo Microfinance",
                                              "base_currency": CURRENCY,
                                              "time_zone": TIME_ZONE})
    keys = {role: api.ok("POST", f"/v1/tenants/{tenant_id}/api-keys", admin_key,
                         {"role": role.rstrip("2"), "name": role})["key"] for role in ROLES}
    admin = keys["admin"]
    model = api.ok("POST", "/v1/models", admin, _model_upload())
    api.ok("POST", f"/v1/models/{model['id']}/versions/1/activate", admin)
    policy = api.ok("POST", "/v1/decision-policies", admin, {"name": "Standard",
                                                            "config": POLICY})
    refs = {"decision_policy_id": policy["id"], "scoring_model_id": model["id"]}
    products = {}
    for name, unit, term in (("weekly", "week", {"min": 4, "max": 26}),
                             ("monthly", "month", {"min": 3, "max": 24})):
        terms = {"currency": CURRENCY, "amount": {"min": "1000.00", "max": "50000.00"},
                 "term": term, "frequency": {"unit": unit, "every": 1}, "pricing": PRICING,
                 "fees": FEES, "apr_cap_percent": "36", "references": refs,
                 "overpayment_tolerance": OVERPAYMENT_TOLERANCE}
        products[name] = api.ok("POST", "/v1/products", admin,
                                {"name": f"Microloan ({name})", "terms": terms})["id"]
    tenant = Tenant(tenant_id, keys, products, funded=loans * 3_000_000)
    for name, settle, cost, failures in (("Sandbox bank (callback)", "callback", "1.00", 4),
                                         ("Sandbox bank (instant)", "sync", "3.00", 0)):
        ch = api.ok("POST", "/v1/channels", admin, {
            "name": name, "type": "sandbox", "currency": CURRENCY, "settlement_seconds": 60,
            "fixed_cost": cost, "sandbox": {"settle": settle, "failure_rate_percent": failures,
                                            "seed": 7}})
        api.ok("POST", f"/v1/channels/{ch['id']}/fundings", keys["operator"],
               {"amount": text(tenant.funded), "reference": "seed-funding"})
        tenant.channels.append(Channel(ch["id"], name, settle, ch["webhook_secret"]))
    return tenant
