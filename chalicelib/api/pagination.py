"""Opaque cursors: signed, bound to the tenant and to the query that produced them.

A cursor replayed by another tenant, on another query, or altered by one bit is a 400; the
DynamoDB key inside is never trusted without the signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from chalicelib.config import settings
from chalicelib.errors import DomainError


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(payload: bytes) -> bytes:
    return hmac.new(settings().token_secret, payload, hashlib.sha256).digest()


def scope_of(tenant: str, route: str, filters: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([tenant, route, filters], sort_keys=True).encode()).hexdigest()


def encode(scope: str, last_key: dict[str, Any] | None) -> str | None:
    if not last_key:
        return None
    payload = json.dumps({"s": scope, "k": last_key}, sort_keys=True, separators=(",", ":"))
    raw = payload.encode()
    return f"{_b64(raw)}.{_b64(_sign(raw))}"


def decode(cursor: str | None, scope: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    bad = DomainError("invalid-cursor", "The cursor is not valid for this query.")
    try:
        body, signature = cursor.split(".")
        raw = _unb64(body)
        if not hmac.compare_digest(_sign(raw), _unb64(signature)):
            raise bad
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad from exc
    if not isinstance(payload, dict) or payload.get("s") != scope:
        raise bad
    return payload["k"]
