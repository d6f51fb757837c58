"""Beneficiary fixtures: the disbursement ones (a tenant, a product, channels, signed loans)."""

from tests.integration.disbursement.conftest import acme, clock, product  # noqa: F401
