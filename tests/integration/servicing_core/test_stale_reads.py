"""Two commands that read the same loan state: the second to commit is told to retry (409),
even when its stale allocation would also breach a receivable's floor (found by the e2e race
of tests/e2e/test_concurrency.py: twelve payers on one loan got a 422 limit-exceeded)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from chalicelib.errors import DomainError
from chalicelib.services import repayments
from chalicelib.store.audit import Actor
from chalicelib.store.ledger import ledger
from chalicelib.store.uow import UnitOfWork
from tests.integration.servicing_core.loans import active_loan, balances

ACTOR = Actor("test", "partner", "req")
NOW = datetime(2024, 6, 1, tzinfo=UTC)
PAID = datetime.combine(date(2024, 2, 15), time(9), UTC)


@pytest.mark.parametrize("first_payment", [False, True])
def test_stale_full_payment_is_a_conflict_not_a_limit_breach(api: Any, acme: dict[str, str],
                                                             product: str,
                                                             first_payment: bool) -> None:
    loan = active_loan("acme", product, date(2024, 1, 31))
    if not first_payment:  # the servicing item exists: its version guards
        uow = UnitOfWork()
        repayments.repay(uow, "acme", ACTOR, NOW, loan, 100, "CNY", PAID, "ch", "r0")
        uow.commit()
    on = PAID.date()
    total = repayments.payoff_quote("acme", loan, on, on)["total"]
    slow, fast = UnitOfWork(), UnitOfWork()
    repayments.repay(slow, "acme", ACTOR, NOW, loan, total, "CNY", PAID, "ch", "r1")
    repayments.repay(fast, "acme", ACTOR, NOW, loan, total, "CNY", PAID, "ch", "r2")
    fast.commit()
    before = balances("acme", loan)
    with pytest.raises(DomainError) as caught:
        slow.commit()
    assert caught.value.kind == "conflict", caught.value
    assert balances("acme", loan) == before == {c: 0 for c in before}
    assert ledger().verify("acme").ok
