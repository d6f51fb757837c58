"""The one place that names what today's engine is known to get wrong (issue 14, being fixed
in parallel). While a flag is in KNOWN_BROKEN the differential test does not DRAW the
sequences that exercise it (the comparison itself is never weakened), and
test_known_divergences.py holds its minimal reproduction as a strict xfail. After merging a
fix, remove its flag: the generator then draws those sequences and the xfail must be turned
into a plain test (a strict xfail that passes fails the suite, as a reminder).

`REFERENCE_KNOWN_BROKEN=none` (or a comma list) overrides the set, to see the divergences.
"""

from __future__ import annotations

import os

ALL = {
    # A payoff or prepayment during or after an interest grace collects the deferred interest.
    "grace_interest",
    # A payoff quote for a later date includes what COB charges up to it; paid then, it closes
    # the loan at zero. Also: a payment dated after a COB gap sees those days' charges first.
    "future_payoff",
    # A payoff quote for today works on the disbursement day.
    "disbursement_day_quote",
    # A charge-back is never refused because the credit it created was refunded.
    "chargeback_after_refund",
    # A repayment on a closed/written-off loan, or above the outstanding by more than the
    # product's overpayment tolerance, is a 422 (and the product setting exists).
    "intake_refusals",
}

#: Divergences this model found beyond the issue (see the README's reference-model section).
FOUND = {
    # After a payoff, GET .../servicing shows later installments inconsistently: one whose
    # principal and interest were paid (or are zero) keeps its installment fee though it is
    # never owed, and one paid in advance shows less interest than was paid on it.
    "view_after_payoff",
    # A reversal that reopens a closed loan refolds it only through the day it closed (COB
    # skipped it since): status, DPD, late fees and penalties of the days between are missing
    # until the next COB.
    "reopen_stale_through",
    # A back-dated repayment on a written-off loan is accepted, and its refold (which knows no
    # write-off event) silently undoes the write-off: status back to delinquent, receivables
    # reinstated in the ledger.
    "writeoff_undone",
}
ALL |= FOUND

_env = os.environ.get("REFERENCE_KNOWN_BROKEN")
KNOWN_BROKEN: frozenset[str] = (
    frozenset(ALL) if _env is None
    else frozenset() if _env.strip().lower() in ("", "none")
    else frozenset(x.strip() for x in _env.split(",")))

#: `PUT /v1/sandbox/clock` exists in this branch (tests/reference/driver.py set_today).
SANDBOX_CLOCK = True


def broken(name: str) -> bool:
    assert name in ALL, name
    return name in KNOWN_BROKEN
