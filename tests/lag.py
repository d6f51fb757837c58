"""The lag fixture for the tests (infra/moto_lag.py): `with lag(index_ms=..., base_ms=...)`, and a
pytest plugin, `-p tests.lag --lag-ms=T`, that lags the whole run (in-process moto, and the e2e
local stack through MOTO_LAG_MS)."""

from __future__ import annotations

import os
from typing import Any

from infra.moto_lag import LAG_ENV, from_environment, lag

__all__ = ["lag"]


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--lag-ms", type=float, default=0.0,
                     help="run with index and non-consistent base-table reads this far behind")


def pytest_configure(config: Any) -> None:
    ms = config.getoption("--lag-ms")
    if ms:
        os.environ[LAG_ENV] = str(ms)  # for the stacks the e2e tests spawn, too
        from_environment()
