"""Channel health reaches people: a breaker that opens or closes and a prefunded balance that
crosses the channel's low-balance threshold each send one partner webhook (through the outbox,
delivered over real HTTP to a local receiver) and one EMF metric - once per crossing, not once
per payout, and once when concurrent payouts cross together."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.lending import webhooks as rules
from chalicelib.lending.events import EventType
from chalicelib.services import channel_health, webhook_delivery, webhooks
from chalicelib.services.webhook_transport import http_transport
from tests.integration.disbursement.conftest import channel, disburse, signed_loan, verify_ledger
from tests.lag import settle
from tests.webhook_receiver import Receiver, receiving

CHANNEL_EVENTS = [t.value for t in EventType if t.value.startswith("channel.")]


@pytest.fixture
def receiver(api: Any, acme: dict[str, str]) -> Iterator[Receiver]:
    """A partner endpoint subscribed to the channel events, registered before they happen."""
    with receiving() as state:
        r = api.call("POST", "/v1/webhooks", {"url": state.url(), "event_types": CHANNEL_EVENTS},
                     key=acme["admin"])
        assert r.status == 201, r.json
        yield state


def delivered(receiver: Receiver, clock: Any) -> list[tuple[str, dict[str, Any]]]:
    """One delivery worker run (as webhook_delivery.run); every body the receiver got so far."""
    now = clock.now + timedelta(minutes=5)
    report = webhook_delivery.RunReport()
    settle()
    webhook_delivery.dispatch(now, 500, report)
    settle()
    webhook_delivery.deliver(now, report, http_transport(webhooks.private_urls_allowed()), 100,
                             rules.MAX_ATTEMPTS, 20.0, 2, random.Random(7))
    bodies = [json.loads(r.body) for r in receiver.got()]
    return [(b["type"], b["data"]) for b in bodies]


def metric(capsys: Any, name: str) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"_aws"' in x]
    return [m for m in lines if name in m]


def _get(api: Any, key: str, path: str) -> dict[str, Any]:
    r = api.call("GET", path, key=key)
    assert r.status == 200, r.json
    return r.json


def test_breaker_opening_and_closing_each_send_one_event_and_opening_one_metric(
        api, acme, product, aws, clock, receiver, capsys):
    flaky = channel(api, acme, "flaky", fixed_cost="1.00", sandbox={"failure_rate_percent": 100},
                    breaker={"threshold": 2, "cooldown_seconds": 60})
    channel(api, acme, "backup", fixed_cost="2.00")
    capsys.readouterr()
    for _ in range(4):  # two failures open it; the next two payouts skip it: no news
        disburse(api, acme["partner"], signed_loan(api, acme, aws, product["id"]))
    assert _get(api, acme["admin"], f"/v1/channels/{flaky['id']}")["breaker"]["state"] == "open"
    [opened] = metric(capsys, channel_health.BREAKER_METRIC)
    assert opened[channel_health.BREAKER_METRIC] == 1
    assert (opened["tenant"], opened["channel_id"]) == ("acme", flaky["id"])
    events = delivered(receiver, clock)
    assert [t for t, _ in events] == ["channel.breaker_opened"], events
    data = events[0][1]
    assert (data["channel_id"], data["channel_type"], data["failures"]) == (
        flaky["id"], "sandbox", 2)

    clock.advance(61)  # the probe fails: half-open back to open is the same outage, no event
    disburse(api, acme["partner"], signed_loan(api, acme, aws, product["id"]))
    assert _get(api, acme["admin"], f"/v1/channels/{flaky['id']}")["breaker"]["state"] == "open"
    api.call("PATCH", f"/v1/channels/{flaky['id']}", {"sandbox": {}}, key=acme["admin"])
    clock.advance(61)  # the next probe succeeds: closed, one event
    disburse(api, acme["partner"], signed_loan(api, acme, aws, product["id"]))
    disburse(api, acme["partner"], signed_loan(api, acme, aws, product["id"]))
    assert _get(api, acme["admin"], f"/v1/channels/{flaky['id']}")["breaker"]["state"] == \
        "closed"
    events = delivered(receiver, clock)
    assert [t for t, _ in events] == ["channel.breaker_opened", "channel.breaker_closed"], events
    assert events[1][1] == {"channel_id": flaky["id"], "channel_type": "sandbox", "failures": 0}
    assert metric(capsys, channel_health.BREAKER_METRIC) == []  # the re-open was no opening
    verify_ledger(api, acme["admin"])


def test_a_balance_drained_under_its_threshold_sends_one_event_and_a_funding_restores_it(
        api, acme, product, aws, clock, receiver, capsys):
    ch = channel(api, acme, "thin", fund="30000.00", low_balance_threshold="15000.00")
    path = f"/v1/channels/{ch['id']}"
    assert _get(api, acme["admin"], path)["low_balance_threshold"] == {
        "amount": "15000.00", "currency": "CNY"}
    capsys.readouterr()
    after, metrics = [], []
    for _ in range(3):  # 9800.00 each: 20200 (above), 10400 (crosses), 600 (still under)
        disburse(api, acme["partner"], signed_loan(api, acme, aws, product["id"]))
        got = _get(api, acme["admin"], path)
        after.append((got["available"]["amount"], got["balance_low"]))
        metrics.append(metric(capsys, channel_health.BALANCE_METRIC))
    assert after == [("20200.00", False), ("10400.00", True), ("600.00", True)]
    assert [len(m) for m in metrics] == [0, 1, 0]  # the payout that crossed said so, at once
    low = metrics[1][0]
    assert (low[channel_health.BALANCE_METRIC], low["channel_id"]) == (1, ch["id"])
    events = delivered(receiver, clock)
    assert events == [("channel.balance_low", {
        "channel_id": ch["id"], "channel_type": "sandbox",
        "available": {"amount": "10400.00", "currency": "CNY"},
        "threshold": {"amount": "15000.00", "currency": "CNY"}})]

    for amount in ("10000.00", "9000.00", "5000.00"):  # 10600 (under), 19600 (over), 24600
        f = api.call("POST", f"{path}/fundings", {"amount": amount, "reference": f"top-{amount}"},
                     key=acme["operator"])
        assert f.status == 201, f.json
    assert _get(api, acme["admin"], path)["balance_low"] is False
    events = delivered(receiver, clock)
    assert [t for t, _ in events] == ["channel.balance_low", "channel.balance_restored"]
    assert events[1][1]["available"] == {"amount": "19600.00", "currency": "CNY"}
    assert metric(capsys, channel_health.BALANCE_METRIC) == []  # a restore is no alarm
    verify_ledger(api, acme["admin"])


def test_concurrent_payouts_crossing_the_threshold_together_send_one_event(
        api, acme, product, aws, clock, receiver, capsys):
    ch = channel(api, acme, "shared", fund="40000.00", low_balance_threshold="35000.00")
    loans = [signed_loan(api, acme, aws, product["id"]) for _ in range(4)]
    capsys.readouterr()
    with ThreadPoolExecutor(len(loans)) as pool:  # each may see the crossing: one announces it
        answers = list(pool.map(lambda loan: disburse(api, acme["partner"], loan), loans))
    assert [a.status for a in answers] == [202] * 4, [a.json for a in answers]
    statuses = Counter(_get(api, acme["admin"], f"/v1/disbursements/{a.json['id']}")["status"]
                       for a in answers)
    settled = statuses["settled"]
    assert settled >= 1, statuses
    got = _get(api, acme["admin"], f"/v1/channels/{ch['id']}")
    assert got["available"]["amount"] == f"{40000 - 9800 * settled}.00"
    assert got["balance_low"] is True
    assert len(metric(capsys, channel_health.BALANCE_METRIC)) == 1
    events = delivered(receiver, clock)
    assert [t for t, _ in events] == ["channel.balance_low"], events
    verify_ledger(api, acme["admin"])


def test_a_threshold_set_above_the_balance_announces_it_and_a_bad_one_is_refused(
        api, acme, product, aws, clock, receiver):
    ch = channel(api, acme, "plain", fund="5000.00")
    path = f"/v1/channels/{ch['id']}"
    bad = api.call("PATCH", path, {"low_balance_threshold": "-1.00"}, key=acme["admin"])
    assert bad.status == 422 and bad.json["errors"][0]["pointer"] == \
        "/body/low_balance_threshold", bad.json
    r = api.call("PATCH", path, {"low_balance_threshold": "8000.00"}, key=acme["admin"])
    assert r.status == 200 and r.json["balance_low"] is True, r.json
    again = api.call("PATCH", path, {"low_balance_threshold": "9000.00"}, key=acme["admin"])
    assert again.status == 200 and again.json["balance_low"] is True  # still under: no news
    cleared = api.call("PATCH", path, {"clear_limits": ["low_balance_threshold"]},
                       key=acme["admin"])
    assert cleared.status == 200 and cleared.json["low_balance_threshold"] is None
    events = delivered(receiver, clock)
    assert [t for t, _ in events] == ["channel.balance_low"], events
    assert events[0][1]["available"]["amount"] == "5000.00"


def test_a_failed_payout_releasing_the_reservation_restores_the_balance_at_once(
        api, acme, product, aws, clock, receiver):
    """The void is the last step here (one attempt allowed, no routing after it to notice)."""
    r = api.call("PUT", f"/v1/products/{product['id']}/routing-policy",
                 {"strategy": "cheapest", "max_attempts": 1}, key=acme["admin"])
    assert r.status == 200, r.json
    ch = channel(api, acme, "refuses", fund="12000.00", low_balance_threshold="5000.00",
                 sandbox={"failure_rate_percent": 100})
    d = disburse(api, acme["partner"], signed_loan(api, acme, aws, product["id"])).json
    assert _get(api, acme["admin"], f"/v1/disbursements/{d['id']}")["status"] == "failed"
    got = _get(api, acme["admin"], f"/v1/channels/{ch['id']}")
    assert (got["available"]["amount"], got["balance_low"]) == ("12000.00", False)
    events = delivered(receiver, clock)
    assert [(t, e["available"]["amount"]) for t, e in events] == [
        ("channel.balance_low", "2200.00"), ("channel.balance_restored", "12000.00")]
