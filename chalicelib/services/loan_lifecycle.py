"""Moves a loan between the states contracts and disbursement own, with its audit record.

pending_contract --sign--> pending_disbursement --payout submitted--> disbursing
disbursing --settled--> active;  disbursing --all channels failed--> pending_disbursement
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.errors import not_found
from chalicelib.services import outbox
from chalicelib.store import aggregates
from chalicelib.store.audit import Actor
from chalicelib.store.loans import LoanItem, get_loan, list_sk
from chalicelib.store.uow import UnitOfWork


def load(tenant: str, loan_id: str) -> LoanItem:
    loan = get_loan(tenant, loan_id)
    if loan is None:
        raise not_found("Loan")
    return loan


def move(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, loan: LoanItem,
         status: str | None, action: str, data: dict[str, Any]) -> LoanItem:
    """Adds the loan's next version (status and any attributes already set on `loan`)."""
    if status is not None:
        loan.status = status
        loan.gsi1sk = list_sk(status, loan.created_at.isoformat(), loan.loan_id)
    outbox.announce_loan(uow, tenant, action, now, loan, data)  # issue 7: partner events
    aggregates.save(uow, loan, tenant=tenant, aggregate_type="loan", aggregate_id=loan.loan_id,
                    action=action, actor=actor, at=now, data={"status": loan.status, **data},
                    noun="loan")
    return loan
