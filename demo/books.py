"""The back office over HTTP once the loans are out: close of business over a few business
days, each channel's statement reconciled, and the books and the audit trail proven."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from demo.client import Api
from demo.lifecycle import Outcome
from demo.money import text
from demo.seed import Tenant

HEADER = "reference,type,amount,currency,value_date"


@dataclass
class CobRun:
    business_date: date
    calls: int
    view: dict[str, Any]


def close_business_day(api: Api, t: Tenant, day: date) -> CobRun:
    """`POST /v1/cob/runs` works for up to 20 s and resumes the date's unfinished run, so the
    operator calls again until it completes (as the 15-minute resume schedule would)."""
    calls = 0
    while True:
        view = api.ok("POST", "/v1/cob/runs", t.keys["operator"],
                      {"business_date": day.isoformat()})
        calls += 1
        if view["status"] == "completed":
            return CobRun(day, calls, view)


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


def verify(api: Api, t: Tenant) -> tuple[dict[str, Any], dict[str, Any]]:
    ledger = api.ok("POST", "/v1/ledger/verify", t.keys["admin"])
    audit = api.ok("POST", "/v1/audit/verify", t.keys["admin"])
    return ledger, audit
