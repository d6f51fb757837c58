"""Quarantined loans: close of business could not close them, and someone must look.

A loan whose step fails with anything but the known conflict (a corrupt servicing item, a
product version that cannot be read, a ledger refusal) must not stop its chunk, its tenant or
the tenants after it. `quarantine` records it instead, in one transaction: the loan's exception
item (open; one per loan, so a loan failing every night is one line to resolve, its
`occurrences` counting the nights), its audit record and, when it opens, the partner event
`loan.cob_quarantined`; after the commit, the `CobLoansQuarantined` metric (the infra
template's alarm watches it). The loan's marker does not move, so every later run tries it
again; when one closes it (or finds it closed), `clear` resolves the exception.

What is stored, logged and announced is safe to show: ids, dates, the error's class, and a
message only for the project's own errors (written for API clients: no personal data); any
other exception's text may quote the data that broke it, so it is kept nowhere: the log has
its class and the stack's file:line frames.
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import date, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import metrics
from chalicelib.errors import DomainError, conflict, not_found
from chalicelib.lending.errors import LendingError
from chalicelib.lending.events import EventType
from chalicelib.services import outbox
from chalicelib.store import audit
from chalicelib.store import outbox as items
from chalicelib.store import servicing as store
from chalicelib.store.audit import Actor, ChainHead
from chalicelib.store.uow import UnitOfWork, put
from ledger.errors import LedgerBusy, LedgerError

log = logging.getLogger("lending.cob")

METRIC = "CobLoansQuarantined"  # infra/sam_template.py's CobLoansQuarantinedAlarm
EVENT = EventType.LOAN_COB_QUARANTINED
OPEN, RESOLVED = "open", "resolved"
MESSAGE_MAX = 300
# DynamoDB saying "not now": the chunk is retried (SQS, the resume schedule), no loan is blamed.
TRANSIENT_CODES = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
    "InternalServerError", "ServiceUnavailable", "TransactionInProgressException"})


def transient(exc: Exception) -> bool:
    """An outage, not this loan's fault: quarantining every loan during one would be wrong."""
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code") in TRANSIENT_CODES
    return isinstance(exc, BotoCoreError | LedgerBusy)


def describe(exc: Exception) -> tuple[str, str]:
    """(error class, safe message) for the record, the API and the partner event."""
    name = type(exc).__name__
    if isinstance(exc, DomainError):
        return f"{name}:{exc.kind}", str(exc)[:MESSAGE_MAX]
    if isinstance(exc, LedgerError):
        return f"{name}:{exc.code}", str(exc)[:MESSAGE_MAX]
    if isinstance(exc, json.JSONDecodeError):
        return name, f"stored JSON is not valid (position {exc.pos})"
    if isinstance(exc, LendingError):
        return name, "the loan's terms or state were refused by the servicing rules"
    return name, f"{name} while closing the loan (its stack is in the close-of-business log)"


def where(exc: BaseException) -> str:
    """The stack as file:line (function), innermost first: enough to find the fault, and
    unlike the exception's text it cannot quote the data (logs are masked of personal data)."""
    frames = traceback.extract_tb(exc.__traceback__)[-8:]
    return " < ".join(f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} ({f.name})"
                      for f in reversed(frames))


def _audit(uow: UnitOfWork, tenant: str, loan_id: str, head: ChainHead | None, action: str,
           actor: Actor, now: datetime, data: dict[str, Any]) -> ChainHead:
    return audit.append(uow, tenant=tenant, aggregate_type="cob_exception",
                        aggregate_id=loan_id, head=head, action=action, actor=actor, at=now,
                        data=data, head_ref={"table": "main",
                                             "pk": store.exception_pk(tenant, loan_id),
                                             "sk": store.EXCEPTION_SK})


def _head(item: dict[str, Any] | None) -> ChainHead | None:
    return ChainHead(int(item["audit_seq"]["N"]), item["audit_head"]["S"]) if item else None


def _save(uow: UnitOfWork, item: dict[str, Any], version: int | None) -> None:
    """The item's next version, guarded by the one read (None: it must not exist yet)."""
    item["version"] = {"N": str((version or 0) + 1)}
    guard = ("attribute_not_exists(pk)", None, None) if version is None else (
        "#v = :v", {"#v": "version"}, {":v": {"N": str(version)}})
    uow.add(put("main", item, guard[0], names=guard[1], values=guard[2]),
            on_fail=lambda _r: conflict("The close-of-business exception changed "
                                        "concurrently; retry."))


def quarantine(tenant: str, loan_id: str, business_date: date, run_id: str, now: datetime,
               exc: Exception) -> bool:
    """Records the failure (see the module's doc). False if a concurrent delivery recorded
    the same loan first (its record stands)."""
    error_class, message = describe(exc)
    log.warning("cob %s %s: loan %s quarantined (%s: %s) at %s", tenant, run_id, loan_id,
                error_class, message, where(exc))
    old = store.get_exception(tenant, loan_id)
    reopened = old is None or items.s(old, "status") != OPEN
    stamp = items.iso(now)
    first_seen = stamp if reopened else items.s(old, "first_seen") or stamp
    occurrences = 1 if reopened else (items.n(old, "occurrences") or 0) + 1
    actor = Actor("cob", "system", run_id)
    uow = UnitOfWork(token_seed=f"cob-exc:{tenant}:{loan_id}:{run_id}:{occurrences}")
    data = {"business_date": business_date.isoformat(), "run_id": run_id,
            "error_class": error_class}
    head = _audit(uow, tenant, loan_id, _head(old), "cob.loan_quarantined", actor, now, data)
    item = {
        "pk": {"S": store.exception_pk(tenant, loan_id)}, "sk": {"S": store.EXCEPTION_SK},
        "gsi1pk": {"S": store.exceptions_index_pk(tenant)},
        "gsi1sk": {"S": store.exception_sk(OPEN, first_seen, loan_id)},
        "loan_id": {"S": loan_id}, "status": {"S": OPEN},
        "business_date": {"S": business_date.isoformat()}, "run_id": {"S": run_id},
        "first_run_id": {"S": run_id if reopened else items.s(old, "first_run_id") or run_id},
        "first_seen": {"S": first_seen}, "last_seen": {"S": stamp},
        "occurrences": {"N": str(occurrences)}, "error_class": {"S": error_class},
        "message": {"S": message},
        "audit_seq": {"N": str(head.seq)}, "audit_head": {"S": head.hash}}
    _save(uow, item, items.n(old, "version") if old else None)
    if reopened:
        outbox.emit(uow, tenant, EVENT, {"loan_id": loan_id, **data}, now=now)
    uow.after_commit.append(lambda: metrics.count(METRIC, 1))
    try:
        uow.commit()
    except DomainError as err:
        if err.kind == "conflict":
            return False
        raise
    return True


def resolve(uow: UnitOfWork, tenant: str, loan_id: str, actor: Actor, now: datetime,
            note: str) -> dict[str, Any]:
    """An operator's resolution (the loan was repaired, or written off): the next run still
    closes the loan, and quarantines it again if it still fails."""
    item = store.get_exception(tenant, loan_id)
    if item is None:
        raise not_found("Close-of-business exception")
    if items.s(item, "status") != OPEN:
        raise conflict("The exception is already resolved.", status=RESOLVED)
    return _resolved(uow, tenant, item, actor, now, {"note": note, "by": actor.key_id})


def clear(tenant: str, loan_id: str, run_id: str, now: datetime) -> None:
    """A run closed the loan (or found it closed): its open exception is resolved, in its own
    transaction after the step's. Lost to a concurrent change, it is left for the next run."""
    item = store.get_exception(tenant, loan_id)
    if item is None or items.s(item, "status") != OPEN:
        return
    uow = UnitOfWork(token_seed=f"cob-exc-clear:{tenant}:{loan_id}:{run_id}")
    _resolved(uow, tenant, item, Actor("cob", "system", run_id), now,
              {"note": "closed by a later close-of-business run", "by": "cob", "run_id": run_id})
    try:
        uow.commit()
    except DomainError as err:
        if err.kind != "conflict":
            raise


def _resolved(uow: UnitOfWork, tenant: str, item: dict[str, Any], actor: Actor, now: datetime,
              resolution: dict[str, Any]) -> dict[str, Any]:
    loan_id = items.s(item, "loan_id") or ""
    resolution = {**resolution, "at": items.iso(now)}
    head = _audit(uow, tenant, loan_id, _head(item), "cob.exception_resolved", actor, now,
                  {"by": resolution["by"]})
    out = {**item, "status": {"S": RESOLVED},
           "gsi1sk": {"S": store.exception_sk(RESOLVED, items.s(item, "first_seen") or "",
                                              loan_id)},
           "resolution": {"S": json.dumps(resolution, sort_keys=True)},
           "audit_seq": {"N": str(head.seq)}, "audit_head": {"S": head.hash}}
    _save(uow, out, items.n(item, "version"))
    return out


def page(tenant: str, status: str | None, limit: int,
         start: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One status newest first; both: the open ones first, oldest first."""
    return items.query_page(store.exceptions_index_pk(tenant), index=True,
                            prefix=f"{status}#" if status else None, limit=limit,
                            newest_first=status is not None, start=start)


def view(item: dict[str, Any]) -> dict[str, Any]:
    resolution = items.s(item, "resolution")
    return {"loan_id": items.s(item, "loan_id"), "status": items.s(item, "status"),
            "business_date": items.s(item, "business_date"), "run_id": items.s(item, "run_id"),
            "first_run_id": items.s(item, "first_run_id"),
            "first_seen": items.s(item, "first_seen"), "last_seen": items.s(item, "last_seen"),
            "occurrences": items.n(item, "occurrences"),
            "error_class": items.s(item, "error_class"), "message": items.s(item, "message"),
            "resolution": json.loads(resolution) if resolution else None}
