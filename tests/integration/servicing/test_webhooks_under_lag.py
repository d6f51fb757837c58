"""Webhook endpoints under a lagging index (tests/lag.py): the tenant's endpoint list is one
base-table partition read consistently, so an endpoint registered a moment ago is in the next
fan-out and the listing, and the per-tenant cap holds, also for two creates at once (the count
item's condition in the create transaction). Endpoints registered before the list existed are
adopted from the old index."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.errors import DomainError
from chalicelib.services import webhooks
from chalicelib.store import dynamo
from chalicelib.store import outbox as store
from chalicelib.store.audit import Actor
from chalicelib.store.uow import UnitOfWork
from tests.integration.servicing.test_webhooks import T0, emit, register, run
from tests.lag import lag, settle

LAG_MS = 2000
LAG = {"index_ms": LAG_MS, "base_ms": LAG_MS}
ACTOR = Actor("key_test", "admin", "req_test")
URL = "https://hooks.example.com/in"


def listed(api, key):
    r = api.call("GET", "/v1/webhooks?limit=100", key=key)
    assert r.status == 200, r.json
    return [w["id"] for w in r.json["data"]]


def count_item(tenant):
    item = store.get(store.endpoints_pk(tenant), store.COUNT_SK)
    return None if item is None else store.n(item, "n")


def test_an_endpoint_registered_just_before_a_dispatch_receives_the_event(api, keys, receiver):
    settle(LAG_MS)
    with lag(**LAG):
        hook = register(api, keys["acme"]["admin"], receiver.url("/new"))
        event_id = emit("acme")  # emitted after the endpoint exists (issue 16: it must be)
        # The outbox index has caught up with the event; non-consistent reads of the endpoint
        # list would still miss the endpoint registered a moment ago.
        with lag(base_ms=LAG_MS):
            report = run(T0, settled=False)
        assert (report.events_dispatched, report.deliveries_created) == (1, 1)
        assert report.delivered == 1  # the due index is caught up too
        assert listed(api, keys["acme"]["operator"]) == [hook["id"]]
        [delivery] = webhooks.deliveries("acme", hook["id"], 10, None)[0]
    [got] = receiver.requests
    assert store.s(delivery, "event_id") == event_id
    assert got.path == "/new" and got.headers["webhook-id"] == event_id


def test_the_cap_holds_on_endpoints_registered_a_moment_ago(api, keys):
    admin = keys["acme"]["admin"]
    with lag(**LAG):
        ids = [register(api, admin, f"{URL}/{n}")["id"] for n in range(webhooks.MAX_ENDPOINTS)]
        over = api.call("POST", "/v1/webhooks", {"url": URL, "event_types": ["loan.closed"]},
                        key=admin)
        assert over.status == 409 and over.json["limit"] == webhooks.MAX_ENDPOINTS, over.json
        assert listed(api, admin) == ids and count_item("acme") == webhooks.MAX_ENDPOINTS
        assert api.call("DELETE", f"/v1/webhooks/{ids[0]}", key=admin).status == 204
        assert count_item("acme") == webhooks.MAX_ENDPOINTS - 1
        again = register(api, admin, URL)  # the freed place can be taken again
        assert listed(api, admin) == [*ids[1:], again["id"]]
        assert api.call("POST", "/v1/webhooks", {"url": URL, "event_types": ["loan.closed"]},
                        key=admin).status == 409
    assert count_item("acme") == webhooks.MAX_ENDPOINTS


def test_two_creates_at_once_cannot_pass_the_cap(api, keys):
    admin = keys["acme"]["admin"]
    now = datetime.now(UTC)
    with lag(**LAG):
        for n in range(webhooks.MAX_ENDPOINTS - 1):
            register(api, admin, f"{URL}/{n}")
        first, second = UnitOfWork(), UnitOfWork()
        for uow in (first, second):  # both read 19 endpoints before either commits
            webhooks.create(uow, "acme", ACTOR, now, URL, ["loan.closed"], "")
        first.commit()
        with pytest.raises(DomainError) as refused:
            second.commit()
        assert refused.value.kind == "conflict" and "at most" in refused.value.detail
        assert len(listed(api, admin)) == webhooks.MAX_ENDPOINTS
    assert count_item("acme") == webhooks.MAX_ENDPOINTS


def test_an_endpoint_registered_before_the_list_existed_is_adopted(api, keys, receiver):
    admin = keys["acme"]["admin"]
    old = register(api, admin, receiver.url("/old"))
    gone = register(api, admin, receiver.url("/gone"))
    _make_legacy("acme", [old["id"], gone["id"]])
    settle()  # registered long before the deploy: the old index has them
    assert api.call("DELETE", f"/v1/webhooks/{gone['id']}", key=admin).status == 204
    event_id = emit("acme")
    settle(LAG_MS)
    with lag(**LAG):
        assert listed(api, admin) == [old["id"]] and count_item("acme") == 1
        assert run(T0, settled=False).deliveries_created == 1
        new = register(api, admin, receiver.url("/new"))
        assert listed(api, admin) == [old["id"], new["id"]] and count_item("acme") == 2
        assert api.call("DELETE", f"/v1/webhooks/{old['id']}", key=admin).status == 204
        assert listed(api, admin) == [new["id"]] and count_item("acme") == 1
    settle()
    assert run(T0).cancelled == 1  # deleted before its attempt
    [delivery] = webhooks.deliveries("acme", old["id"], 10, None)[0]
    assert store.s(delivery, "event_id") == event_id and store.s(delivery, "status") == "cancelled"
    assert list(store.query_all(store.webhooks_index_pk("acme"), index=True)) == []


def _make_legacy(tenant, webhook_ids):
    """The pre-list layout: no list partition, each active endpoint in the gsi1 index."""
    client, table = dynamo.client(), dynamo.table("main")
    for item in store.query_all(store.endpoints_pk(tenant), index=False):
        client.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    for webhook_id in webhook_ids:
        item = store.get(store.webhook_pk(tenant, webhook_id), store.WEBHOOK_SK)
        item["gsi1pk"] = {"S": store.webhooks_index_pk(tenant)}
        item["gsi1sk"] = {"S": f"{store.s(item, 'created_at')}#{webhook_id}"}
        client.put_item(TableName=table, Item=item)


def test_a_legacy_endpoint_the_adoption_missed_can_still_be_deleted(api, keys):
    """Registered by the old code within the index's lag of the first read: not adopted (so
    not counted); deleting it still works and leaves the count alone."""
    admin = keys["acme"]["admin"]
    hook = register(api, admin, URL)
    with lag(**LAG):
        _make_legacy("acme", [hook["id"]])
        assert listed(api, admin) == [] and count_item("acme") == 0
        assert api.call("DELETE", f"/v1/webhooks/{hook['id']}", key=admin).status == 204
        assert count_item("acme") == 0
        assert api.call("DELETE", f"/v1/webhooks/{hook['id']}", key=admin).status == 404
