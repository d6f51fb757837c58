"""Issue 14's engine rules on the pure fold: interest is earned every day, grace or not; a
payoff quote for a date and a payment on that date are the same fold; a charge-back is never
refused because the credit it created was refunded."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import date, timedelta

import pytest

from chalicelib.lending import loan_state as ls
from chalicelib.lending.accrual import earned
from chalicelib.lending.errors import LendingError
from chalicelib.lending.state_codec import state_json
from tests.unit.servicing_core.helpers import loan, policy

D = timedelta(days=1)
START = date(2024, 1, 31)
DUE = [date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]  # the first three periods


def run_to(s: ls.LoanState, day: date, p: ls.Policy) -> None:
    while s.through < day:
        ls.close_day(s, s.through + D, p)


def charged_interest(s: ls.LoanState, p: ls.Policy) -> int:
    return s.totals(p.day_count).charged["interest"]


def assert_closed_at_zero(s: ls.LoanState, p: ls.Policy) -> None:
    t = s.totals(p.day_count)
    assert s.status == ls.CLOSED and s.credit == 0
    assert all(t.receivable(c) == 0 for c in ls.COMPONENTS)
    assert t.charged["interest"] == t.paid["interest"]  # income = what was earned and paid


def pay_off(s: ls.LoanState, on: date, p: ls.Policy) -> int:
    owed = sum(s.payoff(on, p.day_count).values()) - s.credit
    ls.apply_repayment(s, owed, on, p)
    return owed


# --- 1. interest in a grace period --------------------------------------------------------

def test_interest_grace_interest_is_earned_over_its_own_period() -> None:
    s, p = loan(interest_grace=2), policy()
    assert [i.interest_total() for i in s.installments[:3]] == [0, 0, 12000 + 10049 + 8079]
    run_to(s, DUE[0], p)
    assert charged_interest(s, p) == 12000  # period 1's interest, earned by its end
    run_to(s, DUE[1], p)
    assert charged_interest(s, p) == 12000 + 10049
    mid = date(2024, 4, 15)
    run_to(s, mid, p)
    assert charged_interest(s, p) == 12000 + 10049 + earned((DUE[1], DUE[2], 8079), mid,
                                                            p.day_count)


def test_full_grace_rows_skipped_still_earn_per_period() -> None:
    s, p = loan(principal_grace=2, interest_grace=2), policy()
    assert s.installments[0].due == DUE[2] and s.installments[0].interest_total() == 36000
    run_to(s, DUE[0], p)
    assert charged_interest(s, p) == 12000
    run_to(s, DUE[1], p)
    assert charged_interest(s, p) == 24000


def test_principal_grace_only_earns_each_row_over_its_row() -> None:
    s, p = loan(principal_grace=2), policy()
    run_to(s, DUE[0], p)
    assert charged_interest(s, p) == 12000 == s.installments[0].interest_total()


@pytest.mark.parametrize("grace", [{"interest_grace": 2},
                                   {"principal_grace": 2, "interest_grace": 2},
                                   {"principal_grace": 2, "interest_grace": 1}])
def test_payoff_during_an_interest_grace_collects_the_interest_earned(grace: dict) -> None:
    s, p = loan(**grace), policy()
    on = date(2024, 2, 15)
    run_to(s, on - D, p)
    expected = earned((START, DUE[0], 12000), on, p.day_count)
    assert s.payoff(on, p.day_count)["interest"] == expected > 0
    pay_off(s, on, p)
    assert_closed_at_zero(s, p)
    assert s.totals(p.day_count).paid["interest"] == expected
    run_to(s, date(2024, 8, 1), p)
    assert_closed_at_zero(s, p)


def test_payoff_after_an_interest_grace_collects_all_the_deferred_interest() -> None:
    s, p = loan(interest_grace=2), policy()
    for k in (0, 1):  # the grace rows' principal, paid on time
        run_to(s, DUE[k] - D, p)
        ls.apply_repayment(s, s.installments[k].principal, DUE[k], p)
    on = date(2024, 4, 15)
    run_to(s, on - D, p)
    assert s.dpd == 0
    expected = 12000 + 10049 + earned((DUE[1], DUE[2], 8079), on, p.day_count)
    assert s.payoff(on, p.day_count)["interest"] == expected
    pay_off(s, on, p)
    assert_closed_at_zero(s, p)


@pytest.mark.parametrize("strategy", [ls.REDUCE_TERM, ls.REDUCE_INSTALLMENT])
@pytest.mark.parametrize("prepaid_on", [date(2024, 2, 10), date(2024, 3, 10),
                                        date(2024, 4, 10)])
def test_prepayment_during_and_after_an_interest_grace_keeps_what_was_earned(
        strategy: str, prepaid_on: date) -> None:
    s, p = loan(interest_grace=2), policy(prepayment=strategy)
    base = copy.deepcopy(s)
    events = []
    for k, due in enumerate(DUE[:2]):  # the grace rows' principal, paid on time
        if due < prepaid_on:
            run_to(s, due - D, p)
            events.append(ls.Event(f"r{k}", "repayment", due, s.installments[k].principal, k))
            ls.apply_event(s, events[-1], p)
    run_to(s, prepaid_on - D, p)
    # each period's interest has been earned day by day, in the grace too
    assert charged_interest(s, p) == sum(earned(seg, prepaid_on - D, p.day_count) for seg in (
        (START, DUE[0], 12000), (DUE[0], DUE[1], 10049), (DUE[1], DUE[2], 8079))) > 0
    before = charged_interest(s, p)
    events.append(ls.Event("pre", "repayment", prepaid_on, 600_000, 9))
    ls.apply_event(s, events[-1], p)
    assert s.prepaid_principal > 0
    t = s.totals(p.day_count)
    assert all(t.receivable(c) >= 0 for c in ls.COMPONENTS)
    assert t.charged["interest"] >= before  # nothing earned is dropped by the prepayment
    for day in (prepaid_on + 3 * D, date(2024, 5, 20)):
        run_to(s, day, p)
        t = s.totals(p.day_count)
        assert all(t.receivable(c) >= 0 for c in ls.COMPONENTS)
    on = date(2024, 5, 21)
    events.append(ls.Event("off", "repayment", on, pay_off(s, on, p), 10))
    assert_closed_at_zero(s, p)
    assert state_json(ls.derive(base, events, on - D, p)) == state_json(s)


def test_prepayment_during_the_grace_scales_the_rest_of_the_period_to_the_new_balance() -> None:
    s, p = loan(interest_grace=2), policy()
    on = date(2024, 2, 10)
    run_to(s, on - D, p)
    first = s.installments[0].principal
    ls.apply_repayment(s, first + 100_000, on, p)  # the running row as scheduled + prepayment
    assert s.prepaid_principal == 100_000
    collecting = next(i for i in s.installments if i.n == 3)
    e = earned((START, DUE[0], 12000), on, p.day_count)
    rest_of_period_1 = collecting.segs[1]
    assert collecting.segs[0] == (START, on, e)
    unpaid = 1_200_000 - first
    assert rest_of_period_1 == (on, DUE[0], (2 * (12000 - e) * (unpaid - 100_000) + unpaid)
                                // (2 * unpaid))


# --- 2. the quote and the payment are one fold --------------------------------------------

def test_a_quote_for_a_later_date_is_what_a_payment_that_day_settles() -> None:
    s, p = loan(), policy()
    base, stored = copy.deepcopy(s), copy.deepcopy(s)
    run_to(stored, date(2024, 2, 10), p)  # close of business stopped before the due date
    on = date(2024, 3, 20)  # the first installment 20 days late: late fee and penalty
    quote, _ = ls.before(base, stored, [], on, p)
    owed = quote.payoff(on, p.day_count)
    assert owed["penalty"] > 0 and owed["fee"] == p.late_fee
    new = ls.Event("x", "repayment", on, sum(owed.values()), 1)
    paid, notices = ls.advance(base, stored, [], new, p)
    assert paid.through == on - D
    assert [n.kind for n in notices] == ["installment.due_soon", "installment.overdue"]
    assert_closed_at_zero(paid, p)
    run_to(paid, date(2024, 4, 30), p)  # close of business then runs for the days
    assert_closed_at_zero(paid, p)
    assert state_json(ls.derive(base, [new], date(2024, 4, 30), p)) == state_json(paid)


def test_a_quote_for_the_disbursement_day_works_before_any_close_of_business() -> None:
    s, p = loan(), policy()
    quote, _ = ls.before(s, s, [], START, p)
    owed = quote.payoff(START, p.day_count)
    assert owed == {"principal": 1_200_000, "interest": 0, "fee": 0, "penalty": 0}
    paid, _ = ls.advance(s, s, [], ls.Event("x", "repayment", START, 1_200_000, 1), p)
    assert_closed_at_zero(paid, p)


def test_a_quote_for_a_day_already_closed_reads_the_fold_before_that_days_close() -> None:
    s, p = loan(), policy()
    base = copy.deepcopy(s)
    on = DUE[0] + D  # the first installment missed; its late fee falls on the next close
    run_to(s, on + 5 * D, p)
    quote, _ = ls.before(base, s, [], on, p)
    owed = quote.payoff(on, p.day_count)
    assert owed["fee"] == 0 and owed["penalty"] == 0
    paid, _ = ls.advance(base, s, [], ls.Event("x", "repayment", on, sum(owed.values()), 1), p)
    assert paid.through == s.through
    assert_closed_at_zero(paid, p)


def test_a_new_refund_is_checked_against_the_credit_before_it() -> None:
    s, p = loan(), policy()
    pay_off(s, date(2024, 2, 10), p)
    ls.apply_repayment(s, 700, date(2024, 2, 10), p)
    with pytest.raises(LendingError) as err:
        ls.advance(s, s, [], ls.Event("f", "refund", date(2024, 2, 11), 701, 3), p)
    assert err.value.problems[0].type == "refund_exceeds_credit"
    after, _ = ls.advance(s, s, [], ls.Event("f", "refund", date(2024, 2, 11), 700, 3), p)
    assert after.credit == 0


# --- 3. charge-backs after refunds --------------------------------------------------------

def test_a_charge_back_of_a_refunded_overpayment_leaves_it_owed() -> None:
    s, p = loan(), policy()
    base = copy.deepcopy(s)
    on = date(2024, 2, 10)
    run_to(s, on - D, p)
    owed = sum(s.payoff(on, p.day_count).values())
    events = [ls.Event("pay", "repayment", on, owed + 500, 1),
              ls.Event("rfd", "refund", on + D, 500, 2)]
    assert ls.derive(base, events, date(2024, 2, 20), p).credit == 0
    reversed_ = [ls.Event("pay", "repayment", on, owed + 500, 1, reversed=True), events[1]]
    after = ls.derive(base, reversed_, date(2024, 2, 20), p)  # never refund_exceeds_credit
    assert after.credit == -500 and after.status == "active"
    quote = sum(after.payoff(date(2024, 2, 21), p.day_count).values()) - after.credit
    assert quote == sum(after.payoff(date(2024, 2, 21), p.day_count).values()) + 500
    ls.apply_repayment(after, quote, date(2024, 2, 21), p)
    assert_closed_at_zero(after, p)


def test_a_partial_payment_settles_the_owed_credit_first() -> None:
    s, p = loan(), policy()
    s.refunded = 300  # a refunded credit whose payment was charged back
    ls.apply_repayment(s, 1_000, date(2024, 2, 10), p)
    assert s.credit == 0
    assert sum(i.paid["principal"] + i.paid["interest"] for i in s.installments) == 700


def test_a_reversal_reopens_a_loan_a_later_payoff_closed() -> None:
    s, p = loan(), policy()
    base = copy.deepcopy(s)
    first = s.installments[0]
    events = [ls.Event("a", "repayment", DUE[0], first.principal + first.interest_total(), 1)]
    run_to(s, DUE[0] - D, p)
    ls.apply_event(s, events[0], p)
    on = date(2024, 3, 20)
    run_to(s, on - D, p)
    events.append(ls.Event("b", "repayment", on, pay_off(s, on, p), 2))
    assert s.status == ls.CLOSED
    run_to(s, date(2024, 3, 25), p)
    events[0] = ls.Event("a", "repayment", DUE[0], events[0].amount, 1, reversed=True)
    after = ls.derive(base, events, s.through, p)
    assert after.status == "active" and after.stopped_on is None and after.dpd == 0
    assert after.outstanding_principal() > 0 and after.credit == 0
    late = ls.derive(base, events[1:], s.through, p)  # the same, as the twin that never paid
    assert state_json(late) == state_json(after)


def test_a_write_off_forgives_a_negative_credit_too() -> None:
    s, p = loan(), policy()
    s.refunded = 300  # a refunded credit whose payment was charged back
    before = s.totals(p.day_count)
    amounts = ls.write_off(s, p.day_count)
    assert amounts["principal"] == 1_200_000 and "credit" not in amounts
    assert s.credit == 0 and s.written_off["credit"] == 300
    assert s.totals(p.day_count).written_off["credit"] - before.written_off.get("credit", 0) == 300


def test_a_charge_back_after_a_write_off_refolds_past_it() -> None:
    s, p = loan(), policy()
    base = copy.deepcopy(s)
    first = s.installments[0]
    paid = ls.Event("a", "repayment", DUE[0], first.principal + first.interest_total(), 1)
    run_to(s, DUE[0] - D, p)
    ls.apply_event(s, paid, p)
    run_to(s, date(2024, 6, 1), p)
    events = [paid, ls.Event("wo", ls.WRITE_OFF_EVENT, s.through + D, 0, 2)]
    ls.apply_event(s, events[1], p)
    assert state_json(ls.derive(base, events, s.through, p)) == state_json(s)
    after = ls.derive(base, [replace(paid, reversed=True), events[1]], s.through, p)
    assert after.status == ls.WRITTEN_OFF and after.stopped_on == s.stopped_on
    t = after.totals(p.day_count)
    assert all(t.receivable(c) == 0 for c in ls.COMPONENTS)
    assert after.written_off["principal"] == s.written_off["principal"] + first.principal


# --- what a payoff leaves on the installments due later (found by the reference model) ----

def test_a_payoff_drops_every_later_fee_it_does_not_collect() -> None:
    """An installment owing no principal or interest (0% rate, principal grace) counted as
    settled, so a payoff before its due date left its fee on it, never owed nor paid."""
    s, p = loan(rate="0", fee=500, principal_grace=2), policy(annual_rate_percent=0)
    on = START + 5 * D
    pay_off(s, on, p)
    assert_closed_at_zero(s, p)
    assert [(i.fee, i.paid["fee"]) for i in s.installments if i.due > on] == [
        (0, 0)] * len([i for i in s.installments if i.due > on])


def test_a_payoff_never_shows_less_interest_than_was_paid_in_advance() -> None:
    """The running installment's interest paid in advance (as scheduled, no rebate) stays what
    it shows after a payoff, not the part earned by then."""
    s, p = loan(), policy()
    run_to(s, DUE[0] - D, p)
    ls.apply_repayment(s, s.installments[0].arrears(DUE[0], p.day_count), DUE[0], p)
    run_to(s, DUE[0] + 4 * D, p)
    second = s.installments[1]  # its interest is 100.49: ~33.50 earned by the payoff
    ahead = 5_000  # paid ahead, as scheduled: more than earned, less than the whole
    ls.apply_repayment(s, ahead, DUE[0] + 5 * D, p)
    assert second.paid["interest"] == ahead
    run_to(s, DUE[0] + 9 * D, p)
    pay_off(s, DUE[0] + 10 * D, p)
    assert_closed_at_zero(s, p)
    assert second.paid["interest"] == second.interest_total() == ahead


def test_a_payoff_on_the_disbursement_day_keeps_the_interest_paid_before_it() -> None:
    """Found by the reference model: a part of the first interest paid on the disbursement day,
    then a payoff that day, left the installment showing no interest beside 0.78 paid."""
    s, p = loan(), policy()
    ls.apply_repayment(s, 78, START, p)
    pay_off(s, START, p)
    assert_closed_at_zero(s, p)
    first = s.installments[0]
    assert first.paid["interest"] == first.interest_total() == 78


def test_a_prepayment_after_the_last_closed_day_leaves_what_was_earned_before_it() -> None:
    """Found by the reference model (semi-monthly, two periods of interest grace, 30/360): a
    back-dated prepayment on 08-01 split the grace segment at 08-01; a second one on 08-16,
    after the last closed day 08-15, merged the split segment again, re-spreading its interest
    over 07-31..08-16, so the interest recognised by 08-15 fell from 7.21 to 7.19."""
    rows = [{"number": 1, "due_date": date(2025, 8, 16), "principal": 0, "interest": 0,
             "fee": 500},
            {"number": 2, "due_date": date(2025, 8, 31), "principal": 55678, "interest": 0,
             "fee": 500},
            {"number": 3, "due_date": date(2025, 9, 16), "principal": 55957, "interest": 3087,
             "fee": 500, "earned": [(date(2025, 7, 31), date(2025, 8, 16), 1122),
                                    (date(2025, 8, 16), date(2025, 8, 31), 1122),
                                    (date(2025, 8, 31), date(2025, 9, 16), 843)]},
            {"number": 4, "due_date": date(2025, 9, 30), "principal": 56237, "interest": 563,
             "fee": 500},
            {"number": 5, "due_date": date(2025, 10, 16), "principal": 56528, "interest": 282,
             "fee": 500}]
    base, p = ls.initial(224400, date(2025, 7, 31), rows), policy()
    events = [ls.Event("a", "repayment", date(2025, 8, 1), 113554, 1),
              ls.Event("b", "repayment", date(2025, 8, 16), 500, 2)]
    before = ls.derive(base, events[:1], date(2025, 8, 15), p)
    after = ls.derive(base, events, date(2025, 8, 15), p)
    # 0.70 earned on 07-31..08-01, then 14 of 15 days of the rest (6.97) on 08-01..08-16
    assert charged_interest(before, p) == charged_interest(after, p) == 70 + 651
