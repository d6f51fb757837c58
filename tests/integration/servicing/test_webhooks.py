"""Outbox and partner webhooks: atomic emit, fan-out, Standard Webhooks signatures verified by
the reference library, retries with backoff, dead letters and replay, isolation and roles."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from chalicelib.errors import DomainError
from chalicelib.lending import webhooks as rules
from chalicelib.services import outbox, webhook_delivery, webhooks
from chalicelib.services.webhook_transport import http_transport
from chalicelib.store import dynamo
from chalicelib.store import outbox as store
from chalicelib.store.uow import UnitOfWork, put
from tests.lag import settle

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def register(api, key, url, types=("loan.disbursed",), idem=None):
    r = api.call("POST", "/v1/webhooks", {"url": url, "event_types": list(types)}, key=key,
                 idem=idem)
    assert r.status == 201, r.json
    return r.json


def emit(tenant, event_type="loan.disbursed", data=None, now=T0):
    uow = UnitOfWork()
    event_id = outbox.emit(uow, tenant, event_type, data or {"loan_id": "loan_1",
                                                             "amount": "100.00"}, now=now)
    uow.commit()
    return event_id


def deliveries(api, key, webhook_id):
    r = api.call("GET", f"/v1/webhooks/{webhook_id}/deliveries", key=key)
    assert r.status == 200, r.json
    return r.json["data"]


def run(now, *, max_attempts=rules.MAX_ATTEMPTS, transport=None, settled=True):
    """One worker run, as webhook_delivery.run, waiting out a whole-run lag (tests/lag.py)
    before each phase: what the test (or the fan-out) just wrote is in the worker's indexes by
    the next minute's run on DynamoDB, the test does not wait a minute. `settled=False` inside
    a test's own `lag()` block, which is about what the worker does not see yet."""
    report = webhook_delivery.RunReport()
    wait = settle if settled else (lambda: None)
    wait()
    webhook_delivery.dispatch(now, 500, report)
    wait()
    transport = transport or http_transport(webhooks.private_urls_allowed())
    webhook_delivery.deliver(now, report, transport, 100, max_attempts, 20.0, 2,
                             random.Random(7))
    return report


def test_secret_is_shown_once_and_listed_endpoints_never_show_it(api, keys):
    admin = keys["acme"]["admin"]
    body = {"url": "https://hooks.example.com/in", "event_types": ["loan.closed"]}
    first = api.call("POST", "/v1/webhooks", body, key=admin, idem="wh-1")
    assert first.status == 201 and first.json["secret"].startswith("whsec_")
    assert len(rules.secret_key(first.json["secret"])) == 32
    replay = api.call("POST", "/v1/webhooks", body, key=admin, idem="wh-1")
    assert replay.headers["idempotent-replayed"] == "true" and replay.json["secret"] is None
    listed = api.call("GET", "/v1/webhooks", key=keys["acme"]["operator"]).json["data"]
    assert [w["id"] for w in listed] == [first.json["id"]] and "secret" not in listed[0]
    item = store.get(store.webhook_pk("acme", first.json["id"]), store.WEBHOOK_SK)
    assert first.json["secret"] not in json.dumps(item)  # stored sealed, never in clear


def test_outbox_event_commits_only_with_its_change(api, keys):
    failing = UnitOfWork()
    outbox.emit(failing, "acme", "loan.closed", {"loan_id": "loan_9"}, now=T0)
    failing.add(put("main", {"pk": {"S": "acme#loan#loan_9"}, "sk": {"S": "loan"}},
                    "attribute_exists(pk)"))  # the "change": fails its condition
    with pytest.raises(DomainError):
        failing.commit()
    assert _events("acme") == []
    ok = UnitOfWork()
    event_id = outbox.emit(ok, "acme", "loan.closed", {"loan_id": "loan_9"}, now=T0)
    ok.add(put("main", {"pk": {"S": "acme#loan#loan_9"}, "sk": {"S": "loan"}},
               "attribute_not_exists(pk)"))
    ok.commit()
    assert _events("acme") == [event_id]


def _events(tenant):
    settle()
    found = []
    for shard in range(store.SHARDS):
        found += [store.s(i, "event_id") for i in store.query_all(
            store.outbox_index_pk(shard), index=True) if store.s(i, "tenant") == tenant]
    return found


def test_payloads_refuse_unknown_types_and_personal_data(api, keys):
    with pytest.raises(DomainError) as caught:
        outbox.emit(UnitOfWork(), "acme", "loan.exploded", {})
    assert caught.value.kind == "validation-error"
    with pytest.raises(DomainError) as caught:
        outbox.emit(UnitOfWork(), "acme", "loan.closed", {"loan": {"phone": "138..."}})
    assert caught.value.errors[0].pointer == "/data/loan/phone"


def test_delivery_is_signed_per_standard_webhooks_and_fans_out_by_subscription(
        api, keys, receiver):
    admin = keys["acme"]["admin"]
    disbursed = register(api, admin, receiver.url("/a"), ("loan.disbursed", "loan.closed"))
    closed_only = register(api, admin, receiver.url("/b"), ("loan.closed",))
    beta = register(api, keys["beta"]["admin"], receiver.url("/beta"), ("loan.disbursed",))
    event_id = emit("acme", "loan.disbursed", {"loan_id": "loan_1", "amount": "100.00"})

    report = run(T0)
    assert (report.events_dispatched, report.deliveries_created, report.delivered) == (1, 1, 1)
    [got] = receiver.requests
    assert got.path == "/a" and got.headers["webhook-id"] == event_id
    payload = Webhook(disbursed["secret"]).verify(got.body, got.headers)  # reference library
    assert payload == {"id": event_id, "type": "loan.disbursed",
                       "timestamp": "2026-03-02T09:00:00Z",
                       "data": {"loan_id": "loan_1", "amount": "100.00"}}
    with pytest.raises(WebhookVerificationError):
        Webhook(closed_only["secret"]).verify(got.body, got.headers)  # another endpoint's key
    assert deliveries(api, admin, closed_only["id"]) == []
    assert deliveries(api, keys["beta"]["admin"], beta["id"]) == []  # other tenant: nothing
    [d] = deliveries(api, admin, disbursed["id"])
    assert d["status"] == "delivered" and d["attempts"] == 1 and d["history"][0]["status"] == 204
    assert run(T0 + timedelta(minutes=1)).attempted == 0  # nothing left, nothing resent


def test_retries_back_off_then_dead_letter_then_replay_with_the_same_webhook_id(
        api, keys, receiver):
    admin = keys["acme"]["admin"]
    hook = register(api, admin, receiver.url())
    event_id = emit("acme")
    receiver.always_fail = True
    now, attempts = T0, 3
    for attempt in range(1, attempts + 1):
        report = run(now, max_attempts=attempts)
        assert report.attempted == 1, (attempt, report)
        assert run(now, max_attempts=attempts).attempted == 0  # not due again before backoff
        [d] = deliveries(api, admin, hook["id"])
        assert d["attempts"] == attempt and d["last_status"] == 500
        if attempt < attempts:
            assert d["status"] == "pending"
            due = datetime.fromisoformat(d["next_attempt_at"].replace("Z", "+00:00"))
            ceiling = rules.BACKOFF_BASE_S * 2 ** (attempt - 1)
            assert ceiling / 2 <= (due - now).total_seconds() <= ceiling
            assert run(due - timedelta(seconds=1), max_attempts=attempts).attempted == 0
            now = due
        else:
            assert d["status"] == "dead" and d["dead_at"]
    settle()
    dead = api.call("GET", "/v1/webhooks/dead-letters", key=keys["acme"]["operator"]).json
    assert [x["event_id"] for x in dead["data"]] == [event_id]

    receiver.always_fail = False
    r = api.call("POST", f"/v1/webhooks/dead-letters/{dead['data'][0]['id']}/replay",
                 key=keys["acme"]["operator"])
    assert r.status == 200 and r.json["status"] == "pending" and r.json["replays"] == 1
    again = api.call("POST", f"/v1/webhooks/dead-letters/{dead['data'][0]['id']}/replay",
                     key=keys["acme"]["operator"])
    assert again.status == 409  # no longer dead
    replayed_at = datetime.now(UTC)  # the replay is due at the request's own time
    assert run(replayed_at + timedelta(seconds=1), max_attempts=attempts).delivered == 1
    ids = {got.headers["webhook-id"] for got in receiver.requests}
    assert ids == {event_id} and len(receiver.requests) == attempts + 1
    for got in receiver.requests:  # every attempt verifies; timestamps are per attempt
        Webhook(hook["secret"]).verify(got.body, got.headers)
    settle()
    assert api.call("GET", "/v1/webhooks/dead-letters", key=admin).json["data"] == []


def test_a_receiver_sees_the_same_webhook_id_when_a_retry_follows_a_failure(
        api, keys, receiver):
    hook = register(api, keys["acme"]["admin"], receiver.url())
    event_id = emit("acme")
    receiver.fail_next = 1
    assert run(T0).retrying == 1
    assert run(T0 + timedelta(hours=7)).delivered == 1
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == event_id
    assert first.body == second.body
    assert deliveries(api, keys["acme"]["admin"], hook["id"])[0]["attempts"] == 2


def test_an_unreachable_endpoint_counts_as_a_failed_attempt(api, keys, receiver):
    hook = register(api, keys["acme"]["admin"], "http://127.0.0.1:9/closed-port")
    emit("acme")
    assert run(T0).retrying == 1
    [d] = deliveries(api, keys["acme"]["admin"], hook["id"])
    assert d["last_status"] is None and d["last_error"]


def test_a_claimed_delivery_is_attempted_by_one_worker_and_fan_out_happens_once(
        api, keys, receiver):
    register(api, keys["acme"]["admin"], receiver.url())
    emit("acme")
    report = webhook_delivery.RunReport()
    settle()
    webhook_delivery.dispatch(T0, 100, report)
    webhook_delivery.dispatch(T0, 100, report)  # an overlapping run finds nothing to fan out
    settle()
    assert (report.events_dispatched, report.deliveries_created) == (1, 1)
    [item] = webhook_delivery.due(T0, 10)
    assert webhook_delivery._claim(item, T0) is not None
    assert webhook_delivery._claim(item, T0) is None  # stale version: the other worker lost
    assert run(T0).attempted == 0  # leased: not due until the lease ends
    assert run(T0 + webhook_delivery.LEASE + timedelta(seconds=1)).delivered == 1


def test_deleting_an_endpoint_cancels_its_queued_deliveries(api, keys, receiver):
    admin = keys["acme"]["admin"]
    hook = register(api, admin, receiver.url())
    emit("acme")
    settle()
    webhook_delivery.dispatch(T0, 100, webhook_delivery.RunReport())
    assert api.call("DELETE", f"/v1/webhooks/{hook['id']}", key=admin).status == 204
    assert run(T0).cancelled == 1 and receiver.requests == []
    assert api.call("GET", "/v1/webhooks", key=admin).json["data"] == []
    assert api.call("DELETE", f"/v1/webhooks/{hook['id']}", key=admin).status == 404


def test_url_rules_refuse_private_addresses_outside_local_and_test(api, keys, monkeypatch):
    admin = keys["acme"]["admin"]
    bad = api.call("POST", "/v1/webhooks", {"url": "ftp://x.example.com/h",
                                            "event_types": ["loan.closed"]}, key=admin)
    assert bad.status == 422 and bad.json["errors"][0]["pointer"] == "/body/url"
    from chalicelib.services import webhooks

    assert webhooks.private_urls_allowed()  # the test stage (LENDING_STAGE=test|local)
    monkeypatch.setattr(webhooks, "private_urls_allowed", lambda: False)  # any other stage
    for url in ("http://hooks.example.com/h", "https://127.0.0.1/h", "https://10.1.2.3/h",
                "https://169.254.169.254/latest", "https://[::1]/h",
                "https://[::ffff:10.0.0.1]/h", "https://localhost/h",
                "https://user:pw@hooks.example.com/h"):
        r = api.call("POST", "/v1/webhooks", {"url": url, "event_types": ["loan.closed"]},
                     key=admin)
        assert r.status == 422, (url, r.json)
    ok = api.call("POST", "/v1/webhooks", {"url": "https://93.184.215.14/h",
                                           "event_types": ["loan.closed"]}, key=admin)
    assert ok.status == 201


def test_only_local_and_test_stages_allow_private_urls(monkeypatch):
    from chalicelib import config
    from chalicelib.services import webhooks

    try:
        for stage, allowed in (("local", True), ("test", True), ("dev", False),
                               ("prod", False)):
            monkeypatch.setenv("LENDING_STAGE", stage)
            config.reset()
            assert webhooks.private_urls_allowed() is allowed
    finally:
        monkeypatch.setenv("LENDING_STAGE", "test")
        config.reset()


def test_production_transport_refuses_names_that_resolve_to_private_addresses():
    from chalicelib.services.webhook_transport import http_transport

    outcome = http_transport(allow_private=False)("http://localhost:9/h", {}, b"{}")
    assert outcome.status is None and "private" in (outcome.error or "")


def test_other_tenants_get_404_and_roles_are_enforced(api, keys, receiver):
    acme, beta = keys["acme"], keys["beta"]
    hook = register(api, acme["admin"], receiver.url())
    receiver.always_fail = True
    emit("acme")
    run(T0, max_attempts=1)
    settle()
    dead_id = api.call("GET", "/v1/webhooks/dead-letters", key=acme["admin"]).json["data"][0]["id"]
    # another tenant: the same 404 as a missing object, and empty lists
    assert api.call("GET", f"/v1/webhooks/{hook['id']}/deliveries", key=beta["admin"]).status \
        == 404
    assert api.call("DELETE", f"/v1/webhooks/{hook['id']}", key=beta["admin"]).status == 404
    assert api.call("POST", f"/v1/webhooks/dead-letters/{dead_id}/replay",
                    key=beta["operator"]).status == 404
    assert api.call("GET", "/v1/webhooks", key=beta["admin"]).json["data"] == []
    assert api.call("GET", "/v1/webhooks/dead-letters", key=beta["admin"]).json["data"] == []
    # roles
    body = {"url": receiver.url(), "event_types": ["loan.closed"]}
    for role in ("operator", "partner", "reviewer"):
        assert api.call("POST", "/v1/webhooks", body, key=acme[role]).status == 403
        assert api.call("DELETE", f"/v1/webhooks/{hook['id']}", key=acme[role]).status == 403
    for role in ("partner", "reviewer"):
        for path in ("/v1/webhooks", f"/v1/webhooks/{hook['id']}/deliveries",
                     "/v1/webhooks/dead-letters"):
            assert api.call("GET", path, key=acme[role]).status == 403
    for role in ("admin", "partner", "reviewer"):  # replaying is an operation, not config
        assert api.call("POST", f"/v1/webhooks/dead-letters/{dead_id}/replay",
                        key=acme[role]).status == 403
    assert dynamo.client() is not None


def test_an_event_stamped_ahead_by_a_sandbox_clock_is_delivered_now(api, keys, receiver):
    """A tenant whose sandbox clock runs days ahead emits events stamped with its time: the
    worker, on the real clock, delivers them at once (not when real time catches up)."""
    hook = register(api, keys["acme"]["admin"], receiver.url("/ahead"))
    event_id = emit("acme", now=T0 + timedelta(days=2))
    report = run(T0)
    assert (report.events_dispatched, report.delivered) == (1, 1)
    [got] = receiver.requests
    assert Webhook(hook["secret"]).verify(got.body, got.headers)["id"] == event_id
