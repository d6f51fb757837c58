"""The pure fold under random early, late and partial payments (no I/O, so many examples),
with and without principal and interest grace: the step path equals the fold from scratch,
nothing receivable goes negative, principal is conserved, and a payment of the quote read from
a stale stored state (close of business days behind) closes the loan with every receivable at
zero and income equal to what was paid."""

from __future__ import annotations

import copy
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.lending import loan_state as ls
from chalicelib.lending.due_dates import MONTHLY
from chalicelib.lending.state_codec import state_json
from tests.unit.servicing_core.helpers import WEEKLY, loan, policy

D = timedelta(days=1)
payment = st.tuples(st.integers(0, 40), st.integers(1, 300_000), st.booleans())


@settings(max_examples=120, deadline=None)
@given(weekly=st.booleans(), reduce_term=st.booleans(), fee=st.sampled_from([0, 700]),
       grace=st.sampled_from([(0, 0), (0, 2), (2, 0), (2, 2), (2, 1), (1, 3)]),
       pays=st.lists(payment, max_size=6), payoff_gap=st.integers(1, 30),
       stale=st.integers(0, 20))
def test_fold_is_deterministic_and_payoff_closes(weekly: bool, reduce_term: bool, fee: int,
                                                 grace: tuple[int, int],
                                                 pays: list[tuple[int, int, bool]],
                                                 payoff_gap: int, stale: int) -> None:
    freq, start = (WEEKLY, date(2024, 1, 26)) if weekly else (MONTHLY, date(2024, 1, 31))
    s = loan(start=start, frequency=freq, fee=fee, principal_grace=grace[0],
             interest_grace=grace[1])
    p = policy(prepayment=ls.REDUCE_TERM if reduce_term else ls.REDUCE_INSTALLMENT)
    base, events, day = copy.deepcopy(s), [], start
    for k, (gap, amount, whole_next) in enumerate(pays):
        day += gap * D
        if whole_next:  # the next unsettled installment in full, as a borrower would
            amount = next((sum(i.owed_in_advance().values()) for i in s.installments
                           if any(i.owed_in_advance().values())), amount) or amount
        while s.through < day - D:
            ls.close_day(s, s.through + D, p)
        e = ls.Event(f"e{k}", "repayment", day, amount, k)
        events.append(e)
        ls.apply_event(s, e, p)
        t = s.totals(p.day_count)
        assert all(t.receivable(c) >= 0 for c in ls.COMPONENTS)
        assert sum(i.principal for i in s.installments) + s.prepaid_principal == s.financed
        assert t.receivable("principal") == s.outstanding_principal()
    end = day + payoff_gap * D
    stored = copy.deepcopy(s)  # close of business stopped `stale` days before the payoff
    while stored.through < end - stale * D:
        ls.close_day(stored, stored.through + D, p)
    while s.through < end:
        ls.close_day(s, s.through + D, p)
    assert state_json(ls.derive(base, events, end, p)) == state_json(s)
    on = end + D
    quoted, _ = ls.before(base, stored, events, on, p)
    assert state_json(quoted) == state_json(s)
    owed = sum(quoted.payoff(on, p.day_count).values())
    s, _ = ls.advance(base, stored, events, ls.Event("off", "repayment", on, owed or 1, 99), p)
    assert s.status == ls.CLOSED
    t = s.totals(p.day_count)
    assert all(t.receivable(c) == 0 for c in ls.COMPONENTS)
    assert t.charged["interest"] == t.paid["interest"]


@settings(max_examples=80, deadline=None)
@given(grace=st.sampled_from([(0, 0), (0, 2), (2, 2)]), over=st.integers(1, 50_000),
       pays=st.lists(st.tuples(st.integers(1, 40), st.integers(1, 400_000)), min_size=1,
                     max_size=4),
       bounced=st.integers(0, 4), refund_part=st.integers(1, 100))
def test_a_charge_back_after_a_refund_always_folds_and_the_quote_still_closes(
        grace: tuple[int, int], over: int, pays: list[tuple[int, int]], bounced: int,
        refund_part: int) -> None:
    """Payments, a payoff with an overpayment, a refund of part of the credit, then any one
    payment charged back: the refold never refuses, nothing receivable goes negative, and the
    quote (which adds a negative credit) paid the next day closes at zero with no credit."""
    start = date(2024, 1, 31)
    base = loan(start=start, principal_grace=grace[0], interest_grace=grace[1])
    p = policy()
    day, events = start, []
    s = copy.deepcopy(base)
    for k, (gap, amount) in enumerate(pays):
        day += gap * D
        events.append(ls.Event(f"e{k}", "repayment", day, amount, k))
        s, _ = ls.advance(base, s, events[:-1], events[-1], p)
    day += D
    quoted, _ = ls.before(base, s, events, day, p)
    owed = sum(quoted.payoff(day, p.day_count).values()) - quoted.credit
    events.append(ls.Event("off", "repayment", day, max(owed, 0) + over, 50))
    s, _ = ls.advance(base, s, events[:-1], events[-1], p)
    assert s.status == ls.CLOSED and s.credit >= over
    refund = ls.Event("rf", "refund", day + D, max(s.credit * refund_part // 100, 1), 51)
    s, _ = ls.advance(base, s, events, refund, p)
    events.append(refund)
    gone = events[bounced % (len(events) - 1)]
    events = [ls.Event(e.id, e.kind, e.on, e.amount, e.seq, e is gone) for e in events]
    after = ls.derive(base, events, s.through, p)
    t = after.totals(p.day_count)
    assert all(t.receivable(c) >= 0 for c in ls.COMPONENTS)
    on = after.through + D
    total = max(sum(after.payoff(on, p.day_count).values()) - after.credit, 0)
    paid, _ = ls.advance(base, after, events, ls.Event("z", "repayment", on, total or 1, 60), p)
    t = paid.totals(p.day_count)
    assert paid.status == ls.CLOSED and all(t.receivable(c) == 0 for c in ls.COMPONENTS)
    assert paid.credit == (0 if total else after.credit + 1)
