"""The pure fold under random early, late and partial payments (no I/O, so many examples):
the step path equals the fold from scratch, nothing receivable goes negative, principal is
conserved, and a payment of the payoff closes the loan with every receivable at zero."""

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
       pays=st.lists(payment, max_size=6), payoff_gap=st.integers(1, 30))
def test_fold_is_deterministic_and_payoff_closes(weekly: bool, reduce_term: bool, fee: int,
                                                 pays: list[tuple[int, int, bool]],
                                                 payoff_gap: int) -> None:
    freq, start = (WEEKLY, date(2024, 1, 26)) if weekly else (MONTHLY, date(2024, 1, 31))
    s = loan(start=start, frequency=freq, fee=fee)
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
    while s.through < end:
        ls.close_day(s, s.through + D, p)
    assert state_json(ls.derive(base, events, end, p)) == state_json(s)
    on = end + D
    owed = sum(s.payoff(on, p.day_count).values())
    if s.status != ls.CLOSED:
        ls.apply_repayment(s, owed, on, p)
    assert s.status == ls.CLOSED
    t = s.totals(p.day_count)
    assert all(t.receivable(c) == 0 for c in ls.COMPONENTS)
