"""The in-process API over moto, as the integration suites use it."""

from tests.integration.conftest import api  # noqa: F401  (the fixture)
