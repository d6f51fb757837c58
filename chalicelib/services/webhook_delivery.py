"""The delivery worker: outbox events -> per-endpoint deliveries -> signed POSTs.

Guarantees (see README of issue 7 in the final report):
- Fan-out happens once per event: one transaction flips the event out of the outbox index
  (condition: still pending) and creates one delivery per subscribed endpoint.
- At-least-once: a delivery is claimed by moving its due time forward by a lease before the
  POST; a worker that dies mid-send leaves it due again when the lease ends. Every attempt
  carries the same `webhook-id` (the event id) and body, so receivers can dedupe.
- Failures retry with exponential backoff and jitter; after `max_attempts` the delivery is
  dead-lettered (listed per tenant, replayable). Each run is bounded in events, deliveries and
  wall time, so an overlapping scheduled run only finds what the previous one left.
- An endpoint receives only the events emitted after it was registered (wall clock), and the
  events of one loan in the order they happened (lending/event_order.py): a delivery whose
  loan has an earlier event not yet fanned out, or not yet delivered to the same endpoint (it
  is retrying), waits for it (services/webhook_order.py). Within a run, each endpoint's
  deliveries for one loan are attempted one after the other, in that order.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.errors import DomainError
from chalicelib.lending import event_order, events
from chalicelib.lending import webhooks as rules
from chalicelib.services import webhook_order, webhooks
from chalicelib.services.webhook_transport import Outcome, Transport, http_transport
from chalicelib.store import dynamo
from chalicelib.store import outbox as store
from chalicelib.store.uow import UnitOfWork, put

log = logging.getLogger("lending.webhooks")

LEASE = timedelta(seconds=90)  # > transport timeout + bookkeeping; a stuck claim expires
HISTORY = 10  # attempts kept on the delivery item
WAIT = timedelta(seconds=60)  # behind an event not yet fanned out: the next scheduled run


@dataclass
class RunReport:
    events_dispatched: int = 0
    deliveries_created: int = 0
    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    cancelled: int = 0
    skipped: int = 0  # claimed by another worker first
    waiting: int = 0  # an earlier event of the same loan is not delivered yet
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}


def run(now: datetime | None = None, *, transport: Transport | None = None,
        dispatch_limit: int = 500, deliver_limit: int = 100,
        max_attempts: int = rules.MAX_ATTEMPTS, budget_s: float = 20.0, workers: int = 8,
        rng: random.Random | None = None) -> RunReport:
    """One bounded pass: dispatch pending events, then attempt due deliveries. No new attempt
    starts after `budget_s` (default 20 s: the stage's Lambda timeout is 29 s and an attempt
    may take the 5 s transport timeout); what is left stays due for the next minute's run."""
    now = now or datetime.now(UTC)
    report = RunReport()
    dispatch(now, dispatch_limit, report)
    deliver(now, report, transport or http_transport(webhooks.private_urls_allowed()),
            deliver_limit, max_attempts, budget_s, workers, rng or random.Random())
    return report


# ---- fan-out ------------------------------------------------------------------------------

def dispatch(now: datetime, limit: int, report: RunReport) -> None:
    """Fans out every pending event, whatever its time: an event is stamped with its tenant's
    clock, which a sandbox may have set days ahead of the worker's (no upper bound on it)."""
    endpoints: dict[str, list[webhooks.Endpoint]] = {}
    for shard in range(store.SHARDS):
        left = limit - report.events_dispatched
        if left <= 0:
            return
        for event in list(store.query_all(store.outbox_index_pk(shard), index=True, cap=left)):
            tenant = store.s(event, "tenant") or ""
            if tenant not in endpoints:
                endpoints[tenant] = webhooks.list_active(tenant)
            subscribed = [e for e in endpoints[tenant]
                          if events.subscribed(e.event_types, store.s(event, "type") or "")
                          and event_order.registered_in_time(
                              e.registered_at, store.s(event, "emitted_at") or "")]
            if _fan_out(tenant, event, subscribed, now):
                report.events_dispatched += 1
                report.deliveries_created += len(subscribed)


def _fan_out(tenant: str, event: dict[str, Any], subscribed: list[webhooks.Endpoint],
             now: datetime) -> bool:
    event_id = store.s(event, "event_id") or ""
    uow = UnitOfWork(token_seed=f"fanout:{tenant}:{event_id}")
    uow.add({"Update": {
        "TableName": dynamo.table("main"),
        "Key": {"pk": event["pk"], "sk": event["sk"]},
        "UpdateExpression": "SET #s = :d, deliveries = :n, dispatched_at = :at "
                            "REMOVE gsi1pk, gsi1sk",
        "ConditionExpression": "#s = :p",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":d": {"S": "dispatched"}, ":p": {"S": "pending"},
                                      ":n": {"N": str(len(subscribed))},
                                      ":at": {"S": store.iso(now)}},
    }})
    for endpoint in subscribed:
        uow.add(put("main", _new_delivery(tenant, endpoint.webhook_id, event, now),
                    "attribute_not_exists(pk)"))
    for item in webhook_order.fan_out_items(tenant, event, [e.webhook_id for e in subscribed]):
        uow.add(item)
    try:
        uow.commit()
    except DomainError:  # another worker dispatched it first
        return False
    return True


def _new_delivery(tenant: str, webhook_id: str, event: dict[str, Any],
                  now: datetime) -> dict[str, Any]:
    event_id = store.s(event, "event_id") or ""
    return {
        "pk": {"S": store.webhook_pk(tenant, webhook_id)},
        "sk": {"S": store.delivery_sk(event_id)},
        "gsi1pk": {"S": store.due_index_pk(store.shard(event_id))},
        "gsi1sk": {"S": store.due_sk(now, tenant, webhook_id, event_id)},
        "tenant": {"S": tenant}, "webhook_id": {"S": webhook_id}, "event_id": {"S": event_id},
        "event_type": event["type"], "body": event["body"], "status": {"S": "pending"},
        "attempts": {"N": "0"}, "version": {"N": "1"}, "created_at": {"S": store.iso(now)},
        "next_attempt_at": {"S": store.iso(now)}, "history": {"S": "[]"},
        **webhook_order.delivery_fields(event),
    }


# ---- attempts -----------------------------------------------------------------------------

def due(now: datetime, limit: int) -> list[dict[str, Any]]:
    upper = store.iso(now) + "~"
    found: list[dict[str, Any]] = []
    for shard in range(store.SHARDS):
        found += store.query_all(store.due_index_pk(shard), index=True, upper=upper,
                                 cap=limit - len(found))
        if len(found) >= limit:
            break
    return sorted(found, key=lambda i: store.s(i, "gsi1sk") or "")


def deliver(now: datetime, report: RunReport, transport: Transport, limit: int,
            max_attempts: int, budget_s: float, workers: int, rng: random.Random) -> None:
    started = time.monotonic()
    endpoints: dict[tuple[str, str], tuple[webhooks.Endpoint, str] | None] = {}
    lock = threading.Lock()

    def endpoint_of(tenant: str, webhook_id: str) -> tuple[webhooks.Endpoint, str] | None:
        with lock:
            if (tenant, webhook_id) not in endpoints:
                try:
                    e = webhooks.get(tenant, webhook_id)
                    endpoints[(tenant, webhook_id)] = (e, e.secret(tenant))
                except DomainError:
                    endpoints[(tenant, webhook_id)] = None
            return endpoints[(tenant, webhook_id)]

    def attempt(item: dict[str, Any]) -> None:
        if time.monotonic() - started > budget_s:
            return  # out of time: left due for the next run
        try:
            _attempt(item, now, report, transport, endpoint_of, max_attempts, rng)
        except Exception:  # one bad delivery must not stop the others
            log.exception("delivery %s failed unexpectedly", store.s(item, "sk"))

    queues: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for item in due(now, limit):  # one queue per endpoint and loan, attempted in order
        queue = (store.s(item, "tenant") or "", store.s(item, "webhook_id") or "",
                 store.s(item, "order_key") or store.s(item, "sk") or "")
        queues.setdefault(queue, []).append(item)

    def attempt_in_order(items: list[dict[str, Any]]) -> None:
        for item in sorted(items, key=lambda i: store.s(i, "position") or ""):
            attempt(item)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(attempt_in_order, queues.values()))


def _attempt(item: dict[str, Any], now: datetime, report: RunReport, transport: Transport,
             endpoint_of: Any, max_attempts: int, rng: random.Random) -> None:
    tenant = store.s(item, "tenant") or ""
    webhook_id, event_id = store.s(item, "webhook_id") or "", store.s(item, "event_id") or ""
    claimed = _claim(item, now)
    if claimed is None:
        report.add("skipped")
        return
    found = endpoint_of(tenant, webhook_id)
    if found is None:
        _finish(claimed, "cancelled", now, None)
        report.add("cancelled")
        return
    ahead = webhook_order.blocker(claimed)
    if ahead is not None:
        _wait_for(claimed, ahead, now)
        report.add("waiting")
        return
    endpoint, secret = found
    body = (store.s(claimed, "body") or "").encode()
    headers = rules.signed_headers(secret, event_id, int(time.time()), body)
    report.add("attempted")
    outcome = transport(endpoint.url, headers, body)
    attempts = (store.n(claimed, "attempts") or 0) + 1
    claimed["attempts"] = {"N": str(attempts)}
    if outcome.ok:
        _finish(claimed, "delivered", now, outcome)
        report.add("delivered")
    elif attempts >= max_attempts:
        _finish(claimed, "dead", now, outcome)
        report.add("dead")
    else:
        _finish(claimed, "pending", now, outcome,
                now + timedelta(seconds=rules.backoff_seconds(attempts, rng)))
        report.add("retrying")


def _claim(item: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """Moves the due time past a lease, guarded by version: one worker wins each attempt."""
    version = store.n(item, "version") or 0
    tenant = store.s(item, "tenant") or ""
    webhook_id, event_id = store.s(item, "webhook_id") or "", store.s(item, "event_id") or ""
    current = store.get(item["pk"]["S"], item["sk"]["S"])
    if current is None or store.n(current, "version") != version or \
            store.s(current, "status") != "pending":
        return None
    current["version"] = {"N": str(version + 1)}
    current["gsi1sk"] = {"S": store.due_sk(now + LEASE, tenant, webhook_id, event_id)}
    current["next_attempt_at"] = {"S": store.iso(now + LEASE)}
    if not _put_if_version(current, version):
        return None
    return current


def _wait_for(item: dict[str, Any], ahead: dict[str, Any], now: datetime) -> None:
    """Due again when what it waits for is next attempted (an event not yet fanned out: at
    the next run), not counted as an attempt."""
    then = store.s(ahead, "next_attempt_at") if store.s(ahead, "sk") != store.EVENT_SK else None
    until = max(store.parse_iso(then), now) if then else now + WAIT
    version = store.n(item, "version") or 0
    tenant = store.s(item, "tenant") or ""
    webhook_id, event_id = store.s(item, "webhook_id") or "", store.s(item, "event_id") or ""
    item["version"] = {"N": str(version + 1)}
    item["gsi1sk"] = {"S": store.due_sk(until, tenant, webhook_id, event_id)}
    item["next_attempt_at"] = {"S": store.iso(until)}
    if not _put_if_version(item, version):
        log.warning("delivery %s changed while waiting", item["sk"]["S"])


def _finish(item: dict[str, Any], status: str, now: datetime, outcome: Outcome | None,
            next_at: datetime | None = None) -> None:
    version = store.n(item, "version") or 0
    tenant = store.s(item, "tenant") or ""
    webhook_id, event_id = store.s(item, "webhook_id") or "", store.s(item, "event_id") or ""
    item["version"] = {"N": str(version + 1)}
    item["status"] = {"S": status}
    for name in ("gsi1pk", "gsi1sk", "next_attempt_at"):
        item.pop(name, None)
    if outcome is not None:
        history = json.loads(store.s(item, "history") or "[]")
        history.append({"at": store.iso(now), "status": outcome.status,
                        "error": outcome.error, "ms": outcome.ms})
        item["history"] = {"S": json.dumps(history[-HISTORY:], separators=(",", ":"))}
        item["last_attempt_at"] = {"S": store.iso(now)}
        if outcome.status is not None:
            item["last_status"] = {"N": str(outcome.status)}
        item["last_error"] = {"S": outcome.error or ""}
    if status == "delivered":
        item["delivered_at"] = {"S": store.iso(now)}
    elif status == "dead":
        item["dead_at"] = {"S": store.iso(now)}
        item["gsi1pk"] = {"S": store.dead_index_pk(tenant)}
        item["gsi1sk"] = {"S": store.dead_sk(now, webhook_id, event_id)}
    elif status == "pending" and next_at is not None:
        item["next_attempt_at"] = {"S": store.iso(next_at)}
        item["gsi1pk"] = {"S": store.due_index_pk(store.shard(event_id))}
        item["gsi1sk"] = {"S": store.due_sk(next_at, tenant, webhook_id, event_id)}
    if not _put_if_version(item, version):
        log.warning("delivery %s changed while being attempted", item["sk"]["S"])
    elif status != "pending":
        webhook_order.release(item)  # the next event of its loan may go


def _put_if_version(item: dict[str, Any], version: int) -> bool:
    from botocore.exceptions import ClientError

    try:
        dynamo.client().put_item(TableName=dynamo.table("main"), Item=item,
                                 ConditionExpression="#v = :v",
                                 ExpressionAttributeNames={"#v": "version"},
                                 ExpressionAttributeValues={":v": {"N": str(version)}})
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
