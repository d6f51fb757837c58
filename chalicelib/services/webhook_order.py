"""Per-loan delivery order: a delivery waits while an earlier event of its loan is not yet
fanned out, or not yet delivered to the same endpoint (an ordered queue per endpoint and loan;
what "earlier" means is lending/event_order.py).

The queue is a base-table partition per tenant and order key (store/outbox.py): a marker per
undispatched event (written in the emitting transaction, removed by the fan-out) and per
pending delivery (written by the fan-out, removed when the delivery is delivered, dead or
cancelled). Every read is consistent, so an index that lags cannot reorder deliveries. A
marker whose event or delivery is no longer pending (its removal was lost) is dropped when met.
"""

from __future__ import annotations

from typing import Any

from chalicelib.store import dynamo
from chalicelib.store import outbox as store
from chalicelib.store.uow import put

MAX_SCAN = 1000  # markers read to decide one delivery (a loan's backlog across endpoints)


def fan_out_items(tenant: str, event: dict[str, Any], webhook_ids: list[str],
                  ) -> list[dict[str, Any]]:
    """TransactItems for the fan-out: the event's marker gives way to its deliveries'."""
    order_key, position = store.s(event, "order_key"), store.s(event, "position")
    if not order_key or not position:
        return []  # an event with no loan, or emitted before issue 16
    pk = store.order_pk(tenant, order_key)
    event_id = store.s(event, "event_id") or ""
    items: list[dict[str, Any]] = [{"Delete": {
        "TableName": dynamo.table("main"),
        "Key": {"pk": {"S": pk}, "sk": {"S": store.event_marker_sk(position)}}}}]
    items += [put("main", {"pk": {"S": pk},
                           "sk": {"S": store.delivery_marker_sk(position, webhook_id)},
                           "event_id": {"S": event_id}, "webhook_id": {"S": webhook_id}})
              for webhook_id in webhook_ids]
    return items


def delivery_fields(event: dict[str, Any]) -> dict[str, Any]:
    """What a delivery keeps of its event's place in the order."""
    return {name: event[name] for name in ("order_key", "position") if name in event}


def blocker(delivery: dict[str, Any]) -> dict[str, Any] | None:
    """The pending event or delivery (to the same endpoint) that `delivery` must wait for, or
    None when it is first of its loan's queue."""
    tenant = store.s(delivery, "tenant") or ""
    webhook_id = store.s(delivery, "webhook_id") or ""
    order_key, position = store.s(delivery, "order_key"), store.s(delivery, "position")
    if not order_key or not position:
        return None
    pk = store.order_pk(tenant, order_key)
    read = 0
    for marker in store.query_all(pk, index=False, upper=position, cap=MAX_SCAN):
        read += 1
        owner = store.s(marker, "webhook_id")
        if owner is not None and owner != webhook_id:
            continue  # another endpoint's queue
        found = _pending(tenant, marker)
        if found is not None:
            return found
        _drop(marker)
    # The queue ahead was not read to its end: wait for the next run (stale markers just read
    # are gone by then) rather than go ahead of what was not read.
    return marker if read >= MAX_SCAN else None


def release(delivery: dict[str, Any]) -> None:
    """Takes an ended delivery out of its loan's queue."""
    order_key, position = store.s(delivery, "order_key"), store.s(delivery, "position")
    if order_key and position:
        _drop({"pk": {"S": store.order_pk(store.s(delivery, "tenant") or "", order_key)},
               "sk": {"S": store.delivery_marker_sk(position,
                                                    store.s(delivery, "webhook_id") or "")}})


def _pending(tenant: str, marker: dict[str, Any]) -> dict[str, Any] | None:
    """The event or delivery a marker stands for, while it is still pending."""
    event_id, webhook_id = store.s(marker, "event_id") or "", store.s(marker, "webhook_id")
    if webhook_id is None:
        item = store.get(store.event_pk(tenant, event_id), store.EVENT_SK)
    else:
        item = store.get(store.webhook_pk(tenant, webhook_id), store.delivery_sk(event_id))
    return item if item is not None and store.s(item, "status") == "pending" else None


def _drop(marker: dict[str, Any]) -> None:
    dynamo.client().delete_item(TableName=dynamo.table("main"),
                                Key={"pk": marker["pk"], "sk": marker["sk"]})
