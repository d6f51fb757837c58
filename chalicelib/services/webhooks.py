"""Webhook endpoints a tenant registers, their deliveries, and the dead-letter list.

The secret is generated here, shown once, and stored sealed with the tenant's KMS data key
(Standard Webhooks signs with a shared HMAC key, so the platform must be able to read it back;
a hash would not do). Deleting an endpoint takes it out of the active list; its undelivered
deliveries are cancelled by the worker when it next meets them.

The active list is one base-table partition per tenant (store/outbox.py), read with a consistent
Query, so an endpoint is in the fan-out from the moment its creation commits; its count item
guards the cap inside the create transaction, so concurrent creates cannot exceed it.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.config import settings
from chalicelib.errors import DomainError, FieldError, conflict, not_found
from chalicelib.lending import events
from chalicelib.lending import webhooks as rules
from chalicelib.services import personal_data
from chalicelib.store import audit, dynamo
from chalicelib.store import outbox as store
from chalicelib.store.audit import Actor, ChainHead
from chalicelib.store.uow import UnitOfWork, put

MAX_ENDPOINTS = 20  # per tenant: one event fans out to at most this many deliveries (one tx)
LEGACY_CAP = MAX_ENDPOINTS * 2  # the old index-counted cap could be overrun; adopt them all
LOCAL_STAGES = frozenset({"local", "test"})


def private_urls_allowed() -> bool:
    """Private and loopback URLs (and plain http) only on local/test stages (LENDING_STAGE)."""
    return settings().stage in LOCAL_STAGES


@dataclass(frozen=True)
class Endpoint:
    webhook_id: str
    url: str
    event_types: tuple[str, ...]
    description: str
    status: str
    created_at: str
    version: int
    audit_seq: int
    audit_head: str
    sealed_secret: str
    registered_at: str = ""  # wall clock (issue 16): it receives events emitted from then on

    def secret(self, tenant: str) -> str:
        return str(personal_data.unseal(tenant, "webhook", self.webhook_id,
                                        self.sealed_secret)["secret"])


def _endpoint(item: dict[str, Any]) -> Endpoint:
    return Endpoint(
        webhook_id=store.s(item, "webhook_id") or "", url=store.s(item, "url") or "",
        event_types=tuple(json.loads(store.s(item, "event_types") or "[]")),
        description=store.s(item, "description") or "", status=store.s(item, "status") or "",
        created_at=store.s(item, "created_at") or "", version=store.n(item, "version") or 0,
        audit_seq=store.n(item, "audit_seq") or 0, audit_head=store.s(item, "audit_head") or "",
        sealed_secret=store.s(item, "secret_enc") or "",
        registered_at=store.s(item, "registered_at") or "")


def _item(tenant: str, e: Endpoint) -> dict[str, Any]:
    """The endpoint's own item (it no longer goes in an index: the list is its own partition)."""
    return {
        "pk": {"S": store.webhook_pk(tenant, e.webhook_id)}, "sk": {"S": store.WEBHOOK_SK},
        **_fields(tenant, e)}


def _listed(tenant: str, e: Endpoint) -> dict[str, Any]:
    """The endpoint's row in the tenant's list (a copy as registered; deleted with it)."""
    return {"pk": {"S": store.endpoints_pk(tenant)},
            "sk": {"S": store.endpoint_sk(e.created_at, e.webhook_id)}, **_fields(tenant, e)}


def _fields(tenant: str, e: Endpoint) -> dict[str, Any]:
    return {
        "tenant": {"S": tenant}, "webhook_id": {"S": e.webhook_id}, "url": {"S": e.url},
        "event_types": {"S": json.dumps(list(e.event_types))},
        "description": {"S": e.description}, "status": {"S": e.status},
        "created_at": {"S": e.created_at}, "version": {"N": str(e.version)},
        "audit_seq": {"N": str(e.audit_seq)}, "audit_head": {"S": e.audit_head},
        "secret_enc": {"S": e.sealed_secret},
        **({"registered_at": {"S": e.registered_at}} if e.registered_at else {}),
    }


def _count(tenant: str, delta: int, condition: str, bound: int) -> dict[str, Any]:
    """Moves the tenant's endpoint count by `delta` if `#n <condition> :b` holds."""
    return {"Update": {
        "TableName": dynamo.table("main"),
        "Key": {"pk": {"S": store.endpoints_pk(tenant)}, "sk": {"S": store.COUNT_SK}},
        "UpdateExpression": "ADD #n :d", "ConditionExpression": f"#n {condition} :b",
        "ExpressionAttributeNames": {"#n": "n"},
        "ExpressionAttributeValues": {":d": {"N": str(delta)}, ":b": {"N": str(bound)}},
    }}


def _head_ref(tenant: str, webhook_id: str) -> dict[str, str]:
    return {"table": "main", "pk": store.webhook_pk(tenant, webhook_id), "sk": store.WEBHOOK_SK}


def check_url(url: str) -> None:
    problem = rules.url_problem(url, allow_private=private_urls_allowed())
    if problem:
        raise DomainError("validation-error", "The webhook URL is refused.",
                          [FieldError("/body/url", problem, "url_refused")])


def create(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, url: str,
           event_types: list[str], description: str) -> tuple[Endpoint, str]:
    """Returns the endpoint and its secret (the only time the secret is returned)."""
    check_url(url)
    if len(list_active(tenant)) >= MAX_ENDPOINTS:
        raise _cap()
    webhook_id = f"wh_{secrets.token_hex(8)}"
    secret = rules.new_secret()
    sealed = personal_data.seal(tenant, "webhook", webhook_id, {"secret": secret})
    types = (events.ALL,) if events.ALL in event_types else tuple(sorted(set(event_types)))
    head = audit.append(uow, tenant=tenant, aggregate_type="webhook", aggregate_id=webhook_id,
                        head=None, action="webhook.created", actor=actor, at=now,
                        data={"url_host": _host(url), "event_types": list(types)},
                        head_ref=_head_ref(tenant, webhook_id))
    endpoint = Endpoint(webhook_id, url, types, description, "active", store.iso(now), 1,
                        head.seq, head.hash, sealed, store.iso(datetime.now(UTC)))
    uow.add(put("main", _item(tenant, endpoint), "attribute_not_exists(pk)"),
            on_fail=lambda _r: conflict("Webhook id collision; retry."))
    uow.add(put("main", _listed(tenant, endpoint), "attribute_not_exists(pk)"),
            on_fail=lambda _r: conflict("Webhook id collision; retry."))
    uow.add(_count(tenant, 1, "<", MAX_ENDPOINTS), on_fail=lambda _r: _cap())
    return endpoint, secret


def _cap() -> DomainError:
    return conflict(f"A tenant may register at most {MAX_ENDPOINTS} webhook endpoints.",
                    limit=MAX_ENDPOINTS)


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or ""


def get(tenant: str, webhook_id: str, *, include_deleted: bool = False) -> Endpoint:
    item = store.get(store.webhook_pk(tenant, webhook_id), store.WEBHOOK_SK)
    if item is None or (store.s(item, "status") != "active" and not include_deleted):
        raise not_found("Webhook")
    return _endpoint(item)


def list_active(tenant: str) -> list[Endpoint]:
    """Every active endpoint, oldest first, on a consistent Query of the tenant's list (at
    most MAX_ENDPOINTS, more only if a legacy tenant had more when adopted)."""
    return [_endpoint(i) for i in _list_items(tenant)
            if (store.s(i, "sk") or "").startswith(store.ENDPOINT_PREFIX)]


def page(tenant: str, limit: int, start: dict[str, Any] | None,
         ) -> tuple[list[Endpoint], dict[str, Any] | None]:
    """One page of the active endpoints, oldest first, read consistently."""
    _list_items(tenant)  # adopts a legacy tenant's endpoints first
    items, last = store.query_page(store.endpoints_pk(tenant), index=False,
                                   prefix=store.ENDPOINT_PREFIX, limit=limit, start=start)
    return [_endpoint(i) for i in items], last


def _list_items(tenant: str) -> list[dict[str, Any]]:
    """The tenant's list partition (count item included); adopted first if it has none."""
    for _ in range(2):
        items = list(store.query_all(store.endpoints_pk(tenant), index=False,
                                     cap=LEGACY_CAP + 1))
        if any(store.s(i, "sk") == store.COUNT_SK for i in items):
            return items
        _adopt_legacy(tenant)
    raise conflict("The webhook list is being set up concurrently; retry.")


def _adopt_legacy(tenant: str) -> None:
    """Creates the tenant's list from the endpoints registered before it existed (the old
    index names them; each is re-read consistently, so one deleted meanwhile is left out).
    Once: the count item's put is conditional, a concurrent adoption makes this one a no-op.
    An endpoint registered by the old code within the index's lag of the deploy would be
    missed; none is registered after it, the new code writes the list."""
    uow = UnitOfWork()
    active = []
    for row in store.query_all(store.webhooks_index_pk(tenant), index=True, cap=LEGACY_CAP):
        item = store.get(row["pk"]["S"], store.WEBHOOK_SK)
        if item is not None and store.s(item, "status") == "active":
            active.append(_endpoint(item))
    uow.add(put("main", {"pk": {"S": store.endpoints_pk(tenant)}, "sk": {"S": store.COUNT_SK},
                         "n": {"N": str(len(active))}}, "attribute_not_exists(pk)"))
    for e in active:
        uow.add(put("main", _listed(tenant, e), "attribute_not_exists(pk)"))
    try:
        uow.commit()
    except DomainError:
        return  # adopted concurrently


def delete(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, webhook_id: str) -> None:
    e = get(tenant, webhook_id)
    _list_items(tenant)  # a legacy endpoint is listed (and counted) before it is unlisted
    head = audit.append(uow, tenant=tenant, aggregate_type="webhook", aggregate_id=webhook_id,
                        head=ChainHead(e.audit_seq, e.audit_head), action="webhook.deleted",
                        actor=actor, at=now, data={}, head_ref=_head_ref(tenant, webhook_id))
    gone = Endpoint(e.webhook_id, e.url, e.event_types, e.description, "deleted", e.created_at,
                    e.version + 1, head.seq, head.hash, e.sealed_secret, e.registered_at)
    uow.add(put("main", _item(tenant, gone), "#v = :v", names={"#v": "version"},
                values={":v": {"N": str(e.version)}}),
            on_fail=lambda _r: conflict("The webhook changed concurrently; retry."))
    _unlist(uow, tenant, e)


def _unlist(uow: UnitOfWork, tenant: str, e: Endpoint) -> None:
    """Takes the endpoint off the tenant's list and its count, in the delete transaction."""
    row = {"pk": {"S": store.endpoints_pk(tenant)},
           "sk": {"S": store.endpoint_sk(e.created_at, e.webhook_id)}}
    changed = conflict("The webhook changed concurrently; retry.")
    if store.get(row["pk"]["S"], row["sk"]["S"]) is None:
        # a legacy endpoint its adoption missed (the old index lagged): never listed or counted
        uow.add({"ConditionCheck": {"TableName": dynamo.table("main"), "Key": row,
                                    "ConditionExpression": "attribute_not_exists(pk)"}},
                on_fail=lambda _r: changed)
        return
    uow.add({"Delete": {"TableName": dynamo.table("main"), "Key": row,
                        "ConditionExpression": "attribute_exists(pk)"}},
            on_fail=lambda _r: changed)
    uow.add(_count(tenant, -1, ">", 0), on_fail=lambda _r: changed)


# ---- deliveries ----------------------------------------------------------------------------

def delivery_id(webhook_id: str, event_id: str) -> str:
    return f"{webhook_id}.{event_id}"


def split_delivery_id(value: str) -> tuple[str, str]:
    webhook_id, _, event_id = value.partition(".")
    if not webhook_id.startswith("wh_") or not event_id.startswith("evt_"):
        raise not_found("Delivery")
    return webhook_id, event_id


def deliveries(tenant: str, webhook_id: str, limit: int, start: dict[str, Any] | None,
               ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    get(tenant, webhook_id, include_deleted=True)
    return store.query_page(store.webhook_pk(tenant, webhook_id), index=False,
                            prefix=store.DELIVERY_PREFIX, limit=limit, start=start,
                            newest_first=True)


def dead_letters(tenant: str, limit: int, start: dict[str, Any] | None,
                 ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    return store.query_page(store.dead_index_pk(tenant), index=True, limit=limit, start=start,
                            newest_first=True)


def replay(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime,
           dead_letter_id: str) -> dict[str, Any]:
    """Puts a dead delivery back in the queue, due now, with a fresh attempt budget. The
    webhook-id stays the event id, so a receiver that did get an earlier attempt can dedupe."""
    webhook_id, event_id = split_delivery_id(dead_letter_id)
    get(tenant, webhook_id)  # a deleted endpoint's dead letters are not replayed
    item = store.get(store.webhook_pk(tenant, webhook_id), store.delivery_sk(event_id))
    if item is None:
        raise not_found("Dead letter")
    if store.s(item, "status") != "dead":
        raise conflict(f"Only dead deliveries are replayed; this one is "
                       f"{store.s(item, 'status')}.", status=store.s(item, "status"))
    version = store.n(item, "version") or 0
    item.update({
        "status": {"S": "pending"}, "attempts": {"N": "0"}, "version": {"N": str(version + 1)},
        "next_attempt_at": {"S": store.iso(now)},
        "gsi1pk": {"S": store.due_index_pk(store.shard(event_id))},
        "gsi1sk": {"S": store.due_sk(now, tenant, webhook_id, event_id)},
        "replays": {"N": str((store.n(item, "replays") or 0) + 1)},
    })
    item.pop("dead_at", None)
    uow.add(put("main", item, "#v = :v", names={"#v": "version"},
                values={":v": {"N": str(version)}}),
            on_fail=lambda _r: conflict("The delivery changed concurrently; retry."))
    aggregate = delivery_id(webhook_id, event_id)
    audit.append(uow, tenant=tenant, aggregate_type="webhook_delivery", aggregate_id=aggregate,
                 head=audit.latest_head(tenant, "webhook_delivery", aggregate),
                 action="webhook.dead_letter_replayed", actor=actor, at=now,
                 data={"webhook_id": webhook_id, "event_id": event_id})
    return item
