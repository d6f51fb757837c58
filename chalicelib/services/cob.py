"""Close of business: per tenant and business date, every open loan's days up to that date.

Per loan, one transaction (`close_loan`): the day's journal `cob:<loan>:<date>` (interest
accrued, fees fallen due, late fees, penalties), the servicing item's next version with its
`through` marker (condition: the version read, so a concurrent or repeated step fails and is
seen as done), and — when the status moved — the loan's new version, audit record and partner
events. A loan already closed through the date is skipped without a write: a second run, a
retried Lambda or a restarted run changes nothing. A loan several days behind is stepped day
by day in the same transaction (catch-up is the same fold).

A run (`cob-<date>-<attempt>`) pages through the tenant's loans index (gsi1
`<tenant>#loans`, projected ALL, so a page carries the loans) and records its cursor and
counts after every page: killed at any point, the next call resumes from the last page
recorded; loans of that page already done are skipped by their markers.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from chalicelib.errors import DomainError, not_found
from chalicelib.lending import loan_state as ls
from chalicelib.lending.delinquency import DelinquencySettings
from chalicelib.lending.money import money_json
from chalicelib.lending.product import ProductConfig
from chalicelib.services import outbox, servicing
from chalicelib.store import dynamo, loans
from chalicelib.store import servicing as store
from chalicelib.store.audit import Actor
from chalicelib.store.uow import UnitOfWork, put

OPEN = (loans.ACTIVE, loans.DELINQUENT, loans.DEFAULTED)
PAGE = 100
RUNNING, COMPLETED = "running", "completed"
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
    """Closes one loan's days through the business date: skipped | stepped | conflict."""
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
            "status": {"S": RUNNING}, "trigger": {"S": trigger}, "cursor": {"S": "null"},
            "processed": {"N": "0"}, "stepped": {"N": "0"}, "skipped": {"N": "0"},
            "conflicts": {"N": "0"}, "pages": {"N": "0"}, "started_at": {"S": now.isoformat()},
            "updated_at": {"S": now.isoformat()}}


def start(tenant: str, day: date, now: datetime, trigger: str) -> dict[str, Any]:
    """The date's unfinished run (to resume), or a new attempt after a completed one."""
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


def run(tenant: str, run_id: str, now: datetime, *, deadline: float | None = None,
        stop_after: int | None = None) -> dict[str, Any]:
    """Works the run from its cursor until done, past `deadline` (monotonic seconds), or after
    `stop_after` loans (a test's stand-in for a killed Lambda: the page is not recorded)."""
    item = get_run(tenant, run_id)
    if item["status"]["S"] != RUNNING:
        return item
    day = date.fromisoformat(item["business_date"]["S"])
    ctx = Context(tenant, day, Actor("cob", "system", run_id), now,
                  servicing.delinquency_settings(tenant), {})
    cursor = json.loads(item["cursor"]["S"])
    counts = {k: int(item[k]["N"]) for k in ("processed", "stepped", "skipped", "conflicts",
                                              "pages")}
    done = 0
    while True:
        if deadline is not None and time.monotonic() > deadline:
            return item
        kw: dict[str, Any] = {"TableName": dynamo.table("main"), "IndexName": "gsi1",
                              "KeyConditionExpression": "gsi1pk = :p",
                              "ExpressionAttributeValues": {":p": {"S": loans.list_pk(tenant)}},
                              "Limit": PAGE}
        if cursor:
            kw["ExclusiveStartKey"] = cursor
        page = dynamo.client().query(**kw)
        rows = [r for r in page.get("Items", []) if r.get("sk", {}).get("S") == loans.LOAN_SK]
        states = _servicing_items(tenant, [r["loan_id"]["S"] for r in rows
                                           if r["status"]["S"] in OPEN])
        for raw in rows:
            if stop_after is not None and done >= stop_after:
                return item  # "killed": this page's progress is not recorded
            loan = loans.LoanItem.from_raw_data(raw)
            outcome = close_loan(ctx, loan, states.get(loan.loan_id, {}))
            counts["processed"] += 1
            counts["stepped" if outcome == "stepped" else
                   "conflicts" if outcome == "conflict" else "skipped"] += 1
            done += 1
        cursor = page.get("LastEvaluatedKey")
        counts["pages"] += 1
        item = _record(tenant, run_id, item, cursor, counts, now)
        if not cursor:
            return item


def _servicing_items(tenant: str, loan_ids: list[str]) -> dict[str, dict[str, Any]]:
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


def _record(tenant: str, run_id: str, item: dict[str, Any], cursor: Any,
            counts: dict[str, int], now: datetime) -> dict[str, Any]:
    item = dict(item)
    item["cursor"] = {"S": json.dumps(cursor)}
    for k, v in counts.items():
        item[k] = {"N": str(v)}
    item["updated_at"] = {"S": now.isoformat()}
    if not cursor:
        item["status"] = {"S": COMPLETED}
        item["completed_at"] = {"S": now.isoformat()}
    uow = UnitOfWork()
    uow.add(put("main", item))
    uow.commit()
    return item


def view(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item["run_id"]["S"], "business_date": item["business_date"]["S"],
            "attempt": int(item["attempt"]["N"]), "status": item["status"]["S"],
            "trigger": item["trigger"]["S"],
            **{k: int(item[k]["N"]) for k in ("processed", "stepped", "skipped", "conflicts",
                                              "pages")},
            "started_at": item["started_at"]["S"], "updated_at": item["updated_at"]["S"],
            "completed_at": item.get("completed_at", {}).get("S")}
