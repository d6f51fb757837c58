"""The nightly self-verification of one tenant, recorded for operators.

For a business day: the ledger proves itself (`verify()`), every audit chain is recomputed,
the day's audit records are checkpointed and the recent checkpoints re-verified, and channel
statements uploaded to S3 since the last run are reconciled. Each step is isolated: one
failing step (or statement) is recorded as such and the others still run; statements left
when the Lambda's budget runs out are `deferred` to the next invocation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic
from typing import Any

from chalicelib.config import settings
from chalicelib.errors import DomainError
from chalicelib.services import checkpoints, reconciliation, statement_reading
from chalicelib.store import audit, dynamo
from chalicelib.store import outbox as items
from chalicelib.store import reconciliation as store
from chalicelib.store.audit import Actor
from chalicelib.store.ledger import ledger
from chalicelib.store.uow import UnitOfWork

log = logging.getLogger("lending.jobs")
SYSTEM = Actor("system:nightly", "system", "nightly")
# `<start>[_<end>][-anything].csv|.xml`; the format: statement_reading.format_for_key
STATEMENT_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:_(\d{4}-\d{2}-\d{2}))?(?:[._-][\w.-]*)?"
                            r"\.(?:csv|xml)$")
MAX_STATEMENTS = 100  # per tenant per night; the rest wait for the next night
SHOWN = 20  # discrepancies / breaks kept on the verification item


def _step(results: dict[str, Any], name: str, fn: Callable[[], dict[str, Any]]) -> None:
    try:
        results[name] = fn()
    except Exception as exc:  # recorded, not raised: the other checks still run
        log.exception("nightly %s failed", name)
        results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}


def ledger_check(tenant: str) -> dict[str, Any]:
    report = ledger().verify(tenant)
    return {"ok": report.ok, "accounts": report.accounts, "journals": report.journals,
            "entries": report.entries, "discrepancies": len(report.discrepancies),
            "shown": [{"kind": d.kind, "message": d.message} for d in
                      report.discrepancies[:SHOWN]]}


def audit_check(tenant: str) -> dict[str, Any]:
    report = audit.verify_tenant(tenant)
    return {"ok": report.ok, "chains": report.chains, "records": report.records,
            "breaks": [{"aggregate_type": b.aggregate_type, "aggregate_id": b.aggregate_id,
                        "seq": b.seq, "reason": b.reason} for b in report.breaks[:SHOWN]]}


def checkpoint_check(tenant: str, day: date, now: datetime) -> dict[str, Any]:
    """Checkpoints through the end of `day` (or as far as has settled, if it has not ended)."""
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    made = checkpoints.create(tenant, end, now)
    checks = checkpoints.verify_recent(tenant)
    return {"ok": all(c.ok for c in checks), "checkpoint": {k: v for k, v in made.items()
                                                             if k != "hours"},
            "verified": [{"through": c.through, "ok": c.ok, "expected_count": c.expected_count,
                          "found_count": c.found_count, "problems": c.problems}
                         for c in checks]}


def new_statements(tenant: str) -> list[tuple[str, str, str]]:
    """(channel, key, etag) of statement files not reconciled yet, oldest key first."""
    out = []
    kwargs: dict[str, Any] = {"Bucket": settings().bucket,
                              "Prefix": reconciliation.statement_prefix(tenant)}
    client = reconciliation.s3_client()
    for _ in range(10):
        page = client.list_objects_v2(**kwargs)
        for obj in page.get("Contents", []):
            parts = obj["Key"].split("/")
            if len(parts) != 4 or not STATEMENT_NAME.match(parts[3]):
                continue
            etag = obj["ETag"].strip('"')
            marker = items.get(store.statement_marker_pk(tenant), f"{obj['Key']}#{etag}")
            if marker is None:
                out.append((parts[2], obj["Key"], etag))
            if len(out) >= MAX_STATEMENTS:
                return out
        if not page.get("IsTruncated"):
            return out
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
    return out


def statement_period(s3_key: str) -> tuple[date, date] | None:
    match = STATEMENT_NAME.match(s3_key.rsplit("/", 1)[-1])
    if not match:
        return None
    start = date.fromisoformat(match.group(1))
    return start, date.fromisoformat(match.group(2)) if match.group(2) else start


def statement_run_id(tenant: str, s3_key: str, etag: str) -> str:
    """The nightly run of one statement object: the same id on every retry, so a run cut off
    midway is resumed and completed once instead of started again."""
    digest = hashlib.sha256(json.dumps([tenant, s3_key, etag]).encode()).hexdigest()
    return f"rr_{digest[:16]}"


def reconcile_new(tenant: str, now: datetime, deadline: float | None = None) -> dict[str, Any]:
    """Each new statement in its own transaction; past `deadline` (time.monotonic) the rest
    wait for the next invocation (`deferred`), which finds them unmarked."""
    runs, failures, deferred = [], [], 0
    for channel, s3_key, etag in new_statements(tenant):
        if deadline is not None and monotonic() > deadline:
            deferred += 1
            continue
        try:
            uow = UnitOfWork()
            source = reconciliation.load_s3(
                tenant, channel, s3_key,
                statement_reading.format_for_key(tenant, channel, s3_key))
            view = reconciliation.run(tenant, SYSTEM, now, channel, source,
                                      statement_period(s3_key), uow,
                                      run_id=statement_run_id(tenant, s3_key, etag))
            uow.add({"Put": {"TableName": dynamo.table("main"), "Item": {
                "pk": {"S": store.statement_marker_pk(tenant)}, "sk": {"S": f"{s3_key}#{etag}"},
                "run_id": {"S": view["id"]}, "at": {"S": items.iso(now)}}}})
            uow.commit()
            runs.append({"run_id": view["id"], "channel": channel, "statement": s3_key,
                         "counts": view["counts"]})
        except DomainError as exc:
            failures.append({"statement": s3_key, "error": exc.detail,
                             "errors": [e.__dict__ for e in exc.errors[:SHOWN]]})
        except Exception as exc:  # one statement's fault must not stop the others
            log.exception("nightly reconciliation of %s failed", s3_key)
            failures.append({"statement": s3_key, "error": f"{type(exc).__name__}: {exc}"[:500],
                             "errors": []})
    return {"ok": not failures and not deferred and all(
        sum(v for k, v in r["counts"].items() if k != "matched") == 0 for r in runs),
        "runs": runs, "failures": failures, "deferred": deferred}


def run_tenant(tenant: str, day: date, now: datetime,
               deadline: float | None = None) -> dict[str, Any]:
    """All checks of the day; the item records `complete` = nothing was deferred."""
    results: dict[str, Any] = {}
    _step(results, "ledger", lambda: ledger_check(tenant))
    _step(results, "audit", lambda: audit_check(tenant))
    _step(results, "checkpoints", lambda: checkpoint_check(tenant, day, now))
    _step(results, "reconciliation", lambda: reconcile_new(tenant, now, deadline))
    ok = all(r.get("ok") for r in results.values())
    item = {
        "pk": {"S": store.verification_pk(tenant, day.isoformat())},
        "sk": {"S": store.VERIFICATION_SK},
        "gsi1pk": {"S": store.verifications_index_pk(tenant)}, "gsi1sk": {"S": day.isoformat()},
        "day": {"S": day.isoformat()}, "ok": {"BOOL": ok}, "ran_at": {"S": items.iso(now)},
        "complete": {"BOOL": not results["reconciliation"].get("deferred")},
        "results": {"S": json.dumps(results, sort_keys=True, default=str)},
    }
    dynamo.client().put_item(TableName=dynamo.table("main"), Item=item)
    return verification_view(item)


def stored_verification(tenant: str, day: date) -> dict[str, Any] | None:
    """The day's verification item, if one was written."""
    return items.get(store.verification_pk(tenant, day.isoformat()), store.VERIFICATION_SK)


def verification_view(item: dict[str, Any]) -> dict[str, Any]:
    return {"day": item["day"]["S"], "ok": item["ok"]["BOOL"], "ran_at": item["ran_at"]["S"],
            **json.loads(item["results"]["S"])}
