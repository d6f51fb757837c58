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
