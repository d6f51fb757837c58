"""Per-tenant API Gateway usage keys: how API Gateway throttles and meters each tenant.

Usage plans count API Gateway's own keys, not our Bearer keys. So each tenant gets one at
onboarding, joined to the stage's tenant usage plan, and the authorizer hands it back as
`usageIdentifierKey` (the API's key source is AUTHORIZER): every request a tenant makes, with any
of its Bearer keys, counts against that tenant's plan. With no plan configured (`make run`, the
tests that do not set one: there is no API Gateway there) nothing is created.
"""

from __future__ import annotations

import secrets
from typing import Any

import boto3

from chalicelib.config import settings


def _client() -> Any:
    return boto3.client("apigateway", region_name=settings().region)


def provision(tenant: str) -> str | None:
    """The tenant's usage key value, created and joined to the plan if need be (idempotent: a
    retried onboarding finds the key by name instead of making another)."""
    plan = settings().usage_plan_id
    if not plan:
        return None
    client = _client()
    name = f"{settings().table_prefix}{tenant}"
    found = client.get_api_keys(nameQuery=name, includeValues=True).get("items", [])
    key = next((k for k in found if k["name"] == name), None)
    if key is None:
        key = client.create_api_key(name=name, enabled=True, value=secrets.token_urlsafe(30),
                                    tags={"tenant": tenant})
    members = client.get_usage_plan_keys(usagePlanId=plan, nameQuery=name).get("items", [])
    if not any(m["id"] == key["id"] for m in members):
        client.create_usage_plan_key(usagePlanId=plan, keyId=key["id"], keyType="API_KEY")
    return str(key["value"])
