"""Servicing fixtures: tenants with keys of every role, and a local webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.webhook_receiver import Receiver, receiving

ROLES = ("admin", "operator", "partner", "reviewer")


@pytest.fixture
def keys(api: Any) -> dict[str, dict[str, str]]:
    """Two tenants, `acme` and `beta`, each with one key per role."""
    from chalicelib.services import personal_data

    personal_data.reset()
    out = {}
    for tenant in ("acme", "beta"):
        api.tenant(tenant)
        out[tenant] = {role: api.key(tenant, role) for role in ROLES}
    yield out
    personal_data.reset()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An HTTP endpoint on 127.0.0.1 that records every request (tests/webhook_receiver.py)."""
    with receiving() as state:
        yield state
