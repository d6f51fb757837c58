"""Channel health reaches people: a breaker that opens or closes and a prefunded balance that
falls under (or returns above) the channel's `low_balance_threshold` raise a partner event
through the outbox and a metric the template alarms on.

Each crossing is announced once: the event commits in the same transaction as the conditional
write that moves the channel's state item (the breaker's version, or the low-balance flag), so
of concurrent requests that see the same crossing exactly one commits it and its event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib import metrics
from chalicelib.channels import breaker
from chalicelib.channels.health import Crossing, balance_crossing
from chalicelib.errors import DomainError
from chalicelib.lending.events import EventType
from chalicelib.lending.money import format_amount
from chalicelib.services import outbox
from chalicelib.store import channels as store
from chalicelib.store.channels import ChannelItem
from chalicelib.store.uow import UnitOfWork

log = logging.getLogger("lending.channel_health")
BREAKER_METRIC = "ChannelBreakerOpen"  # one per breaker that opens (infra/sam_template.py)
BALANCE_METRIC = "ChannelBalanceLow"  # one per balance that falls under its threshold
EVENTS = {Crossing.BREAKER_OPENED: EventType.CHANNEL_BREAKER_OPENED,
          Crossing.BREAKER_CLOSED: EventType.CHANNEL_BREAKER_CLOSED,
          Crossing.BALANCE_LOW: EventType.CHANNEL_BALANCE_LOW,
          Crossing.BALANCE_RESTORED: EventType.CHANNEL_BALANCE_RESTORED}
METRICS = {Crossing.BREAKER_OPENED: BREAKER_METRIC, Crossing.BALANCE_LOW: BALANCE_METRIC}


class Lost(Exception):
    """Another request moved the state item first (and announced the crossing, if any)."""


def _money(minor: int, currency: str) -> dict[str, str]:
    return {"amount": format_amount(minor, currency), "currency": currency}


def _announce(uow: UnitOfWork, tenant: str, item: ChannelItem, crossing: Crossing,
              data: dict[str, Any], now: datetime) -> None:
    outbox.emit(uow, tenant, EVENTS[crossing], {"channel_id": item.channel_id,
                                                "channel_type": item.type, **data}, now=now)
    metric = METRICS.get(crossing)
    if metric is not None:
        props = {"tenant": tenant, "channel_id": item.channel_id}
        uow.after_commit.append(lambda: metrics.count(metric, 1, props))


def breaker_moved(tenant: str, item: ChannelItem, crossing: Crossing, new: breaker.State,
                  expected: int, now: datetime) -> bool:
    """Writes the breaker's new state with its event; False when the version moved on."""
    uow = UnitOfWork()
    uow.add(store.breaker_update(tenant, item.channel_id, new, expected),
            on_fail=lambda _r: Lost())
    data: dict[str, Any] = {"failures": new.failures}
    if crossing is Crossing.BREAKER_OPENED and new.opened_at is not None:
        data["opened_at"] = new.opened_at.isoformat()
        data["probe_after"] = (new.opened_at + timedelta(
            seconds=item.breaker_cooldown_seconds)).isoformat()
    try:
        _announce(uow, tenant, item, crossing, data, now)
        uow.commit()
    except Lost:
        return False
    except DomainError as exc:
        if exc.kind == "conflict":
            return False
        log.exception("channel %s/%s: %s not announced", tenant, item.channel_id, crossing)
        return store.save_breaker(tenant, item.channel_id, new, expected)  # protect regardless
    return True


def _balance_data(item: ChannelItem, available: int) -> dict[str, Any]:
    return {"available": _money(available, item.currency),
            "threshold": _money(item.low_balance_threshold or 0, item.currency)}


def add_balance_crossing(uow: UnitOfWork, tenant: str, item: ChannelItem, available: int,
                         low: bool, now: datetime,
                         lost: Callable[[], Exception] = Lost) -> Crossing | None:
    """Adds the flag's flip and its event to `uow` when `available` crosses the threshold;
    `lost`: the error if another request flipped the flag first (the whole `uow` fails)."""
    crossing = balance_crossing(item.low_balance_threshold, low, available)
    if crossing is None:
        return None
    uow.add(store.balance_flag(tenant, item.channel_id, crossing is Crossing.BALANCE_LOW),
            on_fail=lambda _r: lost())
    _announce(uow, tenant, item, crossing, _balance_data(item, available), now)
    return crossing


def balance_seen(tenant: str, item: ChannelItem, available: int, low: bool,
                 now: datetime) -> None:
    """Announces a crossing seen outside a money transaction (routing's read, a reservation);
    never raises: the payout that noticed it goes on either way."""
    try:
        uow = UnitOfWork()
        if add_balance_crossing(uow, tenant, item, available, low, now) is not None:
            uow.commit()
    except Lost:
        return  # announced by the request that flipped the flag first
    except Exception:
        log.exception("channel %s/%s: balance crossing not announced", tenant, item.channel_id)
