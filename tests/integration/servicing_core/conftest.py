"""Servicing-core fixtures: tenants with a key per role and a plain product."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.contracts.helpers import make_product, tenant_keys


@pytest.fixture
def acme(api: Any) -> dict[str, str]:
    return tenant_keys(api, "acme")


@pytest.fixture
def beta(api: Any) -> dict[str, str]:
    return tenant_keys(api, "beta")


@pytest.fixture
def product(api: Any, acme: dict[str, str]) -> str:
    fees = {"late": "50.00", "penalty_rate_percent": "18"}
    return make_product(api, acme["admin"], fees=fees)["id"]
