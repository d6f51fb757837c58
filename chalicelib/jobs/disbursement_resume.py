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

import logging
from datetime import datetime

from chalicelib.services import disbursements
from chalicelib.store import tenants

log = logging.getLogger("lending.jobs")


def run_all(now: datetime | None = None) -> dict[str, dict[str, int]]:
    """tenant -> outcome counts, for tenants that had anything in flight."""
    out: dict[str, dict[str, int]] = {}
    for tenant in tenants.tenant_ids():
        try:
            done = disbursements.resume(tenant, now)
        except Exception:  # this tenant only
            log.exception("disbursement resume of tenant %s failed", tenant)
            done = {"error": 1}
        if done:
            out[tenant] = done
    return out
