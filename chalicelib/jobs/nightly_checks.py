"""Scheduled nightly (01:30 UTC): every tenant's ledger verify, audit chains, the previous
day's audit checkpoint (and the recent ones re-verified) and new channel statements; resumed
every 15 minutes until every tenant's day is complete.

Tenants are independent: one tenant's failure is logged and recorded as `False`, and the
others still run (its day has no complete verification, so the next invocation retries it).
A tenant whose day is complete is skipped, so a second delivery of the event changes nothing,
and the run stops starting tenants once its budget (of the 15-minute Lambda) is spent: the
rest are `None` (deferred) and the resume schedule continues from them.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, date, datetime, timedelta

from chalicelib.services import daily_checks
from chalicelib.store import dynamo, tenants
from chalicelib.store import outbox as items
from chalicelib.store import reconciliation as store

log = logging.getLogger("lending.jobs")
BUDGET_S = 12 * 60  # one tenant's checks may take a while after the last start


def run_all(now: datetime | None = None, day: date | None = None, budget_s: float = BUDGET_S,
            resume_only: bool = False) -> dict[str, bool | None]:
    """tenant -> ok (True/False), or None when deferred to the next invocation.
    `resume_only` (the frequent schedule): only days some tenant has already started."""
    now = now or datetime.now(UTC)
    day = day or (now.date() - timedelta(days=1))
    deadline = time.monotonic() + budget_s
    out: dict[str, bool | None] = {}
    marker = {"pk": {"S": store.nightly_marker_pk(day.isoformat())}, "sk": {"S": "started"}}
    if resume_only:
        if items.get(marker["pk"]["S"], "started") is None:
            return out  # the nightly run has not started this day: nothing to resume
    else:  # the first delivery's time stays (a repeat writes nothing)
        try:
            dynamo.client().put_item(TableName=dynamo.table("main"),
                                     Item={**marker, "at": {"S": items.iso(now)}},
                                     ConditionExpression="attribute_not_exists(pk)")
        except dynamo.client().exceptions.ConditionalCheckFailedException:
            pass
    ids = list(tenants.tenant_ids())
    stored = {t: daily_checks.stored_verification(t, day) for t in ids}
    for tenant in ids:
        item = stored[tenant]
        if item is not None and item.get("complete", {}).get("BOOL", True):
            out[tenant] = item["ok"]["BOOL"]
            continue
        if time.monotonic() > deadline:
            out[tenant] = None
            continue
        try:
            out[tenant] = daily_checks.run_tenant(tenant, day, now, deadline)["ok"]
        except Exception:  # this tenant only: the next invocation retries it
            log.exception("nightly checks of tenant %s failed", tenant)
            out[tenant] = False
    return out
