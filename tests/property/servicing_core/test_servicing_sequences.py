"""Random repayment sequences with close of business and reversals: at every step the loan's
outstanding equals its ledger balances and the ledger verifies."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.errors import DomainError
from chalicelib.services import repayments, servicing
from chalicelib.store.audit import Actor
from chalicelib.store.ledger import ledger
from chalicelib.store.uow import UnitOfWork
from tests.integration.conftest import api  # noqa: F401
from tests.integration.contracts.helpers import make_product, tenant_keys
from tests.integration.servicing_core.loans import active_loan, balances
from tests.integration.servicing_core.test_cob import run_day

ACTOR = Actor("prop", "operator", "r")
START = date(2024, 1, 31)
NOW = datetime(2025, 1, 1, tzinfo=UTC)

step = st.one_of(
    st.tuples(st.just("pay"), st.integers(1, 40), st.integers(1, 400_000)),
    st.tuples(st.just("cob"), st.integers(1, 45), st.just(0)),
    st.tuples(st.just("reverse"), st.integers(0, 7), st.just(0)),
    st.tuples(st.just("payoff"), st.integers(1, 20), st.just(0)),
    # the next unsettled installment, n days before its due date, plus 0..3 extra units
    st.tuples(st.just("next"), st.integers(0, 6), st.integers(0, 3)),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=8),
       tolerance=st.sampled_from(["0", "50.00", "5000.00"]))
def test_random_sequences_keep_state_and_ledger_equal(api: Any, steps: list[Any],  # noqa: F811
                                                      tolerance: str) -> None:
    tenant = f"p{uuid.uuid4().hex[:10]}"
    keys = tenant_keys(api, tenant)
    product = make_product(api, keys["admin"], overpayment_tolerance=tolerance,
                           fees={"late": "50.00", "penalty_rate_percent": "24"})["id"]
    loan_id = active_loan(tenant, product, START)
    day, paid = START, []
    for kind, n, amount in steps:
        loaded = servicing.load(tenant, loan_id)
        try:
            uow = UnitOfWork()
            if kind in ("pay", "payoff", "next"):
                on = max(day, loaded.state.through) + timedelta(days=n)
                if kind == "next":
                    on, amount = _next_installment(loaded.state, day, n, amount)
                elif kind == "payoff":
                    amount = repayments.payoff_quote(tenant, loan_id, on, on)["total"] or 1
                at = datetime.combine(on, time(9), UTC)
                paid.append(repayments.repay(uow, tenant, ACTOR, NOW, loan_id, amount, "CNY",
                                             at, "ch", f"ref-{uuid.uuid4().hex[:12]}")["id"])
                day = on
            elif kind == "cob":
                day = max(day, loaded.state.through) + timedelta(days=n)
                run_day(tenant, day)
            elif paid:
                repayments.reverse(uow, tenant, ACTOR, NOW, paid[n % len(paid)], "bounced")
            uow.commit()
        except DomainError as exc:
            assert exc.kind in ("conflict", "validation-error"), exc
        loaded = servicing.load(tenant, loan_id)
        t = loaded.state.totals(loaded.policy.day_count)
        expected = {c: t.receivable(c) for c in ("principal", "interest", "fee", "penalty")}
        assert expected == balances(tenant, loan_id)
        assert all(v >= 0 for v in expected.values())
        assert (loaded.loan.status == "closed") == (loaded.state.status == "closed")
        if loaded.state.status == "closed":
            assert set(expected.values()) == {0}
    report = ledger().verify(tenant)
    assert report.ok, report.discrepancies


def _next_installment(s: Any, day: date, early: int, extra_units: int) -> tuple[date, int]:
    """The date `early` days before the next unsettled installment's due date (not before the
    last step) and its full scheduled amount plus `extra_units` × 100.00."""
    after = max(day, s.through) + timedelta(days=1)
    for i in s.installments:
        owed = sum(i.owed_in_advance().values())
        if owed and i.due >= after:
            return max(after, i.due - timedelta(days=early)), owed + extra_units * 10_000
    return after, 1 + extra_units * 10_000
