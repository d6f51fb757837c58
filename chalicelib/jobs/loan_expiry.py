"""Scheduled hourly: each tenant's accepted loans never signed or never paid out, past their
product's `acceptance_expiry_days`, are cancelled (services/loan_expiry.py). Per tenant, on
its own business date; safe twice or concurrently (version-guarded); tenants are isolated."""

from __future__ import annotations

from chalicelib.jobs.per_tenant import each_tenant
from chalicelib.services import loan_expiry


def run_all() -> dict[str, dict[str, int]]:
    """tenant -> outcome counts, for tenants where anything expired (or failed)."""
    return each_tenant("loan expiry", loan_expiry.run)
