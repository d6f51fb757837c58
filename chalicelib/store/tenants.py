"""Where tenants and their API keys live in the main table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib.store import dynamo
from chalicelib.store.keys import PLATFORM, key
from chalicelib.store.models import ApiKeyItem, TenantItem

TENANT_SK = "tenant"


def tenant_keys(tenant: str) -> tuple[str, str]:
    return key(tenant, "tenant"), TENANT_SK


def api_key_keys(tenant: str, key_id: str) -> tuple[str, str]:
    return key(tenant, "tenant"), f"apikey#{key_id}"


def get_tenant(tenant: str) -> TenantItem | None:
    try:
        return TenantItem.get(*tenant_keys(tenant), consistent_read=True)
    except DoesNotExist:
        return None


def get_api_key(tenant: str, key_id: str) -> ApiKeyItem | None:
    try:
        return ApiKeyItem.get(*api_key_keys(tenant, key_id), consistent_read=True)
    except DoesNotExist:
        return None


def registry_keys(tenant: str) -> tuple[str, str]:
    """Index keys listing every tenant, for platform jobs (close of business, sweeps). Tenants
    are few and rarely written, so one index partition is not a hot spot."""
    return key(PLATFORM, "tenants"), tenant


def tenant_ids() -> Iterator[str]:
    kwargs: dict[str, Any] = {
        "TableName": dynamo.table("main"), "IndexName": "gsi1",
        "KeyConditionExpression": "gsi1pk = :p",
        "ExpressionAttributeValues": {":p": {"S": key(PLATFORM, "tenants")}},
    }
    while True:
        page = dynamo.client().query(**kwargs)
        yield from (item["tenant_id"]["S"] for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def head_ref(pk: str, sk: str) -> dict[str, str]:
    return {"table": "main", "pk": pk, "sk": sk}
