"""The transactional outbox: a business change and the event that announces it commit together.

Call `emit(uow, tenant, event_type, data)` from the service that makes the change, with the
same unit of work: the event item joins the change's TransactWriteItems, so a cancelled
transaction leaves no event and a committed change always has its event. The delivery worker
(services/webhook_delivery.py) finds undispatched events through a sparse index and fans each
out to the tenant's subscribed endpoints.

Payloads carry ids, statuses and amounts - never personal data (keys such as `name`, `phone`,
`id_number` are refused) - because they leave the platform for partners' systems.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.errors import DomainError, FieldError, conflict
from chalicelib.lending import webhooks as rules
from chalicelib.store import outbox as store
from chalicelib.store.uow import UnitOfWork, put

MAX_PAYLOAD_BYTES = 16 * 1024
RETENTION = timedelta(days=30)  # dispatched events expire (TTL); deliveries keep the body


def new_event_id(now: datetime) -> str:
    """`evt_` + creation time in ms (12 hex digits, so ids sort by time) + 80 random bits."""
    return f"evt_{int(now.timestamp() * 1000):012x}{secrets.token_hex(10)}"


def message(event_id: str, event_type: str, now: datetime, data: dict[str, Any]) -> str:
    """The exact body every endpoint receives for this event, on every attempt."""
    return json.dumps({"id": event_id, "type": event_type,
                       "timestamp": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                       "data": data}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _check(event_type: str, data: dict[str, Any]) -> str:
    if event_type not in rules.EVENT_TYPES:
        raise DomainError("validation-error", f"Unknown event type {event_type!r}.",
                          [FieldError("/event_type", f"one of {', '.join(rules.EVENT_TYPES)}")])
    leaks = rules.pii_keys(data)
    if leaks:
        raise DomainError("validation-error", "Event payloads must not carry personal data.",
                          [FieldError(f"/data{p}", "personal data key", "pii") for p in leaks])
    try:
        text = json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise DomainError("validation-error", f"Event payload is not JSON: {exc}") from exc
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise DomainError("validation-error", f"Event payload exceeds {MAX_PAYLOAD_BYTES} bytes.")
    return text


def emit(uow: UnitOfWork, tenant: str, event_type: str, data: dict[str, Any], *,
         now: datetime | None = None) -> str:
    """Adds one outbox event to `uow` (committed with the caller's change); returns its id."""
    _check(event_type, data)
    now = now or datetime.now(UTC)
    event_id = new_event_id(now)
    item = {
        "pk": {"S": store.event_pk(tenant, event_id)}, "sk": {"S": store.EVENT_SK},
        "gsi1pk": {"S": store.outbox_index_pk(store.shard(event_id))},
        "gsi1sk": {"S": f"{store.iso(now)}#{tenant}#{event_id}"},
        "tenant": {"S": tenant}, "event_id": {"S": event_id}, "type": {"S": event_type},
        "body": {"S": message(event_id, event_type, now, data)},
        "status": {"S": "pending"}, "created_at": {"S": store.iso(now)},
        "expires_at": {"N": str(int((now + RETENTION).timestamp()))},
    }
    uow.add(put("main", item, "attribute_not_exists(pk)"),
            on_fail=lambda _r: conflict("Event id collision; retry."))
    return event_id


def get_event(tenant: str, event_id: str) -> dict[str, Any] | None:
    return store.get(store.event_pk(tenant, event_id), store.EVENT_SK)
