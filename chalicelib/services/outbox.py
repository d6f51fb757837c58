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
from chalicelib.lending import event_order
from chalicelib.lending import webhooks as rules
from chalicelib.lending.events import EventType
from chalicelib.store import outbox as store
from chalicelib.store.uow import UnitOfWork, put

MAX_PAYLOAD_BYTES = 16 * 1024
RETENTION = timedelta(days=30)  # dispatched events expire (TTL); deliveries keep the body
# Transaction items one emit may add: the event and its place in its loan's delivery order.
ITEMS_PER_EVENT = 2


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


def emit(uow: UnitOfWork, tenant: str, event_type: EventType, data: dict[str, Any], *,
         now: datetime | None = None) -> str:
    """Adds one outbox event to `uow` (committed with the caller's change); returns its id."""
    _check(event_type, data)
    now = now or datetime.now(UTC)
    event_id = new_event_id(now)
    wall = datetime.now(UTC)
    emitted_at = store.iso(wall)  # wall clock, for the delivery order
    position = event_order.position(emitted_at, _events_in(uow), event_id)
    order_key = event_order.order_key(data)
    item = {
        "pk": {"S": store.event_pk(tenant, event_id)}, "sk": {"S": store.EVENT_SK},
        "gsi1pk": {"S": store.outbox_index_pk(store.shard(event_id))},
        "gsi1sk": {"S": f"{store.iso(now)}#{tenant}#{event_id}"},
        "tenant": {"S": tenant}, "event_id": {"S": event_id}, "type": {"S": event_type},
        "body": {"S": message(event_id, event_type, now, data)},
        "status": {"S": "pending"}, "created_at": {"S": store.iso(now)},
        "expires_at": {"N": str(int((wall + RETENTION).timestamp()))},  # not a sandbox's
        "emitted_at": {"S": emitted_at}, "position": {"S": position},
        **({"order_key": {"S": order_key}} if order_key else {}),
    }
    uow.add(put("main", item, "attribute_not_exists(pk)"),
            on_fail=lambda _r: conflict("Event id collision; retry."))
    if order_key is not None:  # later events of its loan wait until it is fanned out
        uow.add(put("main", {"pk": {"S": store.order_pk(tenant, order_key)},
                             "sk": {"S": store.event_marker_sk(position)},
                             "event_id": {"S": event_id}}))
    return event_id


def _events_in(uow: UnitOfWork) -> int:
    """How many outbox events `uow` already holds: this one's index in its transaction."""
    return sum(1 for i in uow.items
               if i.get("Put", {}).get("Item", {}).get("sk") == {"S": store.EVENT_SK})


def get_event(tenant: str, event_id: str) -> dict[str, Any] | None:
    return store.get(store.event_pk(tenant, event_id), store.EVENT_SK)


# ---- adapters for the services that own the business events -------------------------------

LOAN_EVENTS = {  # loan audit action -> partner event
    "loan.contract_signed": EventType.CONTRACT_SIGNED,
    "loan.disbursed": EventType.LOAN_DISBURSED,
    "loan.closed": EventType.LOAN_CLOSED,
    "loan.cancelled": EventType.LOAN_CANCELLED,
}
LOAN_FIELDS = ("contract_id", "disbursement_id", "channel_id", "disbursed_on", "closed_on",
               "cancel_reason", "expired_on")


def announce_loan(uow: UnitOfWork, tenant: str, action: str, now: datetime, loan: Any,
                  data: dict[str, Any]) -> str | None:
    """Called by loan_lifecycle.move for every transition; emits the partner event that the
    audit action stands for, if any (same unit of work as the loan's new version)."""
    event_type = LOAN_EVENTS.get(action)
    if event_type is None:
        return None
    from chalicelib.lending.money import format_amount

    payload: dict[str, Any] = {
        "loan_id": loan.loan_id, "application_id": loan.application_id,
        "product_id": loan.product_id, "status": loan.status,
        "principal": {"amount": format_amount(loan.principal, loan.currency),
                      "currency": loan.currency},
        **{k: str(v) for k, v in data.items() if k in LOAN_FIELDS and v is not None},
    }
    return emit(uow, tenant, event_type, payload, now=now)


def announce_decision(uow: UnitOfWork, tenant: str, now: datetime, application: Any,
                      outcome: str) -> str:
    """application.decided: the automated decision (approve/refer/decline) at submission, and
    the reviewers' final one (approve/decline) after a referral."""
    from chalicelib.lending.money import format_amount

    return emit(uow, tenant, EventType.APPLICATION_DECIDED, {
        "application_id": application.application_id, "product_id": application.product_id,
        "outcome": outcome, "status": application.status,
        "amount": {"amount": format_amount(application.amount, application.currency),
                   "currency": application.currency},
        "loan_id": application.loan_id}, now=now)
