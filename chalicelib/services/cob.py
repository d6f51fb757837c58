"""Close of business: per tenant and business date, every open loan's days up to that date.

Per loan, one transaction (`close_loan`): the day's journal `cob:<loan>:<date>` (interest
accrued, fees fallen due, late fees, penalties), the servicing item's next version with its
`through` marker (condition: the version read, so a concurrent or repeated step fails and is
seen as done), and — when the status moved — the loan's new version, audit record and partner
events. A loan already closed through the date is skipped without a write: a second run, a
retried Lambda or a restarted run changes nothing. A loan several days behind is stepped day
by day (catch-up is the same fold) in as few transactions as DynamoDB's 100 items allow: each
slice of days (lending/cob_slice.py) is one transaction with its own journal
`cob:<loan>:<last day of the slice>` and the marker at the slice's end, so a retry or a
duplicate resumes from the marker and never posts a day twice. The one-day step is one
transaction, as ever.

A loan that cannot be closed (any error but the known conflict) is quarantined
(services/cob_exceptions.py) and the run goes on: its chunk, its tenant, the other tenants.

A run (`cob-<date>-<attempt>`) is worked in chunks of the tenant's loans index
(services/cob_chunks.py): inline for tests and one-chunk portfolios, fanned out to SQS workers
otherwise. This module holds the per-loan step and the run item (start, read, view).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from chalicelib import clock
from chalicelib.errors import DomainError, FieldError, not_found
from chalicelib.lending import loan_state as ls
from chalicelib.lending.cob_slice import close_slice
from chalicelib.lending.delinquency import DelinquencySettings
from chalicelib.lending.product import ProductConfig
from chalicelib.services import cob_exceptions, loan_lifecycle, outbox, servicing
from chalicelib.store import dynamo, loans
from chalicelib.store import servicing as store
from chalicelib.store.audit import Actor
from chalicelib.store.uow import MAX_ITEMS, UnitOfWork

OPEN = (loans.ACTIVE, loans.DELINQUENT, loans.DEFAULTED)
STOPPED = (loans.CLOSED, loans.WRITTEN_OFF)
RUNNING, COMPLETED = "running", "completed"
STEP_RETRIES = 3  # fresh reads after a conflicting write (a repayment, a redelivery)
ITEM_MARGIN = 10  # items kept free under DynamoDB's limit in every step
# The step's items that do not grow with its days: a journal over at most the loan's 4
# receivables, 3 income accounts, clearing and credit (1 + 2 per account = 19), the servicing
# item, the loan's version and audit record: 22; and a status event.
STEP_ITEMS = 22 + outbox.ITEMS_PER_EVENT
NOTICE_ROOM = (MAX_ITEMS - ITEM_MARGIN - STEP_ITEMS) // outbox.ITEMS_PER_EVENT  # notices a step


@dataclass
class Context:
    tenant: str
    business_date: date
    actor: Actor
    now: datetime
    settings: DelinquencySettings
    products: dict[tuple[str, int], ProductConfig]
    quarantined: set[str] = field(default_factory=set)  # loans with an open exception (a page's)

    @property
    def run_id(self) -> str:
        return self.actor.request_id


def close_loan(ctx: Context, loan: loans.LoanItem, item: dict[str, Any]) -> str:
    """Closes one loan's days through the business date: skipped | stepped | conflict |
    quarantined (it failed: recorded, the run goes on; an outage still raises). A loan with an
    open exception that closes (or is found closed) has it cleared. `loan` and `item` must be
    strongly consistent reads (never an index row): the step decides from them."""
    try:
        outcome = _close(ctx, loan, item)
    except Exception as exc:
        if cob_exceptions.transient(exc):
            raise
        cob_exceptions.quarantine(ctx.tenant, loan.loan_id, ctx.business_date, ctx.run_id,
                                  ctx.now, exc)
        return "quarantined"
    return _cleared(ctx, loan.loan_id, outcome)


def skip(ctx: Context, loan_id: str) -> str:
    """A loan its servicing item settles (`settled`), read no further: skipped, and an open
    exception cleared, as `close_loan` would."""
    return _cleared(ctx, loan_id, "skipped")


def _cleared(ctx: Context, loan_id: str, outcome: str) -> str:
    if loan_id in ctx.quarantined and outcome in ("stepped", "skipped"):
        cob_exceptions.clear(ctx.tenant, loan_id, ctx.run_id, ctx.now)
    return outcome


def settled(item: dict[str, Any] | None, day: date) -> bool:
    """Whether a loan's servicing item (read consistently) decides its day without the loan
    item: closed through the date (the marker) or stopped (closed, written off; the loan's
    status moves in the same transaction as this item's). Else the loan item must be read."""
    if not item:
        return False  # no servicing item yet: only the loan item says whether it is open
    return (date.fromisoformat(item["through"]["S"]) >= day
            or item.get("status", {}).get("S") in STOPPED)


def _close(ctx: Context, loan: loans.LoanItem, item: dict[str, Any]) -> str:
    """Steps slice after slice until through the date. A conflict means a repayment (or
    another delivery) moved the loan between our read and our write: the step is tried again
    on a fresh read, else a completed run would leave this loan's day open; another run's
    finished step is then a skip, by its marker. After a slice, the next one reads afresh."""
    outcome, stepped, retries = _close_once(ctx, loan, item), False, 0
    while outcome == "partial" or (outcome == "conflict" and retries < STEP_RETRIES):
        stepped |= outcome == "partial"
        retries += outcome == "conflict"
        loan = loan_lifecycle.load(ctx.tenant, loan.loan_id)
        outcome = _close_once(ctx, loan, store.get_servicing(ctx.tenant, loan.loan_id) or {})
    return "stepped" if stepped and outcome == "skipped" else outcome


def _close_once(ctx: Context, loan: loans.LoanItem, item: dict[str, Any]) -> str:
    """One transaction: skipped | stepped (through the date) | partial (a slice) | conflict."""
    if loan.status not in OPEN or settled(item, ctx.business_date):
        return "skipped"  # not open, or the marker: already closed through the date
    loaded = servicing.load(ctx.tenant, loan.loan_id, ctx.settings, loan, item, ctx.products)
    s, day = loaded.state, ctx.business_date
    if s.through >= day or s.stopped_on is not None:
        return "skipped"
    notices: list[ls.Notice] = []
    if ls.can_step(loaded.events, s.through + ls.ONE_DAY):
        new, notices = close_slice(s, day, loaded.policy, NOTICE_ROOM)
    else:  # an event after the marker: folded again through the date (no notices)
        new = ls.derive(loaded.base, loaded.events, day, loaded.policy)
    end = new.through  # the slice's last day: the date itself unless a catch-up is cut
    dc = loaded.policy.day_count
    d = servicing.diff(servicing.flat(new.totals(dc)), servicing.flat(s.totals(dc)))
    uow = UnitOfWork(token_seed=f"cob:{ctx.tenant}:{loan.loan_id}:{end.isoformat()}")
    servicing.add_journal(uow, ctx.tenant, f"cob:{loan.loan_id}:{end.isoformat()}", loan, end,
                          d, f"Close of business {end.isoformat()}", {"business_date":
                                                                       end.isoformat()})
    servicing.commit_change(uow, ctx.tenant, ctx.actor, ctx.now, loaded, new, loaded.events,
                            None, {"business_date": end.isoformat(), "dpd": new.dpd},
                            guard_loan=True)
    for n in notices:
        servicing.notify(uow, ctx.tenant, loan, n, ctx.now)
    try:
        uow.commit()
    except DomainError as exc:
        if exc.kind == "conflict":
            return "conflict"  # another run or a repayment moved it: its marker decides
        raise
    return "stepped" if end >= day else "partial"


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
            "conflicts": {"N": "0"}, "quarantined": {"N": "0"}, "pages": {"N": "0"},
            "started_at": {"S": now.isoformat()}, "updated_at": {"S": now.isoformat()}}


def start(tenant: str, day: date, now: datetime, trigger: str, *,
          again: bool = True) -> dict[str, Any]:
    """The date's unfinished run (to resume), or a new attempt after a completed one (with
    `again`; else the completed one: the schedule leaves a closed day alone). A day the tenant
    has not reached yet (its zone, its clock `now`) cannot be closed."""
    today = clock.business_date(tenant, now)
    if day > today:
        raise DomainError("validation-error", "The business date is after the tenant's today "
                          f"({today.isoformat()}).", [FieldError(
                              "/body/business_date",
                              f"after the tenant's today, {today.isoformat()}", "future_date")])
    latest = store.latest_run(tenant, day.isoformat())  # by the runs index: it may lag
    if latest is not None and latest["status"]["S"] == RUNNING:
        return latest
    attempt = int(latest["attempt"]["N"]) + 1 if latest else 1
    while True:  # an attempt the index does not show yet is found by its conditional put
        run_id = f"cob-{day.isoformat()}-{attempt}"
        item = _run_item(tenant, run_id, day, attempt, now, trigger)
        try:
            dynamo.client().put_item(TableName=dynamo.table("main"), Item=item,
                                     ConditionExpression="attribute_not_exists(pk)")
            return item
        except dynamo.client().exceptions.ConditionalCheckFailedException:
            found = store.get_run(tenant, run_id)  # consistent
            if found is None or found["status"]["S"] == RUNNING or not again:
                return found or item
        attempt += 1  # that attempt completed: the next one


def get_run(tenant: str, run_id: str) -> dict[str, Any]:
    item = store.get_run(tenant, run_id)
    if item is None:
        raise not_found("Close-of-business run")
    return item


@dataclass
class PageReads:
    """A page's consistent reads, by loan id: servicing items, the loan items of the loans
    those do not settle, and the loans with an open exception (to clear when they close)."""
    states: dict[str, dict[str, Any]]
    loans: dict[str, dict[str, Any]]
    quarantined: set[str]


def page_reads(tenant: str, loan_ids: list[str], day: date) -> PageReads:
    """Two BatchGetItem rounds with ConsistentRead: the servicing and exception items of the
    page, then the loan items of the loans not settled. The index row only names the loan (on
    DynamoDB it may lag by seconds: an old status, an old version); these reads decide."""
    exc_key = {i: (store.exception_pk(tenant, i), store.EXCEPTION_SK) for i in loan_ids}
    first = _batch_get([(loans.loan_pk(tenant, i), store.SERVICING_SK) for i in loan_ids]
                       + list(exc_key.values()))
    states = {i: it for i in loan_ids
              if (it := first.get((loans.loan_pk(tenant, i), store.SERVICING_SK)))}
    quarantined = {i for i, k in exc_key.items()
                   if first.get(k, {}).get("status", {}).get("S") == cob_exceptions.OPEN}
    open_ids = [i for i in loan_ids if not settled(states.get(i), day)]
    got = _batch_get([(loans.loan_pk(tenant, i), loans.LOAN_SK) for i in open_ids])
    return PageReads(states, {i: it for i in open_ids
                              if (it := got.get((loans.loan_pk(tenant, i), loans.LOAN_SK)))},
                     quarantined)


def _batch_get(keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The items at (pk, sk) keys, strongly consistent, 100 keys a call."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    table = dynamo.table("main")
    for k in range(0, len(keys), 100):
        batch = [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in keys[k:k + 100]]
        request = {table: {"Keys": batch, "ConsistentRead": True}}
        while request:
            got = dynamo.client().batch_get_item(RequestItems=request)
            for it in got.get("Responses", {}).get(table, []):
                out[(it["pk"]["S"], it["sk"]["S"])] = it
            request = got.get("UnprocessedKeys") or {}
    return out


def view(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item["run_id"]["S"], "business_date": item["business_date"]["S"],
            "attempt": int(item["attempt"]["N"]), "status": item["status"]["S"],
            "trigger": item["trigger"]["S"],
            **{k: int(item[k]["N"]) for k in ("processed", "stepped", "skipped", "conflicts",
                                              "pages", "chunks_total", "chunks_done")},
            "quarantined": int(item.get("quarantined", {}).get("N", "0")),  # older runs lack it
            "planned": item["planned"]["BOOL"],
            "started_at": item["started_at"]["S"], "updated_at": item["updated_at"]["S"],
            "completed_at": item.get("completed_at", {}).get("S")}
