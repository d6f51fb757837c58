"""Pure channel core: router ranking, breaker state machine, webhook signatures, sandbox fates."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.channels import breaker, router, webhooks
from chalicelib.channels.protocol import OutcomeKind, Payout
from chalicelib.channels.router import Candidate, Policy, Strategy
from chalicelib.channels.sandbox import SandboxChannel

NOW = datetime(2025, 1, 15, 12, tzinfo=UTC)


def cand(cid: str, **kw: object) -> Candidate:
    base = dict(currency="CNY", enabled=True, fixed_cost=100, proportional_bps=0,
                settlement_seconds=60, max_payout=None, daily_limit=None, used_today=0,
                available=10**9, breaker_allows=True)
    base.update(kw)
    return Candidate(cid, **base)  # type: ignore[arg-type]


def test_cost_rounds_the_proportional_part_up():
    assert router.cost(cand("a", fixed_cost=100, proportional_bps=10), 980_001) == 100 + 981


def test_cheapest_fastest_and_time_bound():
    cs = [cand("slow-cheap", fixed_cost=1, settlement_seconds=3600),
          cand("mid", fixed_cost=5, settlement_seconds=600),
          cand("fast", fixed_cost=9, settlement_seconds=5)]
    order = lambda p: [c.channel_id for c in router.rank(cs, 1000, "CNY", p)[0]]  # noqa: E731
    assert order(Policy()) == ["slow-cheap", "mid", "fast"]
    assert order(Policy(Strategy.FASTEST)) == ["fast", "mid", "slow-cheap"]
    assert order(Policy(Strategy.CHEAPEST_WITHIN, 600)) == ["mid", "fast"]


def test_skip_reasons():
    cs = [cand("off", enabled=False), cand("usd", currency="USD"), cand("max", max_payout=999),
          cand("day", daily_limit=5000, used_today=4500), cand("poor", available=999),
          cand("open", breaker_allows=False), cand("tried"), cand("ok")]
    ranked, skipped = router.rank(cs, 1000, "CNY", Policy(), tried={"tried"})
    assert [c.channel_id for c in ranked] == ["ok"]
    assert skipped == {"off": "disabled", "usd": "currency", "max": "over_max_payout",
                       "day": "over_daily_limit", "poor": "insufficient_balance",
                       "open": "breaker_open", "tried": "already_tried"}


@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 500), st.integers(0, 86400),
                          st.booleans()), min_size=1, max_size=8),
       st.integers(1, 10**7))
def test_ranking_is_sorted_by_cost_and_only_eligible(specs, amount):
    cs = [cand(f"c{i}", fixed_cost=f, proportional_bps=b, settlement_seconds=s, enabled=e)
          for i, (f, b, s, e) in enumerate(specs)]
    ranked, skipped = router.rank(cs, amount, "CNY", Policy())
    costs = [router.cost(c, amount) for c in ranked]
    assert costs == sorted(costs) and all(c.enabled for c in ranked)
    assert len(ranked) + len(skipped) == len(cs)


def test_breaker_opens_probes_and_recovers():
    cfg = breaker.Config(threshold=2, cooldown_seconds=60)
    s = breaker.State()
    s = breaker.on_failure(s, cfg, NOW)
    assert s.state == "closed" and breaker.allows(s, cfg, NOW)
    s = breaker.on_failure(s, cfg, NOW)
    assert s.state == "open" and not breaker.allows(s, cfg, NOW + timedelta(seconds=59))
    later = NOW + timedelta(seconds=60)
    assert breaker.allows(s, cfg, later) and breaker.needs_probe(s)
    probing = breaker.start_probe(s, cfg, later)
    assert probing.state == "half_open" and not breaker.allows(probing, cfg, later)
    assert breaker.on_failure(probing, cfg, later).state == "open"
    assert breaker.on_success(probing) == breaker.State()
    # an abandoned probe frees the slot after another cool-down
    assert breaker.allows(probing, cfg, later + timedelta(seconds=60))


def test_breaker_success_resets_the_count():
    cfg = breaker.Config(threshold=3)
    s = breaker.on_failure(breaker.on_failure(breaker.State(), cfg, NOW), cfg, NOW)
    assert breaker.on_failure(breaker.on_success(s), cfg, NOW).state == "closed"


def test_webhook_signature_round_trip_and_refusals():
    secret = webhooks.new_secret()
    body = b'{"type":"payout.settled"}'
    ts = int(NOW.timestamp())
    headers = webhooks.headers(secret, "msg_1", ts, body)
    assert webhooks.verify(secret, headers, body, NOW) == "msg_1"
    rotated = {**headers, "webhook-signature": "v1,bm9wZQ== " + headers["webhook-signature"]}
    assert webhooks.verify(secret, rotated, body, NOW) == "msg_1"
    for bad_headers, bad_body, now in [
            (headers, body + b" ", NOW),
            ({**headers, "webhook-id": "msg_2"}, body, NOW),
            (webhooks.headers(webhooks.new_secret(), "msg_1", ts, body), body, NOW),
            (headers, body, NOW + timedelta(seconds=301)),
            (headers, body, NOW - timedelta(seconds=301)),
            ({**headers, "webhook-timestamp": "soon"}, body, NOW),
            ({k: v for k, v in headers.items() if k != "webhook-signature"}, body, NOW)]:
        with pytest.raises(webhooks.SignatureError):
            webhooks.verify(secret, bad_headers, bad_body, now)


def test_known_standard_webhooks_vector():
    # The example from the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert webhooks.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == \
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_sandbox_fates_are_deterministic_per_payout():
    payout = Payout("dsb_x.1", "acme", "ch_1", "loan_1", 10_000, "CNY")
    assert SandboxChannel("ch_1", {}).submit(payout).kind is OutcomeKind.SETTLED
    assert SandboxChannel("ch_1", {"settle": "callback"}).submit(payout).kind \
        is OutcomeKind.ACCEPTED
    assert SandboxChannel("ch_1", {"fail_above": 9_999}).submit(payout).kind is OutcomeKind.FAILED
    timeout = SandboxChannel("ch_1", {"timeout_rate_percent": 100})
    assert timeout.submit(payout).kind is OutcomeKind.TIMEOUT
    assert timeout.status(payout).kind is OutcomeKind.NOT_FOUND
    half = SandboxChannel("ch_1", {"failure_rate_percent": 50, "seed": 7})
    fates = [half.submit(replace(payout, payout_id=f"d.{i}")).kind for i in range(200)]
    assert fates == [half.submit(replace(payout, payout_id=f"d.{i}")).kind for i in range(200)]
    assert 60 < fates.count(OutcomeKind.FAILED) < 140
