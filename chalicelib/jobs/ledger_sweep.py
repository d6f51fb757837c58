"""Voids every tenant's pending journals whose expiry has passed.

Safe to run twice or concurrently (scheduled events are delivered at least once): each void has
a deterministic id and a pending journal resolves at most once.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.store import tenants
from chalicelib.store.ledger import ledger


def sweep_all(now: datetime | None = None, per_tenant: int = 500) -> dict[str, int]:
    """Returns the number of pendings voided per tenant (tenants with none are left out)."""
    voided = {}
    for tenant in tenants.tenant_ids():
        count = len(ledger().sweep_expired(tenant, now, limit=per_tenant))
        if count:
            voided[tenant] = count
    return voided
