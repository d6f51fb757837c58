"""verify() on hand-made snapshots: a clean ledger passes; each kind of damage is reported, all
of them at once, with the figures."""

from __future__ import annotations

from datetime import UTC, date, datetime

from ledger import (
    AccountSpec,
    AccountType,
    BalancePolicy,
    Entry,
    Journal,
    JournalKind,
    Posting,
    Side,
    Totals,
    balances,
)
from ledger.verification import Snapshot, StoredBalance, verify_snapshot

NOW = datetime(2024, 5, 1, tzinfo=UTC)
CASH = AccountSpec("cash", "cash", AccountType.ASSET, "CNY", floor=0)
FUND = AccountSpec("funding", "funding", AccountType.EQUITY, "CNY", BalancePolicy.SHARDED, 2)


def stored(spec: AccountSpec, t: Totals) -> StoredBalance:
    n = spec.normal_side
    return StoredBalance(t, balances.low(t, n), balances.high(t, n))


def entry(account: str, jid: str, t: Totals, shard: int | None = None) -> Entry:
    return Entry(account, jid, JournalKind.STANDARD, date(2024, 5, 1), NOW, "CNY", t,
                 shard=shard)


def clean() -> Snapshot:
    j = Journal("j1", JournalKind.STANDARD, (Posting("cash", Side.DEBIT, 100, "CNY"),
                                              Posting("funding", Side.CREDIT, 100, "CNY")),
                date(2024, 5, 1), NOW)
    return Snapshot(
        "acme", {"cash": CASH, "funding": FUND},
        {("cash", None): stored(CASH, Totals(posted_dr=100)),
         ("funding", 1): stored(FUND, Totals(posted_cr=100))},
        {"j1": j},
        [entry("cash", "j1", Totals(posted_dr=100)),
         entry("funding", "j1", Totals(posted_cr=100), shard=1)],
    )


def test_clean_ledger_verifies() -> None:
    report = verify_snapshot(clean())
    assert report.ok and report.totals_by_currency["CNY"] == Totals(100, 100, 0, 0)


def test_every_discrepancy_is_reported() -> None:
    s = clean()
    s.balances[("cash", None)] = stored(CASH, Totals(posted_dr=90))  # tampered balance
    s.entries.append(entry("cash", "ghost", Totals(posted_cr=5)))  # entry without journal
    s.journals["bad"] = Journal("bad", JournalKind.STANDARD, (
        Posting("cash", Side.DEBIT, 7, "CNY"), Posting("funding", Side.CREDIT, 6, "CNY")),
        date(2024, 5, 1), NOW)  # unbalanced, and no entries
    kinds = sorted({d.kind for d in verify_snapshot(s).discrepancies})
    assert kinds == ["balance-mismatch", "entry-mismatch", "journal-unbalanced",
                     "orphan-entry", "trial-balance-unbalanced"]
    report = verify_snapshot(s)
    mismatch = next(d for d in report.discrepancies if d.kind == "balance-mismatch")
    assert (mismatch.account_id, mismatch.field, mismatch.expected, mismatch.actual) == (
        "cash", "posted_dr", 100 - 0, 90)
    unbalanced = next(d for d in report.discrepancies if d.kind == "journal-unbalanced")
    assert (unbalanced.journal_id, unbalanced.expected, unbalanced.actual) == ("bad", 7, 6)


def test_pending_resolved_twice_and_limits() -> None:
    s = clean()
    legs = (Posting("cash", Side.CREDIT, 150, "CNY"), Posting("funding", Side.DEBIT, 150, "CNY"))
    s.journals["p"] = Journal("p", JournalKind.PENDING, legs, date(2024, 5, 1), NOW)
    for vid in ("v1", "v2"):
        s.journals[vid] = Journal(vid, JournalKind.VOID_PENDING, legs, date(2024, 5, 1), NOW,
                                  ref="p")
    s.balances[("cash", None)] = stored(CASH, Totals(posted_dr=100, posted_cr=150))
    kinds = {d.kind for d in verify_snapshot(s).discrepancies}
    assert {"resolved-more-than-once", "limit-breached"} <= kinds


def test_shard_sums_are_checked_per_shard() -> None:
    s = clean()
    s.balances[("funding", 0)] = stored(FUND, Totals(posted_cr=100))  # moved to shard 0
    del s.balances[("funding", 1)]
    found = {(d.kind, d.shard) for d in verify_snapshot(s).discrepancies}
    assert ("balance-mismatch", 0) in found and ("balance-mismatch", 1) in found
