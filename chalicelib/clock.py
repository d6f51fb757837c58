"""What time it is, and which business day an instant falls on for a tenant.

The business day is the tenant's: an instant's date in the tenant's IANA time zone, so
2025-01-15T23:30:00+00:00 and 2025-01-16T07:30:00+08:00 (one instant) are both 2025-01-16 in
Asia/Shanghai. Close of business, due dates, days past due, repayment dates and reports all take
their dates from `business_date`/`today`, never from `datetime.date()`.

Stages `local` and `test` may run a sandbox clock per tenant (PUT /v1/sandbox/clock): an offset
from real time, so the tenant's clock keeps running from the instant it was set to. In every
other stage `now` is the real clock and no sandbox item is ever read.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from chalicelib.config import settings
from chalicelib.store import sandbox_clock, tenants

SANDBOX_STAGES = frozenset({"local", "test"})
# Tenants onboarded before time zones existed keep the dates they always had.
LEGACY_ZONE = "UTC"
ZONE_TTL_S = 60.0  # another process sees a changed zone within this
SANDBOX_TTL_S = 5.0  # ... and a moved sandbox clock within this (this process: at once)
_zones: dict[str, tuple[float, ZoneInfo]] = {}
_offsets: dict[str, tuple[float, timedelta]] = {}


def sandboxed() -> bool:
    return settings().stage in SANDBOX_STAGES


def real_now() -> datetime:
    return datetime.now(UTC)


def now(tenant: str | None = None) -> datetime:
    """The instant now (aware, UTC): the tenant's sandbox clock if one is set, else real."""
    real = real_now()
    if not tenant or not sandboxed():
        return real
    return real + _offset(tenant)


def offset(tenant: str) -> timedelta:
    """How far the tenant's sandbox clock is from real time (zero outside stages local and
    test, and when none is set): for clocks of their own that must follow it."""
    return _offset(tenant) if sandboxed() else timedelta(0)


def _offset(tenant: str) -> timedelta:
    """The sandbox clock's offset, cached briefly so a warm request costs no extra read."""
    hit = _offsets.get(tenant)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    shift = sandbox_clock.offset(sandbox_clock.get(tenant))
    _offsets[tenant] = (time.monotonic() + SANDBOX_TTL_S, shift)
    return shift


@cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_zone(name: str) -> bool:
    """An IANA zone name this runtime can resolve (tzdata ships in the artifact)."""
    return name in _known_zones()


def zone(tenant: str) -> ZoneInfo:
    """The tenant's zone, cached for ZONE_TTL_S (one read per process and minute at most)."""
    hit = _zones.get(tenant)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    item = tenants.get_tenant(tenant)
    name = getattr(item, "time_zone", None) or LEGACY_ZONE
    found = ZoneInfo(name)
    _zones[tenant] = (time.monotonic() + ZONE_TTL_S, found)
    return found


def business_date(tenant: str, at: datetime) -> date:
    """The tenant's local date of an instant (which must carry its offset)."""
    if at.tzinfo is None:
        raise ValueError("a business date needs an aware datetime")
    return at.astimezone(zone(tenant)).date()


def today(tenant: str) -> date:
    return business_date(tenant, now(tenant))


def local_midnight(tenant: str, day: date) -> datetime:
    """The instant the tenant's `day` begins (UTC), for turning date ranges into instants."""
    return datetime.combine(day, datetime.min.time(), tzinfo=zone(tenant)).astimezone(UTC)


def shift_to(tenant_now: datetime) -> timedelta:
    """The sandbox offset that makes the clock read `tenant_now` at this real instant."""
    return tenant_now - real_now()


def forget(tenant: str) -> None:
    """Drops this process's cached zone and sandbox offset of a tenant (after they change)."""
    _zones.pop(tenant, None)
    _offsets.pop(tenant, None)


def reset() -> None:
    """Forgets every cached zone and offset (tests recreate tenants between cases)."""
    _zones.clear()
    _offsets.clear()

