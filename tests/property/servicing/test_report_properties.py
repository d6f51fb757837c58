"""Report aggregations: shares within [0, 1], PAR monotone, totals equal their breakdowns."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.lending.reports import ApplicationRecord, LoanRecord, origination, portfolio

AS_OF = date(2026, 3, 31)

loans = st.lists(st.builds(
    lambda i, prod, status, cur, principal, paid, dpd, created, disbursed: LoanRecord(
        f"L{i}", prod, status, cur, principal, AS_OF - timedelta(days=created),
        AS_OF - timedelta(days=disbursed) if disbursed <= created else None,
        principal if disbursed <= created else 0,
        max(0, principal - paid) if disbursed <= created else 0, paid, dpd),
    st.integers(0, 10**6), st.sampled_from(["p1", "p2", "p3"]),
    st.sampled_from(["pending_contract", "active", "delinquent", "defaulted", "closed"]),
    st.sampled_from(["CNY", "USD"]), st.integers(1, 10**9), st.integers(0, 10**9),
    st.integers(0, 400), st.integers(-5, 400), st.integers(0, 400)), max_size=60)


@given(loans)
def test_portfolio_shares_and_totals(records):
    books = portfolio(records, AS_OF)
    for cur, b in books.items():
        mine = [r for r in records if r.currency == cur and r.created_on <= AS_OF]
        assert b.loans == len(mine) == sum(x.count for x in b.by_status.values()) \
            == sum(x.count for x in b.by_product.values())
        assert b.outstanding_principal == sum(r.outstanding_principal for r in mine) \
            == sum(x.outstanding for x in b.by_status.values()) \
            == sum(x.outstanding for x in b.by_product.values())
        assert b.collections == sum(r.collected for r in mine)
        pars = [b.par(d) for d in (1, 30, 90)]
        assert all(0 <= p <= 1 for p in [*pars, b.npl_ratio()])
        assert pars[0] >= pars[1] >= pars[2]
        assert b.npl_ratio() >= pars[2]
    assert set(books) == {r.currency for r in records if r.created_on <= AS_OF}


T0 = datetime(2026, 3, 1, tzinfo=UTC)
apps = st.lists(st.builds(
    lambda i, outcome, arm, minutes, decide, final: ApplicationRecord(
        f"A{i}", "p1", T0 + timedelta(minutes=minutes), outcome, arm, "x",
        T0 + timedelta(minutes=minutes + decide) if final else None, final),
    st.integers(0, 10**6), st.sampled_from(["approve", "refer", "decline"]),
    st.sampled_from(["champion", "challenger"]), st.integers(-100, 60 * 24 * 40),
    st.integers(0, 10_000), st.sampled_from(["approved", "declined", None])), max_size=80)


@given(apps)
def test_origination_rates_and_counts(records):
    end = T0 + timedelta(days=31)
    o = origination(records, T0, end)
    inside = [r for r in records if T0 <= r.created_at < end]
    assert o.applications == len(inside) == sum(o.outcomes.values()) == sum(o.final.values())
    assert sum(a.applications for a in o.arms.values()) == o.applications
    total = sum(o.rate(k) for k in ("approve", "refer", "decline"))
    assert total == 0 if not inside else abs(total - 1) <= Decimal("0.0002")  # 3 roundings
    assert all(0 <= o.rate(k) <= 1 for k in ("approve", "refer", "decline"))
    t = o.time_to_decision()
    if t["decided"]:
        assert 0 <= t["median_seconds"] <= t["p90_seconds"] <= t["max_seconds"]
        assert t["mean_seconds"] <= t["max_seconds"]
