"""Voids every tenant's pending journals whose expiry has passed.

Safe to run twice or concurrently (scheduled events are delivered at least once): each void has
a deterministic id and a pending journal resolves at most once.

Disbursement reservations are never voided here: a payout sent to a channel may have been
executed, so only the disbursement service decides (it voids an attempt never sent, and
escalates a sent one; services/disbursements.py). They carry no ledger expiry; `keep` guards
older ones that did.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.store import tenants
from chalicelib.store.ledger import ledger
from ledger.chart import DISBURSEMENT, journal_id_owner


def domain_managed(pending_id: str) -> bool:
    """A reservation whose expiry its domain command manages, not the sweep."""
    return journal_id_owner(pending_id) == DISBURSEMENT


def sweep_all(now: datetime | None = None, per_tenant: int = 500) -> dict[str, int]:
    """Returns the number of pendings voided per tenant (tenants with none are left out)."""
    voided = {}
    for tenant in tenants.tenant_ids():
        count = len(ledger().sweep_expired(tenant, now, limit=per_tenant, keep=domain_managed))
        if count:
            voided[tenant] = count
    return voided
