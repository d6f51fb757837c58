"""When an accepted loan that was never paid out expires (pure).

A loan waiting for its signature (`pending_contract`) or its payout (`pending_disbursement`)
expires `days` business days after its acceptance, counted in the tenant's business dates
(its time zone): accepted on D with 30 days, it is still open on D+29 and expires on D+30.
A loan `disbursing` never expires (money may be moving); a failed payout returns the loan to
`pending_disbursement` with the same acceptance date, so the clock is not reset.
"""

from __future__ import annotations

from datetime import date, timedelta

DEFAULT_DAYS = 30
EXPIRABLE = ("pending_contract", "pending_disbursement")


def expires_on(accepted_on: date, days: int) -> date:
    """The first business date on which the loan is expired."""
    return accepted_on + timedelta(days=days)


def is_expired(status: str, accepted_on: date, days: int, today: date) -> bool:
    return status in EXPIRABLE and today >= expires_on(accepted_on, days)
