"""Scheduled nightly (01:30 UTC): every tenant's ledger verify, audit chains, the previous
day's audit checkpoint (and the recent ones re-verified) and new channel statements.

Safe to run twice: a day's checkpoint is written once, reconciled statements are marked, and
the day's verification item is simply rewritten with the newer results.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from chalicelib.services import daily_checks
from chalicelib.store import tenants


def run_all(now: datetime | None = None, day: date | None = None) -> dict[str, bool]:
    now = now or datetime.now(UTC)
    day = day or (now.date() - timedelta(days=1))
    return {t: daily_checks.run_tenant(t, day, now)["ok"] for t in tenants.tenant_ids()}
