"""Shared setup for contract and disbursement tests: a tenant, a product, an accepted loan."""

from __future__ import annotations

import copy
from typing import Any

from tests.integration.origination.conftest import TERMS, application

BORROWER = {"name": "王小明"}
ROLES = ("admin", "partner", "reviewer", "operator")


def tenant_keys(api: Any, tenant: str, time_zone: str = "UTC") -> dict[str, str]:
    api.tenant(tenant, time_zone=time_zone)
    return {role: api.key(tenant, role) for role in ROLES}


def make_product(api: Any, key: str, **changes: Any) -> dict[str, Any]:
    terms = copy.deepcopy(TERMS)
    for name, value in changes.items():
        terms[name] = value
    r = api.call("POST", "/v1/products", {"name": "Microloan", "terms": terms}, key=key)
    assert r.status == 201, r.json
    return r.json


def accepted_loan(api: Any, keys: dict[str, str], product_id: str,
                  amount: str = "10000.00", serial: str = "123") -> dict[str, Any]:
    """An approved application accepted by the partner: returns the accept response."""
    r = api.call("POST", "/v1/applications", application(product_id, amount=amount,
                                                          serial=serial), key=keys["partner"])
    assert r.status == 201 and r.json["status"] == "approved", r.json
    accepted = api.call("POST", f"/v1/applications/{r.json['id']}/accept", key=keys["partner"])
    assert accepted.status == 201, accepted.json
    return {**accepted.json, "applicant": application(product_id, serial=serial)["applicant"]}


def contract_of(aws: dict[str, Any], tenant: str, loan_id: str) -> str:
    raw = aws["dynamodb"].get_item(ConsistentRead=True, TableName="test-main", Key={
        "pk": {"S": f"{tenant}#loan#{loan_id}"}, "sk": {"S": "loan"}})["Item"]
    return raw["contract_id"]["S"]


def sign(api: Any, keys: dict[str, str], contract_id: str, applicant: dict[str, Any],
         **extra: Any) -> Any:
    code = api.call("POST", f"/v1/contracts/{contract_id}/signing-code", key=keys["partner"])
    assert code.status == 201, code.json
    body = {"code": code.json["code"], "signer": {
        "name": applicant["name"], "national_id": applicant["national_id"]["number"]}}
    return api.call("POST", f"/v1/contracts/{contract_id}/sign", body, key=keys["partner"],
                    **extra)
