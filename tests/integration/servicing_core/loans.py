"""Active loans made directly through the services and the ledger (not the HTTP origination
path, which scores, renders and signs a PDF): fast, and with any disbursement date."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.lending.quote import quote
from chalicelib.services import loan_lifecycle
from chalicelib.services.products import terms_of
from chalicelib.store import audit, dynamo
from chalicelib.store.audit import Actor
from chalicelib.store.ledger import ledger
from chalicelib.store.loans import ACTIVE, LoanItem, list_pk, list_sk, loan_pk
from chalicelib.store.uow import UnitOfWork, put_aggregate
from ledger.chart import FEE_INCOME, FUNDING, loan_account_id, loan_accounts
from ledger.model import JournalRequest, Posting, Side
from tests.lag import eventually

ACTOR = Actor("test", "admin", "req")


def active_loan(tenant: str, product_id: str, disbursed: date, principal: int = 1_200_000,
                term: int = 6, grade: str = "B", status: str = ACTIVE) -> str:
    """A loan in `active` (or `status`: `disbursing`, a payout whose settlement is still to
    come) with its accounts opened and its principal disbursed from funding."""
    _, version, terms = terms_of(tenant, product_id)
    q = quote(terms, principal, term, grade, disbursed)
    assert q.schedule is not None, q.refusals
    sched = q.schedule
    loan_id = f"loan_{secrets.token_hex(8)}"
    now = datetime.combine(disbursed, datetime.min.time(), UTC)
    uow = UnitOfWork()
    loan = LoanItem(loan_pk(tenant, loan_id), "loan", loan_id=loan_id, application_id="app_x",
                    product_id=product_id, product_version=version.number, principal=principal,
                    currency=terms.currency, term=term, grade=grade,
                    annual_rate_percent=str(terms.rate_percent(grade)), apr_percent="0",
                    schedule=json.dumps(sched.as_json()), status=status, borrower_ref="b",
                    accepted_at=now, accepted_by="k", version=1, created_at=now,
                    updated_at=now, disbursed_at=now, gsi1pk=list_pk(tenant),
                    gsi1sk=list_sk(status, now.isoformat(), loan_id))
    head = audit.append(uow, tenant=tenant, aggregate_type="loan", aggregate_id=loan_id,
                        head=None, action="loan.created", actor=ACTOR, at=now,
                        data={"status": status},
                        head_ref={"table": "main", "pk": loan.pk, "sk": loan.sk})
    loan.audit_seq, loan.audit_head = head.seq, head.hash
    uow.add(put_aggregate(loan, None))
    for part in ledger().prepare_open_accounts(tenant, loan_accounts(loan_id, terms.currency)):
        uow.add_part(part)
    uow.commit()
    uow = UnitOfWork()
    legs = [Posting(loan_account_id(loan_id, "principal"), Side.DEBIT, sched.financed,
                    terms.currency), Posting(FUNDING, Side.CREDIT, sched.payout, terms.currency)]
    if sched.origination_fee:
        legs.append(Posting(FEE_INCOME, Side.CREDIT, sched.origination_fee, terms.currency))
    uow.add_part(ledger().prepare_journal(tenant, JournalRequest(
        f"disb:{loan_id}", tuple(legs), disbursed, "test disbursement", {"loan_id": loan_id})))
    uow.commit()
    return loan_id


def balances(tenant: str, loan_id: str) -> dict[str, int]:
    return {c: ledger().balance(tenant, loan_account_id(loan_id, c)).posted
            for c in ("principal", "interest", "fee", "penalty")}


def status(tenant: str, loan_id: str) -> str:
    return loan_lifecycle.load(tenant, loan_id).status


def money(amount: str) -> dict[str, Any]:
    return {"amount": amount, "currency": "CNY"}


def indexed(tenant: str) -> None:
    """Waits until the loans index shows every loan of the tenant at its item's version. On
    DynamoDB (and under tests/lag.py) the index lags; close of business lists loans from it,
    and a real run starts long after the day's last change, so a test that has just made or
    moved loans waits for the index as the real run's timing would."""
    caught_up(list_pk(tenant))


def caught_up(gsi1pk: str, timeout_s: float = 10.0) -> None:
    """Waits until the gsi1 partition `gsi1pk` shows every item at its version."""
    values = {":p": {"S": gsi1pk}}
    scan: dict[str, Any] = {"TableName": dynamo.table("main"), "ConsistentRead": True,
                            "FilterExpression": "gsi1pk = :p", "ExpressionAttributeValues": values}
    query: dict[str, Any] = {"TableName": dynamo.table("main"), "IndexName": "gsi1",
                             "KeyConditionExpression": "gsi1pk = :p",
                             "ExpressionAttributeValues": values}
    want = _versions(scan, "scan")
    assert eventually(lambda: _versions(query, "query"), want, timeout_s) == want, \
        f"the index did not catch up on {gsi1pk}"


def _versions(kw: dict[str, Any], op: str) -> set[tuple[str, str, str]]:
    out, kw = set(), dict(kw)
    while True:
        page = getattr(dynamo.client(), op)(**kw)
        out |= {(i["pk"]["S"], i["sk"]["S"], i.get("version", {}).get("N", ""))
                for i in page.get("Items", [])}
        if "LastEvaluatedKey" not in page:
            return out
        kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]
