"""A circuit breaker per channel, as a pure state machine over a stored state.

closed --N consecutive failures--> open --cool-down elapsed, one probe--> half_open
half_open --probe succeeds--> closed;  half_open --probe fails--> open (cool-down restarts)
A half-open probe that never reports back (crash) frees the slot after another cool-down.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True)
class Config:
    threshold: int = 3
    cooldown_seconds: int = 60


@dataclass(frozen=True)
class State:
    state: str = CLOSED
    failures: int = 0
    opened_at: datetime | None = None
    probe_until: datetime | None = None


def _cooled(s: State, cfg: Config, now: datetime) -> bool:
    return s.opened_at is not None and now >= s.opened_at + timedelta(seconds=cfg.cooldown_seconds)


def allows(s: State, cfg: Config, now: datetime) -> bool:
    """Whether a payout may be sent now (for open: as the single probe)."""
    if s.state == CLOSED:
        return True
    if s.state == OPEN:
        return _cooled(s, cfg, now)
    return s.probe_until is not None and now >= s.probe_until  # an abandoned probe


def needs_probe(s: State) -> bool:
    """Sending now means taking the probe slot (a conditional write the caller must win)."""
    return s.state != CLOSED


def start_probe(s: State, cfg: Config, now: datetime) -> State:
    return replace(s, state=HALF_OPEN,
                   probe_until=now + timedelta(seconds=cfg.cooldown_seconds))


def on_success(s: State) -> State:
    return State()


def on_failure(s: State, cfg: Config, now: datetime) -> State:
    if s.state == HALF_OPEN:
        return State(OPEN, s.failures + 1, now, None)
    failures = s.failures + 1
    if failures >= cfg.threshold:
        return State(OPEN, failures, now, None)
    return replace(s, failures=failures)
