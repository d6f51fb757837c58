"""Scheduled hourly: every tenant's bank channels' statements of its previous business day
are fetched into S3 (services/statement_fetch.py) within the hour its new day begins, for the
nightly reconciliation (01:30 UTC) to pick up. Safe every hour: a day fetched stays as it is.
Tenants are isolated: one tenant's failure is logged and the others still run."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime

from chalicelib.services import statement_fetch
from chalicelib.store import tenants

log = logging.getLogger("lending.jobs")


def run_all(now: datetime | None = None) -> dict[str, dict[str, int]]:
    """tenant -> outcome counts (fetched / already / failed), for tenants with bank channels."""
    now = now or datetime.now(UTC)
    out: dict[str, dict[str, int]] = {}
    for tenant in tenants.tenant_ids():
        try:
            done = dict(Counter(f.outcome for f in statement_fetch.fetch_tenant(tenant, now)))
        except Exception:  # this tenant only
            log.exception("statement fetch of tenant %s failed", tenant)
            done = {"error": 1}
        if done:
            out[tenant] = done
    return out
