"""How many days of a close-of-business catch-up fit in one DynamoDB transaction.

A loan days behind is closed day by day (loan_state.close_day). Each notice a day raises
(reminder, overdue) is one outbox item in the step's transaction, on top of a part that does
not grow with the days (one journal, the servicing item, the loan and its audit record). A
slice takes days while its notices fit `room`, and always at least one day, so a catch-up of
any length becomes consecutive transactions under DynamoDB's limit.
"""

from __future__ import annotations

import copy
from datetime import date

from .loan_state import ONE_DAY, LoanState, Notice, Policy, close_day


def close_slice(s: LoanState, through: date, policy: Policy,
                room: int) -> tuple[LoanState, list[Notice]]:
    """A copy of `s` closed day by day towards `through`, stopping before the day whose notices
    would take the slice past `room` (the state is only copied once a notice is held, so the
    ordinary one-day step costs one copy, as before). Returns the state and its notices."""
    new, notices = copy.deepcopy(s), []
    while new.through < through:
        trial = copy.deepcopy(new) if notices else new
        more = close_day(trial, trial.through + ONE_DAY, policy)
        if notices and len(notices) + len(more) > room:
            break
        new, notices = trial, notices + more
    return new, notices
