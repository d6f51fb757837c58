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
- Each tenant is isolated: an error for one (an unreadable setting, an outage of its
  partition) is logged and reported in the result, and the tenants after it still close; the
  15-minute schedule resumes its unfinished run.
- `work_message`: one SQS message (a chunk, or a plan to continue), stopping a minute before
  the Lambda's end; the rest of the chunk is sent again.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta

from chalicelib import clock
from chalicelib.errors import DomainError
from chalicelib.services import cob, cob_chunks, cob_exceptions
from chalicelib.store import servicing as store
from chalicelib.store import tenants

BUDGET_S = 13 * 60  # of the 15-minute Lambda limit; the rest is margin for the last page
QUEUE = "cob-chunks"  # the stage's table prefix is added when packaged (infra/sam_template.py)
# Concurrent chunk workers (the SQS event source's maximum concurrency): 50 x ~33 transactions/s
# x ~14 WCU = ~23,000 WCU/s, under the table's default 40,000; 50 chunks of 20,000 = 1M loans.
MAX_WORKERS = 50
MARGIN_S = 60.0
log = logging.getLogger("lending.cob")


def run_all(business_date: date | None = None, now: datetime | None = None,
            budget_s: float = BUDGET_S, resume_only: bool = False) -> dict[str, dict[str, object]]:
    deadline = time.monotonic() + budget_s
    out = {}
    for tenant in tenants.tenant_ids():
        day = business_date
        try:
            at = now or clock.now(tenant)
            day = business_date or local_yesterday(tenant, at)
            view = _run_tenant(tenant, day, at, deadline, resume_only, business_date is None)
        except Exception as exc:  # this tenant's failure must not stop the others
            error_class, message = cob_exceptions.describe(exc)
            log.error("close of business %s %s failed (%s: %s) at %s", tenant, day,
                      error_class, message, cob_exceptions.where(exc))
            view = {"error": error_class}
        if view is not None:
            out[tenant] = view
    return out


def _run_tenant(tenant: str, day: date, now: datetime, deadline: float, resume_only: bool,
                scheduled: bool) -> dict[str, object] | None:
    """The tenant's run started (or continued) and its view; None: nothing to resume. The
    schedule leaves a day with a completed run alone; an explicit date starts a new attempt."""
    if resume_only or scheduled:
        latest = store.latest_run(tenant, day.isoformat())
        if resume_only:
            if latest is None or latest["status"]["S"] != cob.RUNNING:
                return None
            run_id = latest["run_id"]["S"]
            cob_chunks.dispatch(tenant, run_id, now, deadline=deadline)
            cob_chunks.resend_stale(tenant, run_id, now)
            return cob.view(cob.get_run(tenant, run_id))
        if latest is not None and latest["status"]["S"] == cob.COMPLETED:
            return cob.view(latest)
    try:
        item = cob.start(tenant, day, now, "schedule", again=not scheduled)
    except DomainError as refused:  # an explicit date this tenant has not reached yet
        return {"refused": refused.detail}
    return cob.view(cob_chunks.dispatch(tenant, item["run_id"]["S"], now, deadline=deadline,
                                        inline_single=True))


def local_yesterday(tenant: str, at: datetime) -> date:
    """The last whole business day of the tenant at `at`: the day the schedule closes."""
    return clock.business_date(tenant, at) - timedelta(days=1)


def work_message(body: str, remaining_ms: int) -> str:
    """Chalice's local and test contexts report 3 s left: under two minutes means no deadline
    (a deployed worker has 15 minutes)."""
    budget = remaining_ms / 1000 - MARGIN_S
    deadline = time.monotonic() + budget if budget > MARGIN_S else None
    return cob_chunks.handle(body, deadline=deadline)
