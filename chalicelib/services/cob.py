"""Close of business: per tenant and business date, every open loan's days up to that date.

Per loan, one transaction (`close_loan`): the day's journal `cob:<loan>:<date>` (interest
accrued, fees fallen due, late fees, penalties), the servicing item's next version with its
`through` marker (condition: the version read, so a concurrent or repeated step fails and is
seen as done), and — when the status moved — the loan's new version, audit record and partner
events. A loan already closed through the date is skipped without a write: a second run, a
retried Lambda or a restarted run changes nothing. A loan several days behind is stepped day
by day in the same transaction (catch-up is the same fold).

A run (`cob-<date>-<attempt>`) is worked in chunks of the tenant's loans index
(services/cob_chunks.py): inline for tests and one-chunk portfolios, fanned out to SQS workers
otherwise. This module holds the per-loan step and the run item (start, read, view).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from chalicelib import clock
from chalicelib.errors import DomainError, FieldError, not_found
from chalicelib.lending import loan_state as ls
from chalicelib.lending.delinquency import DelinquencySettings
from chalicelib.lending.money import money_json
from chalicelib.lending.product import ProductConfig
from chalicelib.services import loan_lifecycle, outbox, servicing
from chalicelib.store import dynamo, loans
from chalicelib.store import servicing as store
from chalicelib.store.audit import Actor
from chalicelib.store.uow import UnitOfWork

OPEN = (loans.ACTIVE, loans.DELINQUENT, loans.DEFAULTED)
RUNNING, COMPLETED = "running", "completed"
STEP_RETRIES = 3  # fresh reads after a conflicting write (a repayment, a redelivery)
#: Reminders before a due date have no registered partner event type yet: this hook receives
#: them (the webhook owner can map it to an event type); overdue notices go to the outbox.


@dataclass
class Context:
    tenant: str
    business_date: date
    actor: Actor
    now: datetime
    settings: DelinquencySettings
    products: dict[tuple[str, int], ProductConfig]


def close_loan(ctx: Context, loan: loans.LoanItem, item: dict[str, Any]) -> str:
    """Closes one loan's days through the business date: skipped | stepped | conflict.

    A conflict means a repayment (or another delivery) moved the loan between our read and
    our write: the step is tried again on a fresh read, else a completed run would leave this
    loan's day open. Another run's finished step is then a skip, by its marker."""
    outcome = _close_once(ctx, loan, item)
    for _ in range(STEP_RETRIES):
        if outcome != "conflict":
            break
        loan = loan_lifecycle.load(ctx.tenant, loan.loan_id)
        outcome = _close_once(ctx, loan, store.get_servicing(ctx.tenant, loan.loan_id) or {})
    return outcome


def _close_once(ctx: Context, loan: loans.LoanItem, item: dict[str, Any]) -> str:
    if loan.status not in OPEN:
        return "skipped"
    if item and date.fromisoformat(item["through"]["S"]) >= ctx.business_date:
        return "skipped"  # the marker: already closed through the date, no read beyond it
    loaded = servicing.load(ctx.tenant, loan.loan_id, ctx.settings, loan, item, ctx.products)
    s, day = loaded.state, ctx.business_date
    if s.through >= day or s.stopped_on is not None:
        return "skipped"
    notices: list[ls.Notice] = []
    if ls.can_step(loaded.events, s.through + ls.ONE_DAY):
        new = copy.deepcopy(s)
        while new.through < day:
            notices += ls.close_day(new, new.through + ls.ONE_DAY, loaded.policy)
    else:
        new = ls.derive(loaded.base, loaded.events, day, loaded.policy)
    dc = loaded.policy.day_count
    d = servicing.diff(servicing.flat(new.totals(dc)), servicing.flat(s.totals(dc)))
    uow = UnitOfWork(token_seed=f"cob:{ctx.tenant}:{loan.loan_id}:{day.isoformat()}")
    servicing.add_journal(uow, ctx.tenant, f"cob:{loan.loan_id}:{day.isoformat()}", loan, day,
                          d, f"Close of business {day.isoformat()}", {"business_date":
                                                                       day.isoformat()})
    servicing.commit_change(uow, ctx.tenant, ctx.actor, ctx.now, loaded, new, loaded.events,
                            None, {"business_date": day.isoformat(), "dpd": new.dpd})
    for n in notices:
        _notify(uow, ctx, loan, n)
    try:
        uow.commit()
    except DomainError as exc:
        if exc.kind == "conflict":
            return "conflict"  # another run or a repayment moved it: its marker decides
        raise
    return "stepped"


def _notify(uow: UnitOfWork, ctx: Context, loan: loans.LoanItem, n: ls.Notice) -> None:
    """Reminders before a due date and notices after a miss, in the step's own transaction."""
    outbox.emit(uow, ctx.tenant, n.kind, {
        "loan_id": loan.loan_id, "installment": n.installment, "due_date": n.due.isoformat(),
        "owed": money_json(n.owed, loan.currency)},
        now=ctx.now)


# --- runs --------------------------------------------------------------------------------

def _run_item(tenant: str, run_id: str, day: date, attempt: int, now: datetime,
              trigger: str) -> dict[str, Any]:
    return {"pk": {"S": store.run_pk(tenant, run_id)}, "sk": {"S": store.RUN_SK},
            "gsi1pk": {"S": store.runs_index_pk(tenant, day.isoformat())},
            "gsi1sk": {"S": f"{attempt:06d}"}, "run_id": {"S": run_id},
            "business_date": {"S": day.isoformat()}, "attempt": {"N": str(attempt)},
            "status": {"S": RUNNING}, "trigger": {"S": trigger},
            "planned": {"BOOL": False}, "plan_cursor": {"S": "null"},
            "chunks_total": {"N": "0"}, "chunks_done": {"N": "0"},
            "processed": {"N": "0"}, "stepped": {"N": "0"}, "skipped": {"N": "0"},
            "conflicts": {"N": "0"}, "pages": {"N": "0"}, "started_at": {"S": now.isoformat()},
            "updated_at": {"S": now.isoformat()}}


def start(tenant: str, day: date, now: datetime, trigger: str) -> dict[str, Any]:
    """The date's unfinished run (to resume), or a new attempt after a completed one. A day
    the tenant has not reached yet (its zone, its clock `now`) cannot be closed."""
    today = clock.business_date(tenant, now)
    if day > today:
        raise DomainError("validation-error", "The business date is after the tenant's today "
                          f"({today.isoformat()}).", [FieldError(
                              "/body/business_date",
                              f"after the tenant's today, {today.isoformat()}", "future_date")])
    latest = store.latest_run(tenant, day.isoformat())
    if latest is not None and latest["status"]["S"] == RUNNING:
        return latest
    attempt = int(latest["attempt"]["N"]) + 1 if latest else 1
    run_id = f"cob-{day.isoformat()}-{attempt}"
    item = _run_item(tenant, run_id, day, attempt, now, trigger)
    try:
        dynamo.client().put_item(TableName=dynamo.table("main"), Item=item,
                                 ConditionExpression="attribute_not_exists(pk)")
    except dynamo.client().exceptions.ConditionalCheckFailedException:
        return store.get_run(tenant, run_id) or item
    return item


def get_run(tenant: str, run_id: str) -> dict[str, Any]:
    item = store.get_run(tenant, run_id)
    if item is None:
        raise not_found("Close-of-business run")
    return item


def servicing_items(tenant: str, loan_ids: list[str]) -> dict[str, dict[str, Any]]:
    """A page's servicing items by BatchGetItem (strongly consistent: the markers decide)."""
    out: dict[str, dict[str, Any]] = {}
    table = dynamo.table("main")
    for k in range(0, len(loan_ids), 100):
        keys = [{"pk": {"S": loans.loan_pk(tenant, i)}, "sk": {"S": store.SERVICING_SK}}
                for i in loan_ids[k:k + 100]]
        request = {table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            got = dynamo.client().batch_get_item(RequestItems=request)
            for it in got.get("Responses", {}).get(table, []):
                out[it["loan_id"]["S"]] = it
            request = got.get("UnprocessedKeys") or {}
    return out


def view(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item["run_id"]["S"], "business_date": item["business_date"]["S"],
            "attempt": int(item["attempt"]["N"]), "status": item["status"]["S"],
            "trigger": item["trigger"]["S"],
            **{k: int(item[k]["N"]) for k in ("processed", "stepped", "skipped", "conflicts",
                                              "pages", "chunks_total", "chunks_done")},
            "planned": item["planned"]["BOOL"],
            "started_at": item["started_at"]["S"], "updated_at": item["updated_at"]["S"],
            "completed_at": item.get("completed_at", {}).get("S")}
