"""APR solve time (Reg Z Appendix J and daily IRR) for 12- and 360-payment loans.

Run: .venv/bin/python bench/bench_apr.py   (prints medians; never asserts on time)
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_ms

from chalicelib.lending.apr import AprMethod, compute_apr
from chalicelib.lending.due_dates import Frequency, FrequencyUnit
from chalicelib.lending.pricing import schedule_flows
from chalicelib.lending.schedule import LoanTerms, generate_schedule

REPEATS = 15



def main() -> None:
    base = LoanTerms(
        currency="CNY",
        principal=30_000_000,
        installments=12,
        annual_rate_percent=Decimal("9.5"),
        disbursement_date=date(2025, 1, 20),
        origination_fee=300_000,
    )
    cases = [
        ("monthly", 12, Frequency()),
        ("monthly", 360, Frequency()),
        ("weekly", 52, Frequency(unit=FrequencyUnit.WEEK)),
        ("semi-monthly", 360, Frequency(unit=FrequencyUnit.SEMI_MONTH)),
    ]
    print(f"APR solve, median of {REPEATS} runs (Python {sys.version.split()[0]})")
    print(
        f"{'schedule':<14} {'payments':>8} {'method':<9} {'apr %':>8} {'iter':>5} {'median ms':>10}"
    )
    for label, n, frequency in cases:
        schedule = generate_schedule(replace(base, installments=n, frequency=frequency))
        advances, payments = schedule_flows(schedule)
        for method in (AprMethod.US_REG_Z, AprMethod.IRR):
            result = compute_apr(method, advances, payments)
            ms = median_ms(lambda m=method, a=advances, p=payments: compute_apr(m, a, p), REPEATS)
            print(
                f"{label:<14} {n:>8} {method.value:<9} {result.apr:>8} "
                f"{result.iterations:>5} {ms:>10.3f}"
            )


if __name__ == "__main__":
    main()
