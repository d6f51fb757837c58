"""RFC 9457 problem details: one stable type URI, status and title per error kind."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.errors import DomainError

TYPE_BASE = "urn:problem-type:lending:"
PROBLEM_JSON = "application/problem+json"

KINDS: dict[str, tuple[int, str]] = {
    "malformed-request": (400, "Malformed request"),
    "idempotency-key-required": (400, "Idempotency-Key header required"),
    "invalid-cursor": (400, "Invalid pagination cursor"),
    "unauthenticated": (401, "Authentication required"),
    "forbidden": (403, "Forbidden"),
    "not-found": (404, "Not found"),
    "conflict": (409, "Conflict"),
    "idempotency-in-flight": (409, "Request in flight"),
    "payload-too-large": (413, "Payload too large"),
    "unsupported-media-type": (415, "Unsupported media type"),
    "validation-error": (422, "Validation failed"),
    "idempotency-key-reused": (422, "Idempotency-Key reused"),
    "transaction-too-large": (422, "Too many changes in one request"),
    "quote-refused": (422, "The product does not allow this loan"),
    "service-unavailable": (503, "Service unavailable"),
    "internal-error": (500, "Internal error"),
}


def register(kind: str, status: int, title: str) -> None:
    """Later capabilities (ledger, lending) add their own kinds here."""
    KINDS[kind] = (status, title)


def status_of(kind: str) -> int:
    return KINDS.get(kind, KINDS["internal-error"])[0]


def problem_body(error: DomainError, instance: str, request_id: str) -> dict[str, Any]:
    status, title = KINDS.get(error.kind, KINDS["internal-error"])
    body: dict[str, Any] = {
        "type": TYPE_BASE + error.kind,
        "title": title,
        "status": status,
        "detail": error.detail,
        "instance": instance,
        "request_id": request_id,
    }
    if error.errors:
        body["errors"] = [
            {"pointer": e.pointer, "detail": e.detail, "code": e.code} for e in error.errors
        ]
    # Extension members never shadow the standard ones (a client reads `status` as the HTTP code).
    body.update({k: v for k, v in error.extra.items() if k not in body and k != "errors"})
    return body


def render(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
