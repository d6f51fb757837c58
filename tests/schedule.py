"""The order tests are handed to xdist workers in: the longest first.

`--dist loadgroup` hands out work units in collection order (after the `xdist_group`s, largest
first), so a 75 s state machine collected near the end starts when the other worker is almost
done and the run waits for it alone. Starting the long ones first lets the many short tests
fill in around them (longest-processing-time-first). The order changes nothing a test sees:
every test builds its own moto account, and module and group worlds are set up per worker.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

# Each at least ~10 s on two busy cores (`pytest --durations=40`), longest first; a test marked
# `slow` counts too. A renamed test only loses its head start.
LONGEST: Sequence[str] = (
    "tests/property/lifecycle/test_lifecycle_machine.py::test_whole_lifecycle_across_tenants",
    "tests/property/ledger/test_ledger_state_machine.py::TestLedgerMachine",
    "tests/e2e/test_local_webhooks.py::",  # waits for the local scheduler's first minute
    "tests/property/servicing_core/test_servicing_sequences.py::",
    "tests/infra/test_iam.py::test_policy_allows_everything_the_product_code_does",
    "tests/integration/servicing_core/test_cob_catch_up.py::test_a_long_catch_up_is_sliced",
    "tests/reference/test_differential.py::test_api_matches_the_reference_model",
    "tests/integration/moto/test_moto_patches.py::test_randomized_sequences_match_stock_moto",
    "tests/e2e/test_demo.py::test_demo_runs_twenty_loans_through_the_lifecycle",
    "tests/e2e/test_concurrency.py::",
    "tests/integration/servicing_core/test_cob.py::test_dpd_31_on_the_right_day_across_february",
)


def rank(item: pytest.Item) -> int:
    """Position in LONGEST (a `slow` mark ranks after it); everything else after both."""
    for position, prefix in enumerate(LONGEST):
        if item.nodeid.startswith(prefix):
            return position
    return len(LONGEST) if item.get_closest_marker("slow") else len(LONGEST) + 1


def longest_first(items: list[pytest.Item]) -> None:
    """Reorders `items` in place; stable, so the rest keep their collection order."""
    items.sort(key=rank)
