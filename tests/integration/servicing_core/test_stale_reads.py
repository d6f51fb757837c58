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



def test_cob_step_racing_a_repayment_still_closes_the_day(api: Any, acme: dict[str, str],
                                                          product: str,
                                                          monkeypatch: Any) -> None:
    """A repayment commits between close of business reading a loan and writing its day:
    the step must still leave the loan closed through the date (a bare "conflict" would let
    the run report itself completed with this loan's day left open)."""
    from chalicelib.services import cob, loan_lifecycle, servicing
    from chalicelib.store import servicing as store

    loan_id = active_loan("acme", product, date(2024, 1, 31))
    real_load, raced = servicing.load, []

    def load_then_repay(*args: Any, **kwargs: Any) -> Any:
        loaded = real_load(*args, **kwargs)
        if len(args) > 2 and not raced:  # close_loan's read (it passes settings, loan, ...)
            raced.append(True)
            uow = UnitOfWork()
            repayments.repay(uow, "acme", ACTOR, NOW, loan_id, 5_000, "CNY", PAID, "ch", "r")
            uow.commit()
        return loaded

    monkeypatch.setattr(servicing, "load", load_then_repay)
    day = date(2024, 2, 20)
    ctx = cob.Context("acme", day, Actor("cob", "system", "run"), NOW,
                      servicing.delinquency_settings("acme"), {})
    outcome = cob.close_loan(ctx, loan_lifecycle.load("acme", loan_id),
                             store.get_servicing("acme", loan_id) or {})
    assert raced and outcome == "stepped", outcome
    loaded = real_load("acme", loan_id)
    assert loaded.state.through == day
    assert [e.id for e in loaded.events if e.kind == "repayment"]  # the payment stands
    t = loaded.state.totals(loaded.policy.day_count)
    assert balances("acme", loan_id) == {c: t.receivable(c) for c in balances("acme", loan_id)}
    assert ledger().verify("acme").ok
