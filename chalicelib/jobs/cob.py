"""The scheduled close of business and its chunk worker.

- `run_all` (every 15 minutes): each tenant's local yesterday (its time zone, its clock), so
  every zone's midnight is honoured within 15 minutes of passing. A tenant whose yesterday has
  a completed run is left alone (the scheduled plan is idempotent: most invocations write
  nothing); otherwise the coordinator plans the run's chunks and sends them to the SQS queue;
  a one-chunk run is worked inline within the budget. With an explicit `business_date` (an
  operator's or a test's replay) a completed run is followed by a new attempt in which every
  loan is skipped by its marker.
- `run_all(resume_only=True)` (every 15 minutes): continues an unfinished plan and sends again
  the chunks that have not moved for a while (a lost or dead-lettered message).
- `work_message`: one SQS message (a chunk, or a plan to continue), stopping a minute before
  the Lambda's end; the rest of the chunk is sent again.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta

from chalicelib import clock
from chalicelib.errors import DomainError
from chalicelib.services import cob, cob_chunks
from chalicelib.store import servicing as store
from chalicelib.store import tenants

BUDGET_S = 13 * 60  # of the 15-minute Lambda limit; the rest is margin for the last page
QUEUE = "cob-chunks"  # the stage's table prefix is added when packaged (infra/sam_template.py)
# Concurrent chunk workers (the SQS event source's maximum concurrency): 50 x ~33 transactions/s
# x ~14 WCU = ~23,000 WCU/s, under the table's default 40,000; 50 chunks of 20,000 = 1M loans.
MAX_WORKERS = 50
MARGIN_S = 60.0


def run_all(business_date: date | None = None, now: datetime | None = None,
            budget_s: float = BUDGET_S, resume_only: bool = False) -> dict[str, dict[str, object]]:
    deadline = time.monotonic() + budget_s
    out = {}
    for tenant in tenants.tenant_ids():
        at = now or clock.now(tenant)
        day = business_date or local_yesterday(tenant, at)
        if resume_only:
            latest = store.latest_run(tenant, day.isoformat())
            if latest is None or latest["status"]["S"] != cob.RUNNING:
                continue
            run_id = latest["run_id"]["S"]
            cob_chunks.dispatch(tenant, run_id, at, deadline=deadline)
            cob_chunks.resend_stale(tenant, run_id, at)
            out[tenant] = cob.view(cob.get_run(tenant, run_id))
            continue
        if business_date is None:
            latest = store.latest_run(tenant, day.isoformat())
            if latest is not None and latest["status"]["S"] == cob.COMPLETED:
                out[tenant] = cob.view(latest)
                continue
        try:
            item = cob.start(tenant, day, at, "schedule")
        except DomainError as refused:  # an explicit date this tenant has not reached yet
            out[tenant] = {"refused": refused.detail}
            continue
        out[tenant] = cob.view(cob_chunks.dispatch(tenant, item["run_id"]["S"], at,
                                                   deadline=deadline, inline_single=True))
    return out


def local_yesterday(tenant: str, at: datetime) -> date:
    """The last whole business day of the tenant at `at`: the day the schedule closes."""
    return clock.business_date(tenant, at) - timedelta(days=1)


def work_message(body: str, remaining_ms: int) -> str:
    """Chalice's local and test contexts report 3 s left: under two minutes means no deadline
    (a deployed worker has 15 minutes)."""
    budget = remaining_ms / 1000 - MARGIN_S
    deadline = time.monotonic() + budget if budget > MARGIN_S else None
    return cob_chunks.handle(body, deadline=deadline)
