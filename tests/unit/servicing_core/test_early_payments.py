"""Paying before the due date (issue #7): the installments paid in advance are settled as
scheduled and never owed again; only what is beyond them prepays principal and reshapes."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import pytest

from chalicelib.lending import loan_state as ls
from chalicelib.lending.due_dates import MONTHLY, Frequency
from chalicelib.lending.state_codec import state_json
from tests.unit.servicing_core.helpers import WEEKLY, loan, policy
from tests.unit.servicing_core.test_loan_state import run_to

D = timedelta(days=1)
# monthly across Feb 29 → Mar; weekly from a Friday, first due Feb 2 (paid in January)
PLANS = [pytest.param(MONTHLY, date(2024, 1, 31), id="monthly"),
         pytest.param(WEEKLY, date(2024, 1, 26), id="weekly")]


def full(i: ls.Inst) -> int:
    return i.principal + i.interest_total() + i.fee


def snapshot(i: ls.Inst) -> tuple[object, ...]:
    return (i.n, i.due, i.principal, i.fee, list(i.segs), dict(i.paid))


def receivables(s: ls.LoanState, p: ls.Policy) -> dict[str, int]:
    t = s.totals(p.day_count)
    return {c: t.receivable(c) for c in ls.COMPONENTS}


@pytest.mark.parametrize(("freq", "start"), PLANS)
def test_next_installment_paid_three_days_early_is_not_owed_again(freq: Frequency,
                                                                  start: date) -> None:
    s, p = loan(start=start, frequency=freq, fee=1_000), policy()
    first, second = s.installments[0], snapshot(s.installments[1])
    on = first.due - 3 * D
    run_to(s, on - D, p)
    ls.apply_repayment(s, full(first), on, p)
    assert s.installments[0].paid == {"principal": first.principal,
                                      "interest": first.interest_total(), "fee": 1_000,
                                      "penalty": 0}
    assert s.prepaid_principal == 0 and s.credit == 0
    run_to(s, first.due + 5 * D, p)
    assert (s.dpd, s.status) == (0, "active")
    assert s.installments[0].late_fee == 0 and s.penalty_total == 0
    assert snapshot(s.installments[1]) == second
    assert s.installments[0].arrears(s.through, p.day_count) == 0
    r = receivables(s, p)
    assert r["principal"] == s.outstanding_principal() and min(r.values()) >= 0


@pytest.mark.parametrize(("freq", "start"), PLANS)
def test_two_installments_paid_early_both_settled(freq: Frequency, start: date) -> None:
    s, p = loan(start=start, frequency=freq), policy()
    one, two, three = s.installments[0], s.installments[1], snapshot(s.installments[2])
    on = one.due - 2 * D
    ls.apply_repayment(s, full(one) + full(two), on, p)
    assert s.prepaid_principal == 0 and len(s.installments) == 6
    run_to(s, two.due + 3 * D, p)
    assert (s.dpd, s.status) == (0, "active")
    assert all(i.late_fee == 0 for i in s.installments)
    assert snapshot(s.installments[2]) == three


@pytest.mark.parametrize(("freq", "start"), PLANS)
def test_installment_plus_extra_reduce_term_takes_the_extra_off_the_last(
        freq: Frequency, start: date) -> None:
    s, p = loan(start=start, frequency=freq), policy(prepayment=ls.REDUCE_TERM)
    one, two = s.installments[0], snapshot(s.installments[1])
    last_principal = s.installments[-1].principal
    extra = 50_000
    ls.apply_repayment(s, full(one) + extra, one.due - 3 * D, p)
    assert s.prepaid_principal == extra
    assert s.installments[-1].principal == last_principal - extra
    assert s.installments[1].principal == two[2]  # the next one keeps its principal
    assert s.outstanding_principal() + one.principal + extra == s.financed
    run_to(s, one.due + 2 * D, p)
    assert (s.dpd, s.status) == (0, "active")


def test_extra_of_a_whole_last_principal_shortens_the_term() -> None:
    s, p = loan(), policy(prepayment=ls.REDUCE_TERM)
    one, last = s.installments[0], s.installments[-1].principal
    ls.apply_repayment(s, full(one) + last, one.due - 3 * D, p)
    assert len(s.installments) == 5 and s.prepaid_principal == last


@pytest.mark.parametrize(("freq", "start"), PLANS)
def test_installment_plus_extra_reduce_installment_lowers_the_rest(freq: Frequency,
                                                                   start: date) -> None:
    s, p = loan(start=start, frequency=freq), policy(prepayment=ls.REDUCE_INSTALLMENT)
    one = s.installments[0]
    before = [(i.principal, i.interest_total()) for i in s.installments[1:]]
    extra = 50_000
    ls.apply_repayment(s, full(one) + extra, one.due - 3 * D, p)
    after = [(i.principal, i.interest_total()) for i in s.installments[1:]]
    assert len(after) == len(before) == 5
    assert all(a[0] < b[0] and a[1] <= b[1] for a, b in zip(after, before, strict=True))
    assert sum(b[0] for b in before) - sum(a[0] for a in after) == extra
    run_to(s, one.due + 2 * D, p)
    assert (s.dpd, s.status) == (0, "active")


def test_partial_early_payment_then_the_rest_on_the_due_date_keeps_the_loan_current() -> None:
    s, p = loan(frequency=WEEKLY, start=date(2024, 1, 26)), policy()
    one = s.installments[0]
    ls.apply_repayment(s, 100_000, one.due - 4 * D, p)
    ls.apply_repayment(s, full(one) - 100_000, one.due, p)
    assert s.prepaid_principal == 0
    run_to(s, one.due + 3 * D, p)
    assert (s.dpd, s.status) == (0, "active")


def test_payoff_after_an_early_installment_closes_at_zero_with_no_rebate_of_paid_interest(
) -> None:
    s, p = loan(), policy()
    one = s.installments[0]
    ls.apply_repayment(s, full(one), one.due - 3 * D, p)
    run_to(s, one.due - D, p)
    on = one.due - D  # before the first due date: its interest was paid in full, kept
    owed = sum(s.payoff(on, p.day_count).values())
    assert owed == s.outstanding_principal()  # the next period has not started: no interest
    ls.apply_repayment(s, owed, on, p)
    assert s.status == ls.CLOSED and s.credit == 0
    t = s.totals(p.day_count)
    assert set(receivables(s, p).values()) == {0}
    assert t.paid["interest"] == one.interest_total()


def test_a_payment_of_the_payoff_is_a_payoff_even_on_the_last_installment() -> None:
    s, p = loan(n=3), policy()
    for i in s.installments[:2]:
        run_to(s, i.due - D, p)
        ls.apply_repayment(s, full(i), i.due, p)
    last = s.installments[-1]
    on = last.due - 3 * D
    run_to(s, on - D, p)
    assert sum(s.payoff(on, p.day_count).values()) < full(last)  # unearned interest rebated
    ls.apply_repayment(s, full(last), on, p)
    assert s.status == ls.CLOSED and s.credit > 0
    assert set(receivables(s, p).values()) == {0}


@pytest.mark.parametrize(("freq", "start"), PLANS)
def test_early_payments_fold_equals_the_step_path(freq: Frequency, start: date) -> None:
    s, p = loan(start=start, frequency=freq, fee=500), policy()
    base = copy.deepcopy(s)
    one, two = s.installments[0], s.installments[1]
    events = [ls.Event("a", "repayment", one.due - 3 * D, full(one) + 30_000, 1),
              ls.Event("b", "repayment", two.due - 1 * D, 40_000, 2),
              ls.Event("c", "repayment", two.due + 2 * D, 300_000, 3)]
    for e in events:
        run_to(s, e.on - D, p)
        ls.apply_event(s, e, p)
    end = s.installments[-1].due + 10 * D
    run_to(s, end, p)
    assert state_json(ls.derive(base, events, end, p)) == state_json(s)
