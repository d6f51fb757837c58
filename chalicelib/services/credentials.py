"""API keys: issued once in clear, stored only as a keyed hash, found by the id inside them.

Format: lk_<tenant>_<key id>_<secret>. Tenant ids have no '_', key ids are hex, so the key
parses without ambiguity and the lookup needs no scan or global index. A key authenticates only
while its tenant's record exists and is active (one more consistent read, on a cache miss).

Verified keys are remembered in-process for at most CACHE_TTL_SECONDS (a hot partner key would
otherwise cost one consistent read per request). Revocation through the API forgets the key in
the process that revoked it at once; any other process (another Lambda container) honours it
within CACHE_TTL_SECONDS. Unknown, malformed or revoked keys are never remembered.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist

from chalicelib.config import settings
from chalicelib.store.keys import PLATFORM, is_valid_tenant_id
from chalicelib.store.models import ApiKeyItem
from chalicelib.store.tenants import api_key_keys, get_tenant

PREFIX = "lk"
KEY_ID = re.compile(r"^[0-9a-f]{16}$")
SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")
CACHE_TTL_SECONDS = 30.0
CACHE_SIZE = 10_000


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


class _VerifiedKeys:
    """(tenant, key id) -> (keyed hash of the full key, identity, monotonic expiry), LRU-bounded.

    Keyed by the key id, so revoking a key id forgets it whatever secret was presented; an entry
    only answers for the exact key (its keyed hash) that was verified against the table."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: OrderedDict[tuple[str, str], tuple[str, Identity, float]] = OrderedDict()

    def get(self, tenant: str, key_id: str, hashed: str) -> Identity | None:
        with self._lock:
            entry = self._data.get((tenant, key_id))
            if entry is None:
                return None
            if entry[2] <= time.monotonic():
                del self._data[(tenant, key_id)]
                return None
            return entry[1] if hmac.compare_digest(entry[0], hashed) else None

    def put(self, hashed: str, identity: Identity) -> None:
        with self._lock:
            where = (identity.tenant, identity.key_id)
            self._data[where] = (hashed, identity, time.monotonic() + CACHE_TTL_SECONDS)
            self._data.move_to_end(where)
            while len(self._data) > CACHE_SIZE:
                self._data.popitem(last=False)

    def forget(self, tenant: str, key_id: str) -> None:
        with self._lock:
            self._data.pop((tenant, key_id), None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_verified = _VerifiedKeys()


def forget(tenant: str, key_id: str) -> None:
    """Drops a key from this process's cache (called once its revocation has committed)."""
    _verified.forget(tenant, key_id)


def forget_all() -> None:
    _verified.clear()


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
    hashed = key_hash(token)
    cached = _verified.get(tenant, key_id, hashed)
    if cached is not None:
        return cached
    try:
        item = ApiKeyItem.get(*api_key_keys(tenant, key_id), consistent_read=True)
    except DoesNotExist:
        return None
    if item.status != "active" or not hmac.compare_digest(item.secret_hash, hashed):
        return None
    tenant_item = get_tenant(tenant)  # a removed or suspended tenant's keys die with it
    if tenant_item is None or tenant_item.status != "active":
        return None
    identity = Identity(tenant, item.role, key_id, item.usage_key)
    _verified.put(hashed, identity)
    return identity
