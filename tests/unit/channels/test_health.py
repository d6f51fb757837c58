"""The crossings that reach people: edges only (once per crossing, not per payout)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from chalicelib.channels import breaker
from chalicelib.channels.health import Crossing, balance_crossing, breaker_crossing, crossed_by

T = datetime(2026, 3, 2, tzinfo=UTC)
CLOSED, OPEN = breaker.State(), breaker.State(breaker.OPEN, 3, T)
HALF = breaker.State(breaker.HALF_OPEN, 3, T, T)
CFG = breaker.Config(threshold=2, cooldown_seconds=60)


@pytest.mark.parametrize(("before", "after", "crossing"), [
    (CLOSED, OPEN, Crossing.BREAKER_OPENED),
    (OPEN, CLOSED, Crossing.BREAKER_CLOSED),  # a late success while open
    (HALF, CLOSED, Crossing.BREAKER_CLOSED),
    (HALF, OPEN, None),  # a failed probe: the same outage
    (OPEN, HALF, None),  # taking the probe slot
    (CLOSED, breaker.State(failures=1), None),  # a failure under the threshold
    (breaker.State(failures=1), CLOSED, None),  # a success resetting the count
])
def test_breaker_crossings_are_edges(before, after, crossing):
    assert breaker_crossing(before, after) is crossing


def test_the_breaker_machine_crosses_once_per_outage():
    states = [CLOSED]
    for _ in range(4):
        states.append(breaker.on_failure(states[-1], CFG, T))
    crossings = [breaker_crossing(a, b) for a, b in itertools.pairwise(states)]
    assert crossings == [None, Crossing.BREAKER_OPENED, None, None]


@pytest.mark.parametrize(("threshold", "low", "available", "crossing"), [
    (1000, False, 999, Crossing.BALANCE_LOW),
    (1000, False, 1000, None),  # at the threshold is not under it
    (1000, True, 500, None),  # still low: no news
    (1000, True, 1000, Crossing.BALANCE_RESTORED),
    (1000, False, 5000, None),
    (None, False, 0, None),  # not watched
    (None, True, 0, None),  # a flag left from an old threshold waits for a new one
    (0, False, 0, None),  # zero: never under (available cannot go negative)
])
def test_balance_crossings(threshold, low, available, crossing):
    assert balance_crossing(threshold, low, available) is crossing


def test_a_reservation_crosses_only_from_at_or_above_to_under():
    assert crossed_by(1000, 1500, 600) and crossed_by(1000, 1000, 1)
    assert not crossed_by(1000, 999, 1)  # already under before it
    assert not crossed_by(1000, 2000, 1000)  # lands on the threshold
    assert not crossed_by(None, 1500, 1500)
