"""Report figures on a hand-made portfolio and application book."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from chalicelib.lending.reports import ApplicationRecord, LoanRecord, origination, portfolio
from chalicelib.services.reports import origination_csv, portfolio_csv

D = date(2026, 3, 1)
BOOK = [
    LoanRecord("L1", "p1", "active", "CNY", 1_000_000, D, D, 1_000_000, 800_000, 210_000, 0),
    LoanRecord("L2", "p1", "active", "CNY", 500_000, D, D, 500_000, 500_000, 0, 45),
    LoanRecord("L3", "p2", "defaulted", "CNY", 300_000, D, D, 300_000, 300_000, 0, 120),
    LoanRecord("L4", "p2", "pending_contract", "CNY", 700_000, D),
    LoanRecord("L5", "p2", "active", "CNY", 900_000, D + timedelta(days=60)),  # after as_of
]


def test_portfolio_figures_on_a_hand_made_book():
    [(cur, b)] = portfolio(BOOK, date(2026, 3, 31)).items()
    assert cur == "CNY" and b.loans == 4
    assert b.outstanding_principal == 1_600_000 and b.disbursed_volume == 1_800_000
    assert b.collections == 210_000
    assert {k: (v.count, v.outstanding) for k, v in b.by_status.items()} == {
        "active": (2, 1_300_000), "defaulted": (1, 300_000), "pending_contract": (1, 0)}
    assert {k: (v.count, v.outstanding) for k, v in b.by_product.items()} == {
        "p1": (2, 1_300_000), "p2": (2, 300_000)}
    assert (b.par(1), b.par(30), b.par(90), b.npl_ratio()) == (
        Decimal("0.5000"), Decimal("0.5000"), Decimal("0.1875"), Decimal("0.1875"))
    rows = portfolio_csv({"CNY": b}).splitlines()
    assert rows[0] == "currency,dimension,key,loans,amount,ratio"
    assert "CNY,metric,par90,,3000.00,0.1875" in rows
    assert "CNY,status,active,2,13000.00," in rows


def test_an_empty_book_has_no_risk():
    assert portfolio([], D) == {}
    [(_, b)] = portfolio([BOOK[3]], D).items()
    assert b.par(30) == Decimal("0") and b.npl_ratio() == Decimal("0")


def test_origination_figures_and_champion_vs_challenger():
    t = datetime(2026, 3, 2, 10, tzinfo=UTC)
    apps = [
        ApplicationRecord("A1", "p1", t, "approve", "champion", "accepted", t, "approved"),
        ApplicationRecord("A2", "p1", t, "decline", "champion", "declined",
                          t + timedelta(seconds=2), "declined"),
        ApplicationRecord("A3", "p1", t, "refer", "challenger", "approved",
                          t + timedelta(hours=2), "approved"),
        ApplicationRecord("A4", "p1", t, "refer", "challenger", "referred", None, None),
        ApplicationRecord("A5", "p1", t - timedelta(days=9), "approve", "champion", "approved",
                          t, "approved"),  # before the range
    ]
    o = origination(apps, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 3, tzinfo=UTC))
    assert o.applications == 4
    assert o.outcomes == {"approve": 1, "refer": 2, "decline": 1}
    assert (o.rate("approve"), o.rate("refer")) == (Decimal("0.2500"), Decimal("0.5000"))
    assert o.final == {"approved": 2, "declined": 1, "undecided": 1}
    assert o.time_to_decision() == {"decided": 3, "mean_seconds": 2400, "median_seconds": 2,
                                    "p90_seconds": 7200, "max_seconds": 7200}
    assert {a: (s.applications, s.outcomes["approve"]) for a, s in o.arms.items()} == {
        "champion": (2, 1), "challenger": (2, 0)}
    assert "challenger,refer_rate,1.0000" in origination_csv(o).splitlines()
