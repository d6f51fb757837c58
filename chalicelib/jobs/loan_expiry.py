"""Scheduled hourly: each tenant's accepted loans never signed or never paid out, past their
product's `acceptance_expiry_days`, are cancelled (services/loan_expiry.py). Per tenant, on
its own business date; safe twice or concurrently (version-guarded); tenants are isolated."""

from __future__ import annotations

import logging

from chalicelib.services import loan_expiry
from chalicelib.store import tenants

log = logging.getLogger("lending.jobs")


def run_all() -> dict[str, dict[str, int]]:
    """tenant -> outcome counts, for tenants where anything expired (or failed)."""
    out: dict[str, dict[str, int]] = {}
    for tenant in tenants.tenant_ids():
        try:
            done = loan_expiry.run(tenant)
        except Exception:  # this tenant only
            log.exception("loan expiry of tenant %s failed", tenant)
            done = {"error": 1}
        if done:
            out[tenant] = done
    return out
