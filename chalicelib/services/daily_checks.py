"""The nightly self-verification of one tenant, recorded for operators.

For a business day: the ledger proves itself (`verify()`), every audit chain is recomputed,
the day's audit records are checkpointed and the recent checkpoints re-verified, and channel
statements uploaded to S3 since the last run are reconciled. Each step is isolated: one
failing step is recorded as such and the others still run.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from chalicelib.config import settings
from chalicelib.errors import DomainError
from chalicelib.services import checkpoints, reconciliation
from chalicelib.store import audit, dynamo
from chalicelib.store import outbox as items
from chalicelib.store import reconciliation as store
from chalicelib.store.audit import Actor
from chalicelib.store.ledger import ledger
from chalicelib.store.uow import UnitOfWork

log = logging.getLogger("lending.jobs")
SYSTEM = Actor("system:nightly", "system", "nightly")
STATEMENT_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:_(\d{4}-\d{2}-\d{2}))?(?:[._-][\w.-]*)?\.csv$")
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


def reconcile_new(tenant: str, now: datetime) -> dict[str, Any]:
    runs, failures = [], []
    for channel, s3_key, etag in new_statements(tenant):
        try:
            uow = UnitOfWork()
            source = reconciliation.load_s3(tenant, channel, s3_key)
            view = reconciliation.run(tenant, SYSTEM, now, channel, source,
                                      statement_period(s3_key), uow)
            uow.add({"Put": {"TableName": dynamo.table("main"), "Item": {
                "pk": {"S": store.statement_marker_pk(tenant)}, "sk": {"S": f"{s3_key}#{etag}"},
                "run_id": {"S": view["id"]}, "at": {"S": items.iso(now)}}}})
            uow.commit()
            runs.append({"run_id": view["id"], "channel": channel, "statement": s3_key,
                         "counts": view["counts"]})
        except DomainError as exc:
            failures.append({"statement": s3_key, "error": exc.detail,
                             "errors": [e.__dict__ for e in exc.errors[:SHOWN]]})
    return {"ok": not failures and all(
        sum(v for k, v in r["counts"].items() if k != "matched") == 0 for r in runs),
        "runs": runs, "failures": failures}


def run_tenant(tenant: str, day: date, now: datetime) -> dict[str, Any]:
    results: dict[str, Any] = {}
    _step(results, "ledger", lambda: ledger_check(tenant))
    _step(results, "audit", lambda: audit_check(tenant))
    _step(results, "checkpoints", lambda: checkpoint_check(tenant, day, now))
    _step(results, "reconciliation", lambda: reconcile_new(tenant, now))
    ok = all(r.get("ok") for r in results.values())
    item = {
        "pk": {"S": store.verification_pk(tenant, day.isoformat())},
        "sk": {"S": store.VERIFICATION_SK},
        "gsi1pk": {"S": store.verifications_index_pk(tenant)}, "gsi1sk": {"S": day.isoformat()},
        "day": {"S": day.isoformat()}, "ok": {"BOOL": ok}, "ran_at": {"S": items.iso(now)},
        "results": {"S": json.dumps(results, sort_keys=True, default=str)},
    }
    dynamo.client().put_item(TableName=dynamo.table("main"), Item=item)
    return verification_view(item)


def verification_view(item: dict[str, Any]) -> dict[str, Any]:
    return {"day": item["day"]["S"], "ok": item["ok"]["BOOL"], "ran_at": item["ran_at"]["S"],
            **json.loads(item["results"]["S"])}
