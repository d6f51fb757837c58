"""One scheduled job over every tenant: each tenant's failure stays that tenant's."""

from __future__ import annotations

import logging
from collections.abc import Callable

from chalicelib.store import tenants

log = logging.getLogger("lending.jobs")


def each_tenant(what: str, run: Callable[[str], dict[str, int]]) -> dict[str, dict[str, int]]:
    """tenant -> outcome counts, for the tenants where anything happened. A tenant whose run
    raises is logged and counted as `{"error": 1}`; the others run on."""
    out: dict[str, dict[str, int]] = {}
    for tenant in tenants.tenant_ids():
        try:
            done = run(tenant)
        except Exception:  # this tenant only
            log.exception("%s of tenant %s failed", what, tenant)
            done = {"error": 1}
        if done:
            out[tenant] = done
    return out
