"""Issue 16: subscribing to every event type (the list or `*`), an endpoint receives only the
events emitted after it was registered, and the events of one loan reach an endpoint in the
order they happened, also when an earlier one is retrying or not yet fanned out, while another
loan's events are not held up."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from chalicelib.lending.events import EVENT_TYPES
from chalicelib.services import webhook_delivery
from chalicelib.services import webhooks as endpoints
from chalicelib.services.webhook_transport import http_transport
from chalicelib.store import outbox as store
from tests.integration.servicing.test_webhooks import deliveries, emit, register, run
from tests.lag import settle


def _ids(requests):
    return [r.headers["webhook-id"] for r in requests]


def _fail_first_attempt_of(receiver, event_id):
    """The receiver answers 503 to the first attempt of `event_id`, 204 to everything else."""
    failed: list[str] = []
    original = receiver.answer

    def answer(received):
        status = original(received)
        if received.headers.get("webhook-id") == event_id and not failed:
            failed.append(event_id)
            return 503
        return status

    receiver.answer = answer


def test_an_endpoint_can_subscribe_to_every_type_by_list_or_by_star(api, keys, receiver):
    admin = keys["acme"]["admin"]
    every = register(api, admin, receiver.url("/every"), types=EVENT_TYPES)
    assert sorted(every["event_types"]) == sorted(EVENT_TYPES)
    star = register(api, admin, receiver.url("/star"), types=("*",))
    assert star["event_types"] == ["*"]
    both = register(api, admin, receiver.url("/both"), types=("loan.closed", "*"))
    assert both["event_types"] == ["*"]  # `*` already says every type
    bad = api.call("POST", "/v1/webhooks", {"url": receiver.url(), "event_types": ["loan.*"]},
                   key=admin)
    assert bad.status == 422, bad.json
    for n, event_type in enumerate(EVENT_TYPES):
        emit("acme", event_type, {"loan_id": f"loan_{n}"}, now=datetime.now(UTC))
    report = run(datetime.now(UTC) + timedelta(minutes=1))
    assert report.delivered == 3 * len(EVENT_TYPES), report
    for path in ("/every", "/star", "/both"):
        got = [json.loads(r.body)["type"] for r in receiver.requests if r.path == path]
        assert sorted(got) == sorted(EVENT_TYPES), path


def test_a_new_endpoint_gets_only_the_events_emitted_after_it_was_registered(
        api, keys, receiver):
    admin = keys["acme"]["admin"]
    old = register(api, admin, receiver.url("/old"))
    before = emit("acme", "loan.disbursed", {"loan_id": "loan_1"}, now=datetime.now(UTC))
    new = register(api, admin, receiver.url("/new"))  # `before` is not fanned out yet
    earlier = emit("acme", "loan.disbursed", {"loan_id": "loan_2"},
                   now=datetime.now(UTC) - timedelta(days=1))  # business time plays no part
    report = run(datetime.now(UTC) + timedelta(minutes=1))
    assert report.delivered >= 1, report
    got = {path: sorted(r.headers["webhook-id"] for r in receiver.requests if r.path == path)
           for path in ("/old", "/new")}
    assert got == {"/old": sorted([before, earlier]), "/new": [earlier]}
    assert [d["event_id"] for d in deliveries(api, admin, new["id"])] == [earlier]
    assert len(deliveries(api, admin, old["id"])) == 2


def test_an_event_emitted_before_registration_is_not_delivered_even_if_dispatched_later(
        api, keys, receiver):
    admin = keys["acme"]["admin"]
    event_id = emit("acme", "loan.closed", {"loan_id": "loan_1"}, now=datetime.now(UTC))
    hook = register(api, admin, receiver.url("/late"), types=("*",))
    report = run(datetime.now(UTC) + timedelta(minutes=1))  # its first fan-out is now
    assert (report.events_dispatched, report.deliveries_created) == (1, 0), report
    assert receiver.requests == [] and deliveries(api, admin, hook["id"]) == []
    assert store.s(store.get(store.event_pk("acme", event_id), store.EVENT_SK),
                   "status") == "dispatched"


def test_a_loans_events_wait_for_an_earlier_one_that_is_retrying(api, keys, receiver):
    admin = keys["acme"]["admin"]
    hook = register(api, admin, receiver.url(), types=("*",))
    t0 = datetime.now(UTC)
    first = emit("acme", "repayment.received", {"loan_id": "loan_1", "n": 1}, now=t0)
    second = emit("acme", "repayment.received", {"loan_id": "loan_1", "n": 2}, now=t0)
    third = emit("acme", "loan.closed", {"loan_id": "loan_1", "n": 3}, now=t0)
    other = emit("acme", "repayment.received", {"loan_id": "loan_2"}, now=t0)
    _fail_first_attempt_of(receiver, first)

    report = run(t0 + timedelta(seconds=1))
    assert (report.retrying, report.waiting, report.delivered) == (1, 2, 1), report
    assert sorted(_ids(receiver.requests)) == sorted([first, other])  # loan_2 not held up
    waiting = {d["event_id"]: d for d in deliveries(api, admin, hook["id"])}
    assert waiting[second]["attempts"] == 0 and waiting[second]["status"] == "pending"
    assert waiting[second]["next_attempt_at"] == waiting[first]["next_attempt_at"]

    report = run(t0 + timedelta(hours=1))  # the retry is due: then the rest, in order
    assert (report.delivered, report.waiting) == (3, 0), report
    loan_1 = [i for i in _ids(receiver.requests) if i != other]
    assert loan_1 == [first, first, second, third]
    assert all(d["status"] == "delivered" for d in deliveries(api, admin, hook["id"]))
    assert _markers("acme", "loan:loan_1") == []


def test_a_delivery_waits_for_an_earlier_event_of_its_loan_not_yet_fanned_out(
        api, keys, receiver):
    admin = keys["acme"]["admin"]
    register(api, admin, receiver.url(), types=("*",))
    t0 = datetime.now(UTC)
    first = emit("acme", "contract.signed", {"loan_id": "loan_1"}, now=t0)
    second = emit("acme", "loan.disbursed", {"loan_id": "loan_1"}, now=t0)
    settle()
    later = store.get(store.event_pk("acme", second), store.EVENT_SK)
    active = endpoints.list_active("acme")
    assert webhook_delivery._fan_out("acme", later, active, t0)  # as if its shard came first
    report = webhook_delivery.RunReport()
    settle()
    webhook_delivery.deliver(t0 + timedelta(seconds=1), report, http_transport(True), 100, 8,
                             20.0, 2, random.Random(1))
    assert (report.waiting, report.delivered) == (1, 0), report
    assert receiver.requests == []
    report = run(t0 + timedelta(minutes=2))  # the earlier event's fan-out, then both in order
    assert report.delivered == 2, report
    assert _ids(receiver.requests) == [first, second]


def _markers(tenant, order_key):
    return list(store.query_all(store.order_pk(tenant, order_key), index=False))


def test_a_queue_longer_than_one_read_holds_the_delivery_until_it_is_read_to_its_end(
        api, keys, receiver, monkeypatch):
    """More markers ahead than one decision reads (MAX_SCAN): the delivery waits a run instead
    of going ahead of markers nobody read; the stale ones it read are dropped meanwhile."""
    from chalicelib.services import webhook_order
    from chalicelib.store import dynamo
    from chalicelib.store.uow import UnitOfWork, put

    monkeypatch.setattr(webhook_order, "MAX_SCAN", 3)
    register(api, keys["acme"]["admin"], receiver.url("/long"))
    uow = UnitOfWork()  # four markers of events that are gone (their removal was lost)
    for n in range(4):
        uow.add(put("main", {"pk": {"S": store.order_pk("acme", "loan:loan_long")},
                             "sk": {"S": store.event_marker_sk(f"2000-01-01T00:00:0{n}Z#000#x")},
                             "event_id": {"S": f"evt_gone_{n}"}}))
    uow.commit()
    now = datetime.now(UTC)
    emit("acme", data={"loan_id": "loan_long", "amount": "100.00"}, now=now)
    first = run(now + timedelta(minutes=1))
    assert (first.delivered, receiver.requests) == (0, []), first
    later = run(now + timedelta(minutes=3))
    assert later.delivered == 1, later
    left = dynamo.client().query(
        TableName=dynamo.table("main"), KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": store.order_pk("acme", "loan:loan_long")}},
        ConsistentRead=True)["Items"]
    assert left == [], left
