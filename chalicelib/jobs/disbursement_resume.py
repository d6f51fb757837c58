"""Scheduled every 5 minutes: disbursements a crash or a silent channel left in flight.

`reserved` attempts (the process died between reserving the money and submitting it) are
submitted again under the same payout id after a grace period, or, once their reservation has
expired, voided if the channel does not know them; `submitted`/`unknown`/`escalated` ones are
resolved by asking the channel, and sent ones still unanswered are escalated before their
reservation expires - never voided (services/disbursements.resume_one). Safe twice or
concurrently: every step is version-guarded and the channel is idempotent on the payout id.
Tenants are isolated.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.jobs.per_tenant import each_tenant
from chalicelib.services import disbursements


def run_all(now: datetime | None = None) -> dict[str, dict[str, int]]:
    """tenant -> outcome counts, for tenants that had anything in flight."""
    return each_tenant("disbursement resume",
                       lambda tenant: disbursements.resume(tenant, now))
