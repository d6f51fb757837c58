"""The disbursement suite's fixtures (a tenant, a product, fresh caches) for the bank tests."""

from tests.integration.disbursement.conftest import _fresh_caches, acme, product  # noqa: F401
