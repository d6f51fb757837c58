"""Where outbox events, webhook endpoints and deliveries live in the main table.

- outbox event: pk `t#event#<evt>`, sk `event`; while undispatched gsi1pk
  `_platform#outbox#NN`, gsi1sk `<created>#<t>#<evt>`.
- webhook endpoint: pk `t#webhook#<wh>`, sk `webhook` (its status, version, audit head; the
  partition of its deliveries). Endpoints registered before issue 24 also carry gsi1pk
  `t#webhooks`, gsi1sk `<created>#<wh>` while active (read once, to adopt them; see below).
- the tenant's endpoint list: pk `t#webhooks`, sk `endpoint#<created>#<wh>`, a copy of each
  active endpoint as registered (removed on delete), beside sk `count` (attribute `n`, the
  number of listed endpoints). One partition, read with a consistent Query: fan-out and the
  cap never depend on an index that lags. The count item is the cap's guard (a conditional
  ADD in the create transaction) and marks the list as adopted: a tenant without one lists
  its legacy endpoints from the old index once (services/webhooks.py).
- delivery order (issue 16, lending/event_order.py): pk `t#webhook-order#<order key>`, sk
  `<position>#event` while the event is undispatched (written with it, removed by its fan-out),
  and `<position>#<wh>` while its delivery to `wh` is pending (written by the fan-out, removed
  when the delivery ends). A delivery waits while its partition holds an earlier marker of its
  event's or its endpoint's; always read consistently.
- delivery: pk `t#webhook#<wh>`, sk `delivery#<evt>`; while due gsi1pk
  `_platform#deliveries#NN`, gsi1sk `<due>#<t>#<wh>#<evt>`; when dead gsi1pk
  `t#dead-letters`, gsi1sk `<dead at>#<wh>#<evt>`; delivered or cancelled: no index entry.

The two worker indexes are platform-wide (one query per shard finds every tenant's due work
without enumerating tenants) and sharded 16 ways by event id, so neither is a hot partition.
Event ids start with their creation time in hex, so `delivery#<evt>` sorts deliveries by time.
Times in sort keys are fixed-width UTC (`2026-03-01T10:00:00.000000Z`): string order is time order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from chalicelib.store import dynamo
from chalicelib.store.keys import PLATFORM, key

SHARDS = 16
EVENT_SK = "event"
WEBHOOK_SK = "webhook"
ENDPOINT_PREFIX = "endpoint#"
COUNT_SK = "count"
DELIVERY_PREFIX = "delivery#"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def shard(event_id: str) -> int:
    return int(hashlib.sha256(event_id.encode()).hexdigest()[:4], 16) % SHARDS


def event_pk(tenant: str, event_id: str) -> str:
    return key(tenant, "event", event_id)


def outbox_index_pk(n: int) -> str:
    return key(PLATFORM, "outbox", f"{n:02d}")


def webhook_pk(tenant: str, webhook_id: str) -> str:
    return key(tenant, "webhook", webhook_id)


def webhooks_index_pk(tenant: str) -> str:
    """The legacy (pre issue 24) index partition of a tenant's active endpoints."""
    return key(tenant, "webhooks")


def endpoints_pk(tenant: str) -> str:
    """The base-table partition listing a tenant's active endpoints and their count."""
    return key(tenant, "webhooks")


def endpoint_sk(created_at: str, webhook_id: str) -> str:
    return f"{ENDPOINT_PREFIX}{created_at}#{webhook_id}"


def order_pk(tenant: str, order_key: str) -> str:
    return key(tenant, "webhook-order", order_key)


def event_marker_sk(position: str) -> str:
    return f"{position}#event"


def delivery_marker_sk(position: str, webhook_id: str) -> str:
    return f"{position}#{webhook_id}"


def delivery_sk(event_id: str) -> str:
    return DELIVERY_PREFIX + event_id


def due_index_pk(n: int) -> str:
    return key(PLATFORM, "deliveries", f"{n:02d}")


def due_sk(due: datetime, tenant: str, webhook_id: str, event_id: str) -> str:
    return f"{iso(due)}#{tenant}#{webhook_id}#{event_id}"


def dead_index_pk(tenant: str) -> str:
    return key(tenant, "dead-letters")


def dead_sk(at: datetime, webhook_id: str, event_id: str) -> str:
    return f"{iso(at)}#{webhook_id}#{event_id}"


# ---- reads ----------------------------------------------------------------------------------

def get(pk: str, sk: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = dynamo.client().get_item(
        TableName=dynamo.table("main"), Key={"pk": {"S": pk}, "sk": {"S": sk}},
        ConsistentRead=True).get("Item")
    return item


def query_page(pk: str, *, index: bool, prefix: str | None = None, upper: str | None = None,
               limit: int = 100, start: dict[str, Any] | None = None, newest_first: bool = False,
               ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One page of a partition (base table or gsi1), optionally by sk prefix or upper bound."""
    name = "gsi1pk" if index else "pk"
    sort = "gsi1sk" if index else "sk"
    condition = f"{name} = :p"
    values: dict[str, Any] = {":p": {"S": pk}}
    if prefix is not None:
        condition += f" AND begins_with({sort}, :s)"
        values[":s"] = {"S": prefix}
    elif upper is not None:
        condition += f" AND {sort} < :u"
        values[":u"] = {"S": upper}
    kwargs: dict[str, Any] = {"TableName": dynamo.table("main"),
                              "KeyConditionExpression": condition,
                              "ExpressionAttributeValues": values, "Limit": limit,
                              "ScanIndexForward": not newest_first}
    if index:
        kwargs["IndexName"] = "gsi1"
    else:
        kwargs["ConsistentRead"] = True
    if start:
        kwargs["ExclusiveStartKey"] = start
    page = dynamo.client().query(**kwargs)
    return page.get("Items", []), page.get("LastEvaluatedKey")


def query_all(pk: str, *, index: bool, upper: str | None = None,
              cap: int = 1000) -> Iterator[dict[str, Any]]:
    """Every item of a partition up to `cap` (bounded: a worker never loops unbounded)."""
    start: dict[str, Any] | None = None
    seen = 0
    while seen < cap:
        items, start = query_page(pk, index=index, upper=upper, limit=min(100, cap - seen),
                                  start=start)
        seen += len(items)
        yield from items
        if not start:
            return


def s(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return value.get("S") if value else None


def n(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name)
    return int(value["N"]) if value and "N" in value else None
