"""The lag fixture for the tests (infra/moto_lag.py): `with lag(index_ms=..., base_ms=...)`, and a
pytest plugin, `-p tests.lag --lag-ms=T`, that lags the whole run (in-process moto, and the e2e
local stack through MOTO_LAG_MS)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from infra.moto_lag import LAG_ENV, from_environment, lag

__all__ = ["eventually", "lag", "settle"]


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--lag-ms", type=float, default=0.0,
                     help="run with index and non-consistent base-table reads this far behind")


def pytest_configure(config: Any) -> None:
    ms = config.getoption("--lag-ms")
    if ms:
        os.environ[LAG_ENV] = str(ms)  # for the stacks the e2e tests spawn, too
        from_environment()


def settle(ms: float = 0) -> None:
    """Under a whole-run lag (`--lag-ms`), waits until what the test wrote so far is settled
    for the run's lag and for a `lag(ms)` block about to start; without one, writes made
    before a `lag()` block count as settled already."""
    run_ms = float(os.environ.get(LAG_ENV) or 0)
    if run_ms:
        time.sleep(max(run_ms, ms) / 1000 + 0.01)


def eventually(read: Callable[[], Any], expected: Any, within: float = 5.0) -> Any:
    """`read()` again until it answers `expected` or `within` seconds pass; the last answer.
    For reads from an index, which on DynamoDB trails the writes by a moment (here by the
    lag): a job's next scheduled run, or a client's next page, sees it."""
    deadline = time.monotonic() + within
    while (got := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return got
