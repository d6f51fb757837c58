"""API keys: issued once in clear, stored only as a keyed hash, found by the id inside them.

Format: lk_<tenant>_<key id>_<secret>. Tenant ids have no '_', key ids are hex, so the key
parses without ambiguity and the lookup needs no scan or global index.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist

from chalicelib.config import settings
from chalicelib.store.keys import PLATFORM, is_valid_tenant_id
from chalicelib.store.models import ApiKeyItem
from chalicelib.store.tenants import api_key_keys

PREFIX = "lk"
KEY_ID = re.compile(r"^[0-9a-f]{16}$")
SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class Identity:
    tenant: str
    role: str
    key_id: str
    usage_key: str | None = None  # API Gateway usage plan key: per-tenant throttling


def new_key(tenant: str) -> tuple[str, str]:
    """Returns (key id, full key in clear)."""
    key_id = secrets.token_hex(8)
    return key_id, f"{PREFIX}_{tenant}_{key_id}_{secrets.token_urlsafe(32)}"


def key_hash(full_key: str) -> str:
    return hmac.new(settings().api_key_pepper, full_key.encode(), hashlib.sha256).hexdigest()


def identify(authorization: str) -> Identity | None:
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    if hmac.compare_digest(token.encode(), settings().platform_admin_key.encode()):
        return Identity(PLATFORM, "platform", "platform-admin")  # metered by no tenant's plan
    parts = token.split("_", 3)
    if len(parts) != 4 or parts[0] != PREFIX:
        return None
    _, tenant, key_id, secret = parts
    if not (is_valid_tenant_id(tenant) and KEY_ID.fullmatch(key_id) and SECRET.fullmatch(secret)):
        return None
    try:
        item = ApiKeyItem.get(*api_key_keys(tenant, key_id), consistent_read=True)
    except DoesNotExist:
        return None
    if item.status != "active" or not hmac.compare_digest(item.secret_hash, key_hash(token)):
        return None
    return Identity(tenant, item.role, key_id, item.usage_key)
