"""The scheduled close of business: yesterday (UTC) for every tenant, within the Lambda's time.

Scheduled events arrive at least once; a second delivery finds the date's run completed and
starts an attempt in which every loan is skipped by its marker. An unfinished run (the Lambda
timed out) is resumed by the next invocation from its recorded cursor.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

from chalicelib.services import cob
from chalicelib.store import servicing as store
from chalicelib.store import tenants

BUDGET_S = 13 * 60  # of the 15-minute Lambda limit; the rest is margin for the last page


def run_all(business_date: date | None = None, now: datetime | None = None,
            budget_s: float = BUDGET_S, resume_only: bool = False) -> dict[str, dict[str, object]]:
    """`resume_only`: only continue the date's unfinished runs (the frequent schedule)."""
    now = now or datetime.now(UTC)
    day = business_date or (now.date() - timedelta(days=1))
    deadline = time.monotonic() + budget_s
    out = {}
    for tenant in tenants.tenant_ids():
        if resume_only:
            latest = store.latest_run(tenant, day.isoformat())
            if latest is None or latest["status"]["S"] != cob.RUNNING:
                continue
        item = cob.start(tenant, day, now, "schedule")
        out[tenant] = cob.view(cob.run(tenant, item["run_id"]["S"], now, deadline=deadline))
    return out
