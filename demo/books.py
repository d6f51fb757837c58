"""The back office over HTTP once the loans are out: close of business over a few business
days (the tenant's sandbox clock moved past each), each channel's statement reconciled, and the
books and the audit trail proven."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from demo.client import Api, DemoError
from demo.lifecycle import Outcome
from demo.money import text
from demo.seed import Tenant

HEADER = "reference,type,amount,currency,value_date"


@dataclass
class CobRun:
    business_date: date
    calls: int
    view: dict[str, Any]


def today(api: Api, t: Tenant) -> date:
    """The tenant's business date now, from its clock (`GET /v1/sandbox/clock`). The demo plays
    days ahead, so it needs a stage with a sandbox clock (local, test)."""
    r = api.call("GET", "/v1/sandbox/clock", t.keys["operator"])
    if r.status_code == 404:
        raise DemoError("this stage has no sandbox clock (only local and test have one): the "
                        "demo cannot close business days ahead of today here")
    if r.status_code != 200:
        raise DemoError(f"GET /v1/sandbox/clock → {r.status_code}: {r.text[:300]}")
    return date.fromisoformat(r.json()["today"])


def move_clock_past(api: Api, t: Tenant, day: date) -> None:
    """Sets the tenant's sandbox clock to half past midnight after `day` (its zone), so `day`
    is over and may be closed; the clock then runs on from there."""
    after = datetime.combine(day + timedelta(days=1), dtime(0, 30), ZoneInfo(t.time_zone))
    api.ok("PUT", "/v1/sandbox/clock", t.keys["admin"], {"now": after.isoformat()})


def real_clock(api: Api, t: Tenant) -> None:
    api.ok("DELETE", "/v1/sandbox/clock", t.keys["admin"])


def close_business_day(api: Api, t: Tenant, day: date, *, stall_s: float = 15.0,
                       limit_s: float = 1800.0) -> CobRun:
    """Moves the tenant's clock past the day (close of business refuses a day the tenant has
    not finished), starts the date's run, then follows it (`GET /v1/cob/runs/{id}`) until it
    completes.
    A run that shows no progress for `stall_s` is resumed with another `POST` (the operator's
    stand-in for the 15-minute resume schedule): the API may close loans within the request
    (up to its budget) or hand them to workers; both resume from the recorded cursor."""
    move_clock_past(api, t, day)
    op, body = t.keys["operator"], {"business_date": day.isoformat()}
    view = api.ok("POST", "/v1/cob/runs", op, body)
    calls, started = 1, time.monotonic()
    seen, moved = _progress(view), time.monotonic()
    while view["status"] != "completed":
        if time.monotonic() - started > limit_s:
            raise DemoError(f"close of business {day} not completed in {limit_s:.0f} s: {view}")
        time.sleep(0.5)
        view = api.ok("GET", f"/v1/cob/runs/{view['id']}", op)
        if _progress(view) != seen:
            seen, moved = _progress(view), time.monotonic()
        elif time.monotonic() - moved > stall_s:
            view = api.ok("POST", "/v1/cob/runs", op, body)
            calls, moved = calls + 1, time.monotonic()
    return CobRun(day, calls, view)


def _progress(view: dict[str, Any]) -> tuple[Any, ...]:
    return (view["status"], view["processed"], view.get("chunks_done"), view["updated_at"])


def statement(t: Tenant, channel_id: str, outcomes: list[Outcome], day: date) -> str:
    """What the sandbox bank itself reports for the channel: the prefunding it received, every
    payout it executed (as it answered them, or confirmed them by callback) and every
    borrower's payment it collected."""
    lines = [HEADER, f"seed-funding,collection,{text(t.funded)},CNY,{day.isoformat()}"]
    for o in outcomes:
        for m in o.movements:
            if m.channel_id == channel_id:
                lines.append(f"{m.reference},{m.kind},{text(m.amount)},CNY,"
                             f"{m.value_date.isoformat()}")
    return "\n".join(lines) + "\n"


def reconcile(api: Api, t: Tenant, outcomes: list[Outcome], day: date) -> dict[str, Any]:
    runs = {}
    for ch in t.channels:
        run = api.ok("POST", "/v1/reconciliation/runs", t.keys["operator"],
                     {"channel": ch.id, "csv": statement(t, ch.id, outcomes, day)})
        runs[ch.name] = run
    return runs


def verify_ledger(api: Api, t: Tenant) -> dict[str, Any]:
    return dict(api.ok("POST", "/v1/ledger/verify", t.keys["admin"]))


def verify_audit(api: Api, t: Tenant) -> dict[str, Any]:
    return dict(api.ok("POST", "/v1/audit/verify", t.keys["admin"]))
