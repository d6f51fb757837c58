"""Schedule generation time for 12- and 360-installment loans, per amortization.

Run: .venv/bin/python bench/bench_schedule.py   (prints medians; never asserts on time)
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

from chalicelib.lending.daycount import DayCount
from chalicelib.lending.schedule import Amortization, LoanTerms, generate_schedule

REPEATS = 31



def main() -> None:
    base = LoanTerms(
        currency="CNY",
        principal=30_000_000,
        installments=12,
        annual_rate_percent=Decimal("9.5"),
        disbursement_date=date(2025, 1, 31),
    )
    rows = []
    for amortization in (
        Amortization.EQUAL_INSTALLMENTS,
        Amortization.EQUAL_PRINCIPAL,
        Amortization.FLAT,
        Amortization.INTEREST_ONLY,
    ):
        for day_count in (DayCount.THIRTY_360, DayCount.ACTUAL_365):
            for n in (12, 360):
                terms = replace(
                    base, installments=n, amortization=amortization, day_count=day_count
                )
                rows.append(
                    (
                        amortization.value,
                        day_count.value,
                        n,
                        median_ms(lambda t=terms: generate_schedule(t), REPEATS),
                    )
                )
    print(f"schedule generation, median of {REPEATS} runs (Python {sys.version.split()[0]})")
    print(f"{'amortization':<20} {'day count':<11} {'installments':>12} {'median ms':>10}")
    for amortization, day_count, n, ms in rows:
        print(f"{amortization:<20} {day_count:<11} {n:>12} {ms:>10.3f}")


if __name__ == "__main__":
    main()
