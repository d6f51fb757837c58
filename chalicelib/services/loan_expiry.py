"""Nothing waits forever: accepted loans never signed or never paid out are cancelled.

A loan in `pending_contract` or `pending_disbursement` whose product version (the one it was
accepted under) sets `acceptance_expiry_days` (default 30) expires that many business days
after its acceptance, in the tenant's business dates (lending/acceptance_expiry.py). It moves
to the terminal status `cancelled` (`cancel_reason` "expired") with an audit record and the
`loan.cancelled` event; an unsigned contract is voided in the same transaction (signing it is
then refused). A cancelled loan no longer counts as open for the borrower's next application
(services/applications.py CLOSED_LOAN). A `disbursing` loan is never touched: money may be
moving; the disbursement returns it to `pending_disbursement` when it fails, and the next run
expires it then if its time has passed.

Found without a scan: the loans list index (gsi1 `<t>#loans`, sort key `<status>#...`) read
per expirable status. Each loan is re-read consistently and saved version-guarded, so a loan
that moved meanwhile (signed, disbursing) is skipped; an interrupted run is resumed by the next
one (what was cancelled is no longer in those statuses), so the job is idempotent.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from chalicelib import clock
from chalicelib.errors import DomainError
from chalicelib.lending.acceptance_expiry import EXPIRABLE, expires_on, is_expired
from chalicelib.services import loan_lifecycle
from chalicelib.services.products import terms_of
from chalicelib.store import aggregates
from chalicelib.store import contracts as contract_store
from chalicelib.store.audit import Actor
from chalicelib.store.loans import CANCELLED, PENDING_CONTRACT, LoanItem, get_loan
from chalicelib.store.origination import query_list
from chalicelib.store.uow import UnitOfWork

log = logging.getLogger("lending.loan_expiry")
JOB = Actor("system:loan-expiry", "system", "loan-expiry")
PAGE = 100


def _pending(tenant: str, status: str) -> list[str]:
    """Ids of the tenant's loans in `status`, from the list index (eventually consistent)."""
    ids: list[str] = []
    start: dict[str, Any] | None = None
    while True:
        items, start = query_list(tenant, "loans", f"{status}#", PAGE, start)
        ids += [i["loan_id"]["S"] for i in items]
        if not start:
            return ids


def run(tenant: str) -> dict[str, int]:
    """Cancels the tenant's expired loans as of its business date now; counts by outcome."""
    now = clock.now(tenant)  # the sandbox clock in sandbox stages only; never ahead otherwise
    today = clock.business_date(tenant, now)
    days: dict[tuple[str, int], int] = {}
    out: dict[str, int] = {}
    for status in EXPIRABLE:
        for loan_id in _pending(tenant, status):
            try:
                what = expire_one(tenant, loan_id, now, today, days)
            except Exception:  # one loan must not stop the others
                log.exception("loan %s/%s: expiry failed", tenant, loan_id)
                what = "error"
            if what != "open":
                out[what] = out.get(what, 0) + 1
    return out


def expiry_days(tenant: str, loan: LoanItem, cache: dict[tuple[str, int], int]) -> int:
    ref = (loan.product_id, loan.product_version)
    if ref not in cache:
        _, _, terms = terms_of(tenant, loan.product_id, loan.product_version)
        cache[ref] = terms.acceptance_expiry_days
    return cache[ref]


def expire_one(tenant: str, loan_id: str, now: datetime, today: date,
               cache: dict[tuple[str, int], int]) -> str:
    """`expired` (cancelled now), `open` (not yet, or it moved on), or `moved` (raced)."""
    loan = get_loan(tenant, loan_id)
    if loan is None:
        return "open"
    accepted_on = clock.business_date(tenant, loan.accepted_at)
    days = expiry_days(tenant, loan, cache)
    if not is_expired(loan.status, accepted_on, days, today):
        return "open"
    uow = UnitOfWork()
    expired = expires_on(accepted_on, days)
    was = loan.status
    if was == PENDING_CONTRACT and loan.contract_id:
        _void_contract(uow, tenant, now, loan.contract_id)
    loan.cancelled_at, loan.cancel_reason = now, "expired"
    loan_lifecycle.move(uow, tenant, JOB, now, loan, CANCELLED, "loan.cancelled",
                        {"cancel_reason": "expired", "expired_on": expired.isoformat(),
                         "was": was, "accepted_on": accepted_on.isoformat(),
                         "acceptance_expiry_days": days})
    try:
        uow.commit()
    except DomainError as exc:
        if exc.kind != "conflict":
            raise
        return "moved"  # signed, disbursing or cancelled meanwhile: the next run looks again
    return "expired"



def _void_contract(uow: UnitOfWork, tenant: str, now: datetime, contract_id: str) -> None:
    """The unsigned contract can no longer be signed (its code, if any, is dropped)."""
    item = contract_store.get_contract(tenant, contract_id)
    if item is None or item.status != contract_store.PENDING_SIGNATURE:
        return
    item.status, item.code_hash, item.code_expires_at = contract_store.VOIDED, None, None
    aggregates.save(uow, item, tenant=tenant, aggregate_type="contract",
                    aggregate_id=contract_id, action="contract.voided", actor=JOB, at=now,
                    data={"reason": "loan expired", "loan_id": item.loan_id}, noun="contract")
