from tests.integration.conftest import api  # noqa: F401  (the contract tests use the same client)
