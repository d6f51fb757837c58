"""Reconciliation runs: a channel's statement against the ledger, exceptions for operators.

Ledger side (`ledger_movements`): the posted entries of the channel's prefunded cash account
`cash:<channel>` (payouts, prefunding) and of `channel-clearing` whose journal names the
channel in its metadata (repayments, refunds; a reversal through the repayment it reverses).
Debits are collections, credits payouts (a refund or a charged-back payment leaves through the
channel); pending reservations are not money that moved. The reference is the journal's
metadata `channel_reference` (or one of REFERENCE_KEYS), else that of the journal it posts or
reverses, else `journal:<id>` - an unreferenced movement then surfaces as missing in the
statement.

A run is resumable and idempotent: its item is written first (`running`), then its exceptions
(ids derived from what they are about, conditional puts), then it completes in the caller's
unit of work, guarded on still being `running`. A run cut off midway stays visibly `running`
with exceptions that are still true; run again with the same `run_id` (the nightly job derives
it from the statement's S3 key and ETag) it counts the exceptions its first attempt wrote as
its own and completes once - never a duplicate exception, never a second completion.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import metrics
from chalicelib.errors import DomainError, FieldError, conflict, not_found
from chalicelib.lending import reconcile, statement
from chalicelib.lending.money import format_amount
from chalicelib.lending.reconcile import Kind, Movement, Result, StatementLine
from chalicelib.services import ledger_guard, ledger_ops, statement_reading
from chalicelib.store import audit, dynamo
from chalicelib.store import outbox as items
from chalicelib.store import reconciliation as store
from chalicelib.store.audit import Actor
from chalicelib.store.ledger import ledger
from chalicelib.store.uow import UnitOfWork, put
from ledger.chart import CHANNEL_CLEARING, channel_cash_id
from ledger.errors import AccountNotFound, JournalNotFound
from ledger.model import Entry, JournalRequest

REFERENCE_KEYS = ("channel_reference", "channel_ref", "external_reference", "reference")
# Disbursement attempt n of D reserves in journal `disb:D:n` and the channel knows the payout
# as `D.n` (channels/protocol.Payout.payout_id), which is what its statement lists.
DISBURSEMENT_JOURNAL = re.compile(r"disb:([^:]+):(\d+)")
FUNDING_JOURNAL = re.compile(r"fund:[^:]+:(.+)")  # services/channels.fund
TOLERANCE_DAYS = 3  # value dates may lag or lead bookings by this much
MAX_ENTRIES = 200_000
MAX_LISTED = 1000  # problems of a refused statement listed in the problem (all are counted)


@dataclass(frozen=True)
class Source:
    kind: str  # "s3" | "inline"
    name: str  # the S3 key, or "inline"
    data: bytes
    format: str = "native"  # native | camt053 | mapped_csv (services/statement_reading.py)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


# ---- statements ---------------------------------------------------------------------------

def s3_client() -> Any:
    import boto3

    from chalicelib.config import settings

    return boto3.client("s3", region_name=settings().region)


def statement_prefix(tenant: str, channel: str | None = None) -> str:
    return f"{tenant}/statements/" + (f"{channel}/" if channel else "")


def load_s3(tenant: str, channel: str, s3_key: str, fmt: str = "native") -> Source:
    from chalicelib.config import settings

    if not s3_key.startswith(statement_prefix(tenant, channel)) or ".." in s3_key:
        raise DomainError("validation-error", "The statement key is outside this tenant's "
                          "statements for the channel.",
                          [FieldError("/body/statement_key",
                                      f"must start with {statement_prefix(tenant, channel)}")])
    try:
        body = s3_client().get_object(Bucket=settings().bucket, Key=s3_key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied"):
            raise not_found("Statement") from exc
        raise
    return Source("s3", s3_key, body, fmt)


def parse(tenant: str, channel: str, source: Source, pointer: str = "/body"
          ) -> statement_reading.Read:
    """The statement's lines, or a refusal listing its problems: every one up to
    MAX_LISTED (a response must stay small), and exactly how many more there are."""
    try:
        return statement_reading.read(tenant, channel, source.format, source.data)
    except statement.StatementError as exc:
        total = len(exc.errors)
        detail = f"The statement file is not valid: {total} problem(s)"
        if total > MAX_LISTED:
            detail += f"; the first {MAX_LISTED} are listed, {total - MAX_LISTED} more are not"
        raise DomainError("validation-error", detail + ".", [
            FieldError(f"{pointer}/statement/line/{e.line}" + (f"/{e.column}" if e.column
                                                                else ""), e.message, "statement")
            for e in exc.errors[:MAX_LISTED]],
            extra={"problem_count": total, "problems_not_listed": max(0, total - MAX_LISTED)},
        ) from exc


# ---- ledger side ----------------------------------------------------------------------------

def ledger_movements(tenant: str, channel: str, start: date, end: date) -> list[Movement]:
    """Everything that moved through the channel with effective dates in [start, end]: the
    posted entries of its prefunded cash `cash:<channel>` (payouts, prefunding) and those of
    `channel-clearing` whose journal names the channel (repayments, refunds, and reversals
    through the repayment they reverse). A journal on both accounts counts once."""
    cache: dict[str, dict[str, str]] = {}
    out: list[Movement] = []
    seen: set[str] = set()
    has_cash = True
    try:
        ledger().get_account(tenant, channel_cash_id(channel))
    except AccountNotFound:
        has_cash = False
    if has_cash:
        for entry in _entries(tenant, channel_cash_id(channel), start, end):
            seen.add(entry.journal_id)
            mv = _movement(tenant, entry, cache)
            if mv is not None:
                out.append(mv)
    for entry in _entries(tenant, CHANNEL_CLEARING, start, end):
        if entry.journal_id in seen or _channel_of(tenant, entry.journal_id, cache) != channel:
            continue
        mv = _movement(tenant, entry, cache)
        if mv is not None:
            out.append(mv)
    if not has_cash and not out:
        raise not_found(f"Channel account {channel_cash_id(channel)}")
    return out


def _entries(tenant: str, account: str, start: date, end: date) -> Iterator[Entry]:
    book = ledger()
    cursor: dict[str, str] | None = {"after": start.isoformat()}
    for _ in range(MAX_ENTRIES // 1000):
        page = book.statement(tenant, account, limit=1000, cursor=cursor)
        for entry in page.items:
            if entry.effective_date > end:
                return
            yield entry
        if page.cursor is None:
            return
        cursor = page.cursor
    raise DomainError("conflict", f"More than {MAX_ENTRIES} entries of {account} in the window; "
                      "reconcile a shorter period.")


def _movement(tenant: str, entry: Entry, cache: dict[str, dict[str, str]]) -> Movement | None:
    net = entry.delta.posted_dr - entry.delta.posted_cr
    if net == 0:
        return None
    reference = _reference(tenant, entry.journal_id, cache, depth=2)
    return Movement(reference or f"journal:{entry.journal_id}",
                    "collection" if net > 0 else "payout", abs(net), entry.currency,
                    entry.effective_date, entry.journal_id)


def _metadata(tenant: str, journal_id: str, cache: dict[str, dict[str, str]]) -> dict[str, str]:
    if journal_id not in cache:
        try:
            view = ledger().get_journal(tenant, journal_id)
        except JournalNotFound:
            cache[journal_id] = {}
            return cache[journal_id]
        meta = dict(view.journal.metadata)
        if view.journal.ref:
            meta["__ref"] = view.journal.ref
        cache[journal_id] = meta
    return cache[journal_id]


def _channel_of(tenant: str, journal_id: str, cache: dict[str, dict[str, str]]) -> str | None:
    """The channel a clearing journal moved money through: its own `channel`, or that of the
    repayment journal it reverses (a reversal names the payment, not the channel)."""
    meta = _metadata(tenant, journal_id, cache)
    if meta.get("channel"):
        return meta["channel"]
    origin = meta.get("reverses") or meta.get("__ref")
    return _metadata(tenant, origin, cache).get("channel") if origin else None


def _reference(tenant: str, journal_id: str, cache: dict[str, dict[str, str]],
               depth: int) -> str | None:
    meta = _metadata(tenant, journal_id, cache)
    for name in REFERENCE_KEYS:
        if meta.get(name):
            return meta[name]
    origin = meta.get("__ref") or meta.get("reverses")
    if depth and origin:
        return _reference(tenant, origin, cache, depth - 1)
    payout = DISBURSEMENT_JOURNAL.fullmatch(journal_id)
    if payout and meta.get("disbursement_id") == payout.group(1):
        return f"{payout.group(1)}.{payout.group(2)}"  # the payout id the channel was sent
    funding = FUNDING_JOURNAL.fullmatch(journal_id)
    return funding.group(1) if funding else None  # prefunding: the transfer's reference


# ---- runs -------------------------------------------------------------------------------------

def default_period(lines: list[StatementLine]) -> tuple[date, date]:
    if not lines:
        raise DomainError("validation-error", "An empty statement needs an explicit period.",
                          [FieldError("/body/period_start", "required for an empty statement")])
    return min(x.value_date for x in lines), max(x.value_date for x in lines)


def run(tenant: str, actor: Actor, now: datetime, channel: str, source: Source,
        period: tuple[date, date] | None, uow: UnitOfWork,
        movements_of: Callable[[str, str, date, date], list[Movement]] = ledger_movements,
        run_id: str | None = None) -> dict[str, Any]:
    """Reconciles `source`; with `run_id`, resumes that run if it was cut off (or returns it
    unchanged if it completed)."""
    read = parse(tenant, channel, source)
    lines = read.lines
    start, end = period or default_period(lines)
    if start > end:
        raise DomainError("validation-error", "The period ends before it starts.",
                          [FieldError("/body/period_end", "on or after period_start")])
    window = (start - timedelta(days=TOLERANCE_DAYS), end + timedelta(days=TOLERANCE_DAYS))
    movements = movements_of(tenant, channel, *window)
    run_id = run_id or f"rr_{secrets.token_hex(8)}"
    earlier = items.get(store.run_pk(tenant, run_id), store.RUN_SK)
    if earlier is not None and items.s(earlier, "status") == "completed":
        return run_view(earlier)
    started = items.s(earlier, "started_at") if earlier else items.iso(now)
    base = {
        "pk": {"S": store.run_pk(tenant, run_id)}, "sk": {"S": store.RUN_SK},
        "gsi1pk": {"S": store.runs_index_pk(tenant)}, "gsi1sk": {"S": f"{started}#{run_id}"},
        "run_id": {"S": run_id}, "channel": {"S": channel}, "source": {"S": source.kind},
        "statement": {"S": source.name}, "statement_sha256": {"S": source.sha256},
        "format": {"S": source.format}, "skipped_entries": {"N": str(read.skipped)},
        "period_start": {"S": start.isoformat()}, "period_end": {"S": end.isoformat()},
        "started_at": {"S": started}, "status": {"S": "running"},
        "started_by": {"S": actor.key_id},
    }
    if earlier is None:
        _put_if(base, "attribute_not_exists(pk)", {}, {})  # a concurrent twin: both resume
    results = reconcile.reconcile(lines, movements, (start, end))
    new, known = _record_exceptions(tenant, channel, run_id, started, results)
    tally = reconcile.counts(results)
    done = {**base, "status": {"S": "completed"}, "finished_at": {"S": items.iso(now)},
            "counts": {"S": json.dumps(tally, sort_keys=True)},
            "lines": {"N": str(len(lines))}, "movements": {"N": str(len(movements))},
            "new_exceptions": {"N": str(new)}, "known_exceptions": {"N": str(known)}}
    uow.add(put("main", done, "#s = :running", names={"#s": "status"},
                values={":running": {"S": "running"}}),
            on_fail=lambda _r: conflict("The reconciliation run completed concurrently."))
    # The alarm on exceptions people must resolve (infra's ReconciliationExceptionsAlarm).
    uow.after_commit.append(lambda: metrics.count("ReconciliationExceptions", new))
    audit.append(uow, tenant=tenant, aggregate_type="reconciliation_run", aggregate_id=run_id,
                 head=None, action="reconciliation.completed", actor=actor, at=now,
                 data={"channel": channel, "statement_sha256": source.sha256, "counts": tally})
    return run_view(done)


def _put_if(item: dict[str, Any], condition: str, names: dict[str, str],
            values: dict[str, Any]) -> bool:
    """A conditional put; False when the condition did not hold."""
    kwargs: dict[str, Any] = {"TableName": dynamo.table("main"), "Item": item,
                              "ConditionExpression": condition}
    if names:
        kwargs["ExpressionAttributeNames"] = names
    if values:
        kwargs["ExpressionAttributeValues"] = values
    try:
        dynamo.client().put_item(**kwargs)
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        return False


def _exception_id(channel: str, r: Result, occurrence: int) -> str:
    about = [channel, r.kind.value, r.reference, r.side or "",
             [r.line.type, r.line.amount, r.line.currency, r.line.value_date.isoformat()]
             if r.line else None, r.movement.journal_id if r.movement else None, occurrence]
    return "rex_" + hashlib.sha256(json.dumps(about).encode()).hexdigest()[:24]


def _record_exceptions(tenant: str, channel: str, run_id: str, at: str,
                       results: list[Result]) -> tuple[int, int]:
    """(new, known): an exception is new to this run if absent, or if an earlier attempt of
    this same run wrote it (rewritten identically while still open)."""
    new = known = 0
    seen: dict[str, int] = {}
    for r in results:
        if r.kind is Kind.MATCHED:
            continue
        first = _exception_id(channel, r, 0)
        seen[first] = seen.get(first, -1) + 1
        exception_id = _exception_id(channel, r, seen[first])
        item = {
            "pk": {"S": store.exception_pk(tenant, exception_id)},
            "sk": {"S": store.EXCEPTION_SK},
            "gsi1pk": {"S": store.exceptions_index_pk(tenant)},
            "gsi1sk": {"S": store.exception_sk("open", at, exception_id)},
            "exception_id": {"S": exception_id}, "kind": {"S": r.kind.value},
            "channel": {"S": channel}, "reference": {"S": r.reference},
            "detail": {"S": json.dumps(_detail(r), sort_keys=True)},
            "status": {"S": "open"}, "first_run_id": {"S": run_id}, "first_seen": {"S": at},
            "version": {"N": "1"},
        }
        if _put_if(item, "attribute_not_exists(pk) OR (#r = :run AND #s = :open AND #v = :one)",
                   {"#r": "first_run_id", "#s": "status", "#v": "version"},
                   {":run": {"S": run_id}, ":open": {"S": "open"}, ":one": {"N": "1"}}):
            new += 1
        else:
            known += 1
    return new, known


def _money(amount: int, currency: str) -> dict[str, str]:
    return {"amount": format_amount(amount, currency), "currency": currency}


def _detail(r: Result) -> dict[str, Any]:
    out: dict[str, Any] = {"differences": list(r.differences), "side": r.side}
    if r.line:
        out["statement_line"] = {"line": r.line.line, "type": r.line.type,
                                 "value_date": r.line.value_date.isoformat(),
                                 **_money(r.line.amount, r.line.currency)}
    if r.movement:
        out["ledger"] = {"journal_id": r.movement.journal_id, "type": r.movement.type,
                         "effective_date": r.movement.effective_date.isoformat(),
                         **_money(r.movement.amount, r.movement.currency)}
    return out


def run_view(item: dict[str, Any]) -> dict[str, Any]:
    s, n = items.s, items.n
    return {"id": s(item, "run_id"), "channel": s(item, "channel"), "status": s(item, "status"),
            "source": s(item, "source"), "statement": s(item, "statement"),
            "format": s(item, "format") or "native",
            "skipped_entries": n(item, "skipped_entries") or 0,
            "statement_sha256": s(item, "statement_sha256"),
            "period_start": s(item, "period_start"), "period_end": s(item, "period_end"),
            "started_at": s(item, "started_at"), "finished_at": s(item, "finished_at"),
            "lines": n(item, "lines"), "movements": n(item, "movements"),
            "counts": json.loads(s(item, "counts") or "{}"),
            "new_exceptions": n(item, "new_exceptions"),
            "known_exceptions": n(item, "known_exceptions")}


def exception_view(item: dict[str, Any]) -> dict[str, Any]:
    s = items.s
    return {"id": s(item, "exception_id"), "kind": s(item, "kind"), "channel": s(item, "channel"),
            "reference": s(item, "reference"), "status": s(item, "status"),
            "first_run_id": s(item, "first_run_id"), "first_seen": s(item, "first_seen"),
            "detail": json.loads(s(item, "detail") or "{}"),
            "resolution": json.loads(s(item, "resolution") or "null")}


# ---- resolution ---------------------------------------------------------------------------

def resolve(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, exception_id: str,
            note: str, journal: JournalRequest | None) -> dict[str, Any]:
    """Closes an exception with a note, and optionally an adjusting journal posted in the same
    transaction (the exception, the journal and both audit records commit together)."""
    item = items.get(store.exception_pk(tenant, exception_id), store.EXCEPTION_SK)
    if item is None:
        raise not_found("Reconciliation exception")
    if items.s(item, "status") == "resolved":
        raise conflict("The exception is already resolved.", status="resolved")
    version = items.n(item, "version") or 1
    journal_id = None
    if journal is not None:
        posted, _created = ledger_ops.post_journal(uow, tenant, actor, now, journal,
                                                   base="/body/journal",
                                                   allowed=ledger_guard.RECONCILIATION)
        journal_id = posted.journal_id
    resolution = {"note": note, "journal_id": journal_id, "by": actor.key_id,
                  "at": items.iso(now)}
    item.update({"status": {"S": "resolved"}, "version": {"N": str(version + 1)},
                 "resolution": {"S": json.dumps(resolution, sort_keys=True)},
                 "gsi1sk": {"S": store.exception_sk("resolved", items.s(item, "first_seen") or "",
                                                    exception_id)}})
    uow.add(put("main", item, "#v = :v", names={"#v": "version"},
                values={":v": {"N": str(version)}}),
            on_fail=lambda _r: conflict("The exception changed concurrently; retry."))
    audit.append(uow, tenant=tenant, aggregate_type="reconciliation_exception",
                 aggregate_id=exception_id,
                 head=audit.latest_head(tenant, "reconciliation_exception", exception_id),
                 action="reconciliation.exception_resolved", actor=actor, at=now,
                 data={"kind": items.s(item, "kind"), "journal_id": journal_id})
    return item
