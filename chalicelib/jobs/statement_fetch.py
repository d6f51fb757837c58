"""Scheduled hourly: every tenant's bank channels' statements of its previous business day
are fetched into S3 (services/statement_fetch.py) within the hour its new day begins, for the
nightly reconciliation (01:30 UTC) to pick up. Safe every hour: a day fetched stays as it is.
Tenants are isolated: one tenant's failure is logged and the others still run."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from chalicelib import clock
from chalicelib.jobs.per_tenant import each_tenant
from chalicelib.services import statement_fetch


def run_all(now: datetime | None = None) -> dict[str, dict[str, int]]:
    """tenant -> outcome counts (fetched / already / failed), for tenants with bank channels.
    Each tenant's previous business day is that of its own clock (its sandbox clock locally)."""
    return each_tenant("statement fetch", lambda tenant: dict(Counter(
        f.outcome for f in statement_fetch.fetch_tenant(tenant, now or clock.now(tenant)))))
