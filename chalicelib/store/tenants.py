"""Where tenants and their API keys live in the main table."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from chalicelib.store.keys import key
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


def head_ref(pk: str, sk: str) -> dict[str, str]:
    return {"table": "main", "pk": pk, "sk": sk}
