"""The servicing fold: accrual, allocation, prepayment, payoff, delinquency, replay."""

from __future__ import annotations

import copy
from datetime import date, timedelta

from chalicelib.lending import loan_state as ls
from chalicelib.lending.delinquency import DEFAULT_SETTINGS, bucket
from chalicelib.lending.state_codec import state_from, state_json
from tests.unit.servicing_core.helpers import loan, policy

D = timedelta(days=1)


def run_to(s: ls.LoanState, day: date, p: ls.Policy) -> list[ls.Notice]:
    out = []
    while s.through < day:
        out += ls.close_day(s, s.through + D, p)
    return out


def test_interest_accrues_daily_to_exactly_the_scheduled_interest() -> None:
    s, p = loan(), policy()
    first = s.installments[0]
    run_to(s, first.due, p)
    assert s.totals(p.day_count).charged["interest"] == first.interest_total()


def test_due_payment_on_time_keeps_the_loan_current() -> None:
    s, p = loan(), policy()
    first = s.installments[0]
    run_to(s, first.due - D, p)
    ls.apply_repayment(s, first.principal + first.interest_total(), first.due, p)
    second = s.installments[1].due
    run_to(s, second, p)
    assert s.installments[0].paid["principal"] == first.principal
    assert (s.dpd, s.status) == (0, "active")
    run_to(s, second + 3 * D, p)
    assert (s.dpd, s.status) == (3, "delinquent")


def test_missed_installment_ages_across_month_end_and_buckets_on_the_right_day() -> None:
    s, p = loan(start=date(2023, 12, 31)), policy()
    assert s.installments[0].due == date(2024, 1, 31)
    assert s.installments[1].due == date(2024, 2, 29)  # leap year month end
    run_to(s, date(2024, 2, 1), p)
    assert (s.dpd, s.status) == (1, "delinquent")
    assert s.installments[0].late_fee == 5_000
    run_to(s, date(2024, 3, 1), p)  # Jan 31 + 30 days
    assert s.dpd == 30 and bucket(s.dpd, DEFAULT_SETTINGS.ranges) == "1-30"
    run_to(s, date(2024, 3, 2), p)
    assert s.dpd == 31 and bucket(s.dpd, DEFAULT_SETTINGS.ranges) == "31-60"
    assert s.installments[1].late_fee == 5_000  # Feb 29 missed too: one late fee each
    run_to(s, date(2024, 5, 1), p)  # 91 days
    assert s.dpd == 91 and s.status == "defaulted"


def test_penalty_accrues_on_overdue_principal_only() -> None:
    s, p = loan(), policy()
    first = s.installments[0]
    run_to(s, first.due + 10 * D, p)
    expected = round(first.principal * 10 * 18 / 100 / 360)
    assert s.penalty_total == expected and s.installments[0].penalty == expected


def test_payoff_closes_and_every_receivable_is_zero() -> None:
    s, p = loan(), policy()
    run_to(s, date(2024, 3, 15), p)
    owed = sum(s.payoff(date(2024, 3, 16), p.day_count).values())
    ls.apply_repayment(s, owed, date(2024, 3, 16), p)
    assert s.status == ls.CLOSED
    t = s.totals(p.day_count)
    assert all(t.receivable(c) == 0 for c in ls.COMPONENTS)
    run_to(s, date(2024, 6, 1), p)
    t2 = s.totals(p.day_count)
    assert t2 == t


def test_overpayment_goes_to_credit_and_refund_takes_it() -> None:
    s, p = loan(), policy()
    owed = sum(s.payoff(date(2024, 2, 10), p.day_count).values())
    ls.apply_repayment(s, owed + 777, date(2024, 2, 10), p)
    assert s.credit == 777 and s.status == ls.CLOSED
    ls.apply_refund(s, 777)
    assert s.credit == 0


def test_prepayment_reduce_term_shortens_and_reduce_installment_keeps_count() -> None:
    for strategy, expect_fewer in ((ls.REDUCE_TERM, True), (ls.REDUCE_INSTALLMENT, False)):
        s, p = loan(), policy(prepayment=strategy)
        n = len(s.installments)
        first = s.installments[0]
        # the first installment as scheduled, then the last one's principal as a prepayment
        extra = s.installments[-1].principal
        ls.apply_repayment(s, first.principal + first.interest_total() + extra,
                           date(2024, 2, 15), p)
        assert (len(s.installments) < n) is expect_fewer
        assert s.prepaid_principal == extra
        paid = s.prepaid_principal + sum(i.paid["principal"] for i in s.installments)
        assert paid + s.outstanding_principal() == s.financed


def test_replay_equals_incremental_steps() -> None:
    s, p = loan(fee=1_000), policy()
    base = copy.deepcopy(s)
    events = [ls.Event("a", "repayment", date(2024, 3, 5), 150_000, 1),
              ls.Event("b", "repayment", date(2024, 4, 20), 400_000, 2)]
    for e in events:
        run_to(s, e.on - D, p)
        ls.apply_event(s, e, p)
    run_to(s, date(2024, 6, 1), p)
    assert state_json(ls.derive(base, events, date(2024, 6, 1), p)) == state_json(s)
    assert state_json(state_from(state_json(s))) == state_json(s)
