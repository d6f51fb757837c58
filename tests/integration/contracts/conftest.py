"""Contract fixtures: fresh per-process caches (each test has a new AWS account)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    from chalicelib.contracts import storage
    from chalicelib.services import personal_data, scoring_models

    for reset in (personal_data.reset, scoring_models.reset, storage.reset):
        reset()
    yield
    for reset in (personal_data.reset, scoring_models.reset, storage.reset):
        reset()
