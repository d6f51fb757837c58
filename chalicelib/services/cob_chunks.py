"""Close of business fanned out: a coordinator slices the loans index into chunks, workers
close one chunk each (SQS, at least once), and the run completes when its last chunk does.

Why chunks: one worker closes ~26,000 loans in a 13-minute Lambda budget on DynamoDB (~30 ms a
loan, bench/bench_cob.py); a larger tenant needs several workers at once, each with its own
slice of the index.

- **Planning** (`plan`) pages the tenant's loans index (gsi1 `<t>#loans`) reading keys only
  and cuts it every `CHUNK` loans. A chunk item holds its slice of sort keys, (start, end].
  Each chunk is written in one transaction with the run's plan cursor, guarded by the run's
  chunk count, so a repeated or concurrent planner writes nothing twice; a planner cut off
  resumes from the recorded cursor. Chunk k is sent to the queue when chunk k+1 is written
  (or when it is the last one), so a single-chunk run can be kept and worked inline.
- **A chunk** (`work`) is paged like the old single run: `close_loan` per loan (a loan
  already through the date is skipped by its marker, a concurrent step is a version conflict).
  The index is eventually consistent, so a page takes only loan ids from it and reads the
  loans' servicing items and then the loan items of those not settled (BatchGetItem,
  ConsistentRead): a stale row's status or version decides nothing. After each page,
  one transaction records the chunk's cursor and counts (guarded by its
  page number: of two deliveries working the same chunk at once, the slower stops) and adds
  the same counts to the run. Killed mid-page, the page is worked again on redelivery. A loan
  that cannot be closed is quarantined (services/cob_exceptions.py) and counted; the page
  goes on. A page reads its loans' exception items beside their servicing items, so a loan
  that closes clears its open exception.
- **The sweep**: the loans index sorts by status, so a loan whose status changed while the run
  was in flight (a repayment curing it) can move into a slice already worked. When every
  planned chunk is done, one more chunk is added (exactly once, guarded like a plan step): the
  whole index, filtered to loans whose item changed since the run started (minus a margin
  for clock skew and the index's lag, `SWEEP_MARGIN`). It steps any such loan not yet
  through the date; the others are skipped by their markers and not counted.
- **Completion**: the chunk's last page also adds 1 to the run's `chunks_done`; whoever sees
  `planned and swept and chunks_done = chunks_total` sets the run `completed` with a
  conditional update, so it happens exactly once.
- **Lost messages** (a crash between a chunk's write and its send, a message dead-lettered):
  the 15-minute resume schedule continues planning and sends again every unfinished chunk that
  has not moved for `STALE_S`.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from pynamodb.attributes import UTCDateTimeAttribute

from chalicelib import clock
from chalicelib.config import settings
from chalicelib.errors import DomainError
from chalicelib.services import cob, cob_exceptions, servicing
from chalicelib.store import dynamo, loans
from chalicelib.store import servicing as store
from chalicelib.store.audit import Actor
from chalicelib.store.uow import UnitOfWork

log = logging.getLogger("lending.cob")

CHUNK = 20_000  # loans per chunk: ~10 minutes of one worker on DynamoDB (bench/bench_cob.py)
PAGE = 100  # loans per recorded page inside a chunk
SWEEP_PAGE = 1000  # index rows per page of the sweep: its filter lets few of them through
STALE_S = 20 * 60  # an unfinished chunk untouched this long is sent again by the resume job
KEYS = "pk, sk, gsi1pk, gsi1sk"
ROW = f"{KEYS}, loan_id"  # a worker takes only the loan's id from its index row
# The sweep takes loans whose item changed since the run started less this margin, which
# covers the clock skew between the coordinator and the API's writers plus the index's lag (a
# loan changed just before the start may be read in its old place by the planner and the
# chunks; the sweep must then see its new row as changed): seconds at worst, 5 minutes is room.
SWEEP_MARGIN = timedelta(minutes=5)
COUNTS = ("processed", "stepped", "skipped", "conflicts", "quarantined")


# --- the queue ----------------------------------------------------------------------------

@cache
def _sqs() -> Any:
    return boto3.client("sqs", region_name=settings().region,
                        config=Config(retries={"max_attempts": 5, "mode": "standard"}))


@cache
def _queue_url(name: str) -> str:
    return str(_sqs().get_queue_url(QueueName=name)["QueueUrl"])


def send(body: dict[str, Any]) -> None:
    _sqs().send_message(QueueUrl=_queue_url(settings().cob_queue),
                        MessageBody=json.dumps(body, sort_keys=True))


def chunk_message(tenant: str, run_id: str, n: int) -> dict[str, Any]:
    return {"kind": "chunk", "tenant": tenant, "run_id": run_id, "chunk": n}


def plan_message(tenant: str, run_id: str) -> dict[str, Any]:
    return {"kind": "plan", "tenant": tenant, "run_id": run_id}


# --- planning -------------------------------------------------------------------------------

def _index_query(tenant: str) -> dict[str, Any]:
    return {"TableName": dynamo.table("main"), "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": {":p": {"S": loans.list_pk(tenant)}}}


def _range(tenant: str, start: str | None, end: str | None) -> dict[str, Any]:
    """The chunk's slice of the index, sort keys in (start, end]: one key condition (BETWEEN
    is inclusive, so the row equal to `start`, the previous chunk's last, is dropped)."""
    kw = _index_query(tenant)
    values = kw["ExpressionAttributeValues"]
    if start is not None and end is not None:
        kw["KeyConditionExpression"] += " AND gsi1sk BETWEEN :a AND :b"
        values.update({":a": {"S": start}, ":b": {"S": end}})
    elif start is not None:
        kw["KeyConditionExpression"] += " AND gsi1sk > :a"
        values[":a"] = {"S": start}
    elif end is not None:
        kw["KeyConditionExpression"] += " AND gsi1sk <= :b"
        values[":b"] = {"S": end}
    return kw


def _loan_rows(items: list[dict[str, Any]], start: str | None) -> list[dict[str, Any]]:
    return [r for r in items if r.get("sk", {}).get("S") == loans.LOAN_SK
            and r["gsi1sk"]["S"] != start]


def _chunk_item(tenant: str, run_id: str, n: int, start: str | None, end: str | None,
                now: datetime) -> dict[str, Any]:
    return {"pk": {"S": store.run_pk(tenant, run_id)}, "sk": {"S": store.chunk_sk(n)},
            "run_id": {"S": run_id}, "chunk": {"N": str(n)}, "status": {"S": cob.RUNNING},
            "start": {"S": json.dumps(start)}, "end": {"S": json.dumps(end)},
            "cursor": {"S": "null"}, "pages": {"N": "0"},
            **{k: {"N": "0"} for k in COUNTS}, "updated_at": {"S": now.isoformat()}}


def _write_chunk(tenant: str, run: dict[str, Any], n: int, start: str | None, end: str | None,
                 final: bool, now: datetime) -> bool:
    """Chunk n and the run's plan cursor in one transaction; False if another planner won."""
    run_id = run["run_id"]["S"]
    stamp = {"S": now.isoformat()}
    uow = UnitOfWork(token_seed=f"cob-plan:{tenant}:{run_id}:{n}")
    uow.add({"Put": {"TableName": dynamo.table("main"),
                     "Item": _chunk_item(tenant, run_id, n, start, end, now),
                     "ConditionExpression": "attribute_not_exists(pk)"}})
    uow.add({"Update": {
        "TableName": dynamo.table("main"), "Key": {"pk": run["pk"], "sk": run["sk"]},
        "UpdateExpression": "SET #total = :n, #planned = :f, plan_cursor = :c, "
                            "updated_at = :t",
        "ConditionExpression": "#total = :prev AND #s = :running",
        "ExpressionAttributeNames": {"#s": "status", "#total": "chunks_total",
                                     "#planned": "planned"},
        "ExpressionAttributeValues": {":n": {"N": str(n)}, ":prev": {"N": str(n - 1)},
                                      ":f": {"BOOL": final}, ":t": stamp,
                                      ":c": {"S": json.dumps(end)},
                                      ":running": {"S": cob.RUNNING}}}})
    return _committed(uow)


def plan(tenant: str, run_id: str, now: datetime, *, deadline: float | None = None,
         send_chunks: bool = True, hold_single: bool = False) -> dict[str, Any]:
    """Cuts the loans index into chunks from the run's plan cursor until planned or past
    `deadline`. `hold_single`: a run that turns out to be one chunk is not sent (the caller
    works it inline)."""
    run = cob.get_run(tenant, run_id)
    while run["status"]["S"] == cob.RUNNING and not run["planned"]["BOOL"]:
        n = int(run["chunks_total"]["N"])
        start = json.loads(run["plan_cursor"]["S"])  # where chunk n ended (None: the start)
        end, count, final = _scan_chunk(tenant, start)
        if not _write_chunk(tenant, run, n + 1, start, end, final, now):
            run = cob.get_run(tenant, run_id)
            continue  # another planner wrote it: carry on from its cursor
        if send_chunks and n >= 1:
            send(chunk_message(tenant, run_id, n))  # chunk n waited for its successor
        if send_chunks and final and not (hold_single and n == 0):
            send(chunk_message(tenant, run_id, n + 1))
        log.info("cob %s %s: chunk %d planned (%d loans%s)", tenant, run_id, n + 1, count,
                 ", the last" if final else "")
        if final:
            finish(tenant, run_id, now, send_sweep=send_chunks)  # every chunk may be done
            return cob.get_run(tenant, run_id)
        run = cob.get_run(tenant, run_id)
        if deadline is not None and time.monotonic() > deadline:
            break
    return run


def _scan_chunk(tenant: str, start: str | None) -> tuple[str | None, int, bool]:
    """Reads index keys after `start` until CHUNK loans and one more: the CHUNK-th loan's sort
    key, the count, and whether the index ended there (the last chunk, so never an empty one).
    Every chunk is bounded, the last one too: a loan whose status (the sort key's prefix) moves
    further down during the run is not read again by an open-ended last chunk."""
    kw = _range(tenant, start, None) | {"ProjectionExpression": KEYS}
    count, last = 0, start
    while True:
        page = dynamo.client().query(**kw)
        for row in _loan_rows(page.get("Items", []), start):
            if count == CHUNK:  # a loan beyond this chunk: not the last one (never empty)
                return last, count, False
            count, last = count + 1, row["gsi1sk"]["S"]
        if "LastEvaluatedKey" not in page:
            return last, count, True
        kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- one chunk ------------------------------------------------------------------------------

def work(tenant: str, run_id: str, n: int, now: datetime, *, deadline: float | None = None,
         stop_after: int | None = None, send_sweep: bool = True) -> str:
    """Works chunk n from its cursor: done | paused (past `deadline`; send it again) | lost
    (finished or advanced by another delivery) | killed (`stop_after` loans: a test's stand-in
    for a Lambda that dies mid-page, whose page is not recorded). `send_sweep`: a sweep chunk
    added when this one finishes goes to the queue (else the caller works it)."""
    chunk = store.get_chunk(tenant, run_id, n)
    run = cob.get_run(tenant, run_id)
    if chunk is None or chunk["status"]["S"] != cob.RUNNING or run["status"]["S"] != cob.RUNNING:
        return "lost"
    day = date.fromisoformat(run["business_date"]["S"])
    ctx = cob.Context(tenant, day, Actor("cob", "system", run_id), now,
                      servicing.delinquency_settings(tenant), {})
    start, end = json.loads(chunk["start"]["S"]), json.loads(chunk["end"]["S"])
    since = chunk.get("since", {}).get("S")  # the sweep: only loans changed during the run
    cursor = json.loads(chunk["cursor"]["S"])
    pages = int(chunk["pages"]["N"])
    done = 0
    while True:
        if deadline is not None and time.monotonic() > deadline:
            return "paused"
        kw = _range(tenant, start, end) | {"Limit": SWEEP_PAGE if since else PAGE,
                                           "ProjectionExpression": ROW}
        if since:
            kw["FilterExpression"] = "updated_at >= :since"
            kw["ExpressionAttributeValues"][":since"] = {"S": since}
        if cursor:
            kw["ExclusiveStartKey"] = cursor
        page = dynamo.client().query(**kw)
        # Only ids from the index (it may lag: a stale row's status or version decides
        # nothing, and a loan seen twice, mid-move, is worked once); every loan's status,
        # version and marker come from consistent reads.
        ids = list(dict.fromkeys(r["loan_id"]["S"] for r in
                                 _loan_rows(page.get("Items", []), start)))
        reads = cob.page_reads(tenant, ids, day)
        ctx.quarantined = reads.quarantined
        counts = dict.fromkeys(COUNTS, 0)
        for loan_id in ids:
            if stop_after is not None and done >= stop_after:
                return "killed"
            outcome = _close_row(ctx, loan_id, reads.loans.get(loan_id),
                                 reads.states.get(loan_id, {}))
            done += 1
            if since and outcome == "skipped":
                continue  # the sweep counts only what the slices missed
            counts["processed"] += 1
            counts[{"stepped": "stepped", "conflict": "conflicts",
                    "quarantined": "quarantined"}.get(outcome, "skipped")] += 1
        cursor = page.get("LastEvaluatedKey")
        if not _record(tenant, run, n, pages, cursor, counts, now):
            return "lost"
        pages += 1
        if not cursor:
            finish(tenant, run_id, now, send_sweep=send_sweep)
            return "done"


def _close_row(ctx: cob.Context, loan_id: str, raw: dict[str, Any] | None,
               item: dict[str, Any]) -> str:
    """One loan from its consistent reads: skipped when its servicing item settles it (its
    loan item was not read) or the loan item is gone, else closed; quarantined if its loan
    item is unreadable."""
    if raw is None:
        return cob.skip(ctx, loan_id)
    try:
        loan = loans.LoanItem.from_raw_data(raw)
    except Exception as exc:  # a corrupt loan item: the rest of the page goes on
        cob_exceptions.quarantine(ctx.tenant, loan_id, ctx.business_date, ctx.run_id,
                                  ctx.now, exc)
        return "quarantined"
    return cob.close_loan(ctx, loan, item)


def _record(tenant: str, run: dict[str, Any], n: int, pages: int, cursor: Any,
            counts: dict[str, int], now: datetime) -> bool:
    """One page: the chunk's cursor and counts, the same counts added to the run (and, on the
    chunk's last page, its status and the run's chunks_done), in one transaction guarded by the
    chunk's page number."""
    stamp = {"S": now.isoformat()}
    last = not cursor
    adds = ", ".join(f"#{k} :{k}" for k in COUNTS)  # DynamoDB reserves most plain words
    values = {f":{k}": {"N": str(v)} for k, v in counts.items()}
    names = {f"#{k}": k for k in (*COUNTS, "status", "pages")}
    chunk_set = "SET #cursor = :cursor, #pages = :next, updated_at = :t" + (
        ", #status = :done" if last else "")
    uow = UnitOfWork(token_seed=f"cob-page:{tenant}:{run['run_id']['S']}:{n}:{pages}")
    uow.add({"Update": {
        "TableName": dynamo.table("main"),
        "Key": {"pk": run["pk"], "sk": {"S": store.chunk_sk(n)}},
        "UpdateExpression": f"{chunk_set} ADD {adds}",
        "ConditionExpression": "#pages = :pages AND #status = :running",
        "ExpressionAttributeNames": names | {"#cursor": "cursor"},
        "ExpressionAttributeValues": values | {
            ":cursor": {"S": json.dumps(cursor)}, ":pages": {"N": str(pages)},
            ":next": {"N": str(pages + 1)}, ":t": stamp, ":running": {"S": cob.RUNNING},
            **({":done": {"S": cob.COMPLETED}} if last else {})}}})
    uow.add({"Update": {
        "TableName": dynamo.table("main"), "Key": {"pk": run["pk"], "sk": run["sk"]},
        "UpdateExpression": f"SET updated_at = :t ADD {adds}, #pages :one"
                            + (", #chunks_done :one" if last else ""),
        "ConditionExpression": "#status = :running",
        "ExpressionAttributeNames": names | ({"#chunks_done": "chunks_done"} if last else {}),
        "ExpressionAttributeValues": values | {":t": stamp, ":one": {"N": "1"},
                                               ":running": {"S": cob.RUNNING}}}})
    return _committed(uow)


def try_complete(tenant: str, run_id: str, now: datetime) -> bool:
    """Marks the run completed if every chunk, the sweep too, is planned and done: one
    conditional update, so of the workers finishing last chunks and the planner, exactly one
    does it."""
    try:
        dynamo.client().update_item(
            TableName=dynamo.table("main"),
            Key={"pk": {"S": store.run_pk(tenant, run_id)}, "sk": {"S": store.RUN_SK}},
            UpdateExpression="SET #s = :completed, completed_at = :t, updated_at = :t",
            ConditionExpression="#s = :running AND #planned = :yes AND #swept = :yes AND "
                                "#done = #total",
            ExpressionAttributeNames={"#s": "status", "#planned": "planned", "#swept": "swept",
                                      "#done": "chunks_done", "#total": "chunks_total"},
            ExpressionAttributeValues={":completed": {"S": cob.COMPLETED},
                                       ":running": {"S": cob.RUNNING},
                                       ":yes": {"BOOL": True}, ":t": {"S": now.isoformat()}})
    except dynamo.client().exceptions.ConditionalCheckFailedException:
        return False
    log.info("cob %s %s: completed", tenant, run_id)
    return True


def finish(tenant: str, run_id: str, now: datetime, *, send_sweep: bool) -> bool:
    """After a chunk's last page or the plan's end: completes the run, or adds its sweep chunk
    once every planned chunk is done (sent to the queue if `send_sweep`). True: completed."""
    if try_complete(tenant, run_id, now):
        return True
    n = _add_sweep(tenant, cob.get_run(tenant, run_id), now)
    if n is not None and send_sweep:
        send(chunk_message(tenant, run_id, n))
    return False


def _add_sweep(tenant: str, run: dict[str, Any], now: datetime) -> int | None:
    """The sweep chunk (the whole index, loans changed since the run started) and the run's
    `swept` flag in one transaction, guarded by the chunk counts: exactly once, and only after
    every planned chunk is done. Its number, or None (not yet, or another worker added it)."""
    total = int(run["chunks_total"]["N"])
    if (run["status"]["S"] != cob.RUNNING or not run["planned"]["BOOL"]
            or run.get("swept", {}).get("BOOL") or int(run["chunks_done"]["N"]) != total):
        return None
    run_id, n = run["run_id"]["S"], total + 1
    since = datetime.fromisoformat(run["started_at"]["S"]) - SWEEP_MARGIN
    chunk = _chunk_item(tenant, run_id, n, None, None, now) | {
        "since": {"S": UTCDateTimeAttribute().serialize(since)}}  # as loan items store it
    uow = UnitOfWork(token_seed=f"cob-sweep:{tenant}:{run_id}")
    uow.add({"Put": {"TableName": dynamo.table("main"), "Item": chunk,
                     "ConditionExpression": "attribute_not_exists(pk)"}})
    uow.add({"Update": {
        "TableName": dynamo.table("main"), "Key": {"pk": run["pk"], "sk": run["sk"]},
        "UpdateExpression": "SET #total = :n, #swept = :yes, updated_at = :t",
        "ConditionExpression": "#s = :running AND #planned = :yes AND #done = :prev AND "
                               "#total = :prev AND attribute_not_exists(#swept)",
        "ExpressionAttributeNames": {"#s": "status", "#planned": "planned", "#swept": "swept",
                                     "#done": "chunks_done", "#total": "chunks_total"},
        "ExpressionAttributeValues": {":n": {"N": str(n)}, ":prev": {"N": str(total)},
                                      ":yes": {"BOOL": True}, ":running": {"S": cob.RUNNING},
                                      ":t": {"S": now.isoformat()}}}})
    return n if _committed(uow) else None


# --- entry points ---------------------------------------------------------------------------

def run_inline(tenant: str, run_id: str, now: datetime, *, deadline: float | None = None,
               stop_after: int | None = None) -> dict[str, Any]:
    """The whole run in this process: plans it (sending nothing), then works every unfinished
    chunk in order. For tests, benchmarks and single-chunk runs."""
    plan(tenant, run_id, now, deadline=deadline, send_chunks=False)
    _work_open_chunks(tenant, run_id, now, deadline=deadline, stop_after=stop_after)
    return cob.get_run(tenant, run_id)


def _work_open_chunks(tenant: str, run_id: str, now: datetime, *, deadline: float | None,
                      stop_after: int | None = None) -> int | None:
    """Works every unfinished chunk here, then the sweep they add (two passes at most); the
    chunk that stopped short (paused, killed), or None."""
    for _ in range(2):
        for chunk in store.list_chunks(tenant, run_id):
            if chunk["status"]["S"] != cob.RUNNING:
                continue
            n = int(chunk["chunk"]["N"])
            outcome = work(tenant, run_id, n, now, deadline=deadline, stop_after=stop_after,
                           send_sweep=False)
            if outcome in ("paused", "killed"):
                return n
    return None


def dispatch(tenant: str, run_id: str, now: datetime, *, deadline: float | None = None,
             inline_single: bool = False) -> dict[str, Any]:
    """The coordinator: plans and sends the chunks; an unfinished plan goes to the queue too.
    `inline_single`: a one-chunk run is worked here instead (the daily schedule)."""
    run = plan(tenant, run_id, now, deadline=deadline, hold_single=inline_single)
    if run["status"]["S"] == cob.RUNNING and not run["planned"]["BOOL"]:
        send(plan_message(tenant, run_id))
    elif inline_single and run["status"]["S"] == cob.RUNNING and run["chunks_total"]["N"] == "1":
        stopped = _work_open_chunks(tenant, run_id, now, deadline=deadline)
        if stopped is not None:
            send(chunk_message(tenant, run_id, stopped))
        run = cob.get_run(tenant, run_id)
    return run


def resend_stale(tenant: str, run_id: str, now: datetime) -> int:
    """Sends again every unfinished chunk untouched for STALE_S (a lost or dead-lettered
    message, or a crash between a chunk's write and its send). Duplicates are harmless."""
    sent = 0
    for chunk in store.list_chunks(tenant, run_id):
        touched = datetime.fromisoformat(chunk["updated_at"]["S"])
        if chunk["status"]["S"] == cob.RUNNING and now - touched > timedelta(seconds=STALE_S):
            send(chunk_message(tenant, run_id, int(chunk["chunk"]["N"])))
            sent += 1
    return sent


def handle(body: str, *, deadline: float | None = None) -> str:
    """One SQS message: a chunk to work or a plan to continue. Raises on a malformed message
    (SQS retries it, then dead-letters it)."""
    msg = json.loads(body)
    tenant, run_id, kind = str(msg["tenant"]), str(msg["run_id"]), msg["kind"]
    now = clock.now(tenant)  # the tenant's clock (a sandbox clock in local and test)
    if kind == "plan":
        run = plan(tenant, run_id, now, deadline=deadline)
        if run["status"]["S"] == cob.RUNNING and not run["planned"]["BOOL"]:
            send(plan_message(tenant, run_id))
            return "paused"
        return "planned"
    if kind == "chunk":
        n = int(msg["chunk"])
        outcome = work(tenant, run_id, n, now, deadline=deadline)
        if outcome == "paused":
            send(chunk_message(tenant, run_id, n))  # the rest in a fresh invocation
        return outcome
    raise ValueError(f"unknown close-of-business message kind {kind!r}")


def _committed(uow: UnitOfWork) -> bool:
    """Commits; False when a guard refused it (another planner or worker got there first)."""
    try:
        uow.commit()
    except DomainError as exc:
        if exc.kind == "conflict":
            return False
        raise
    return True
