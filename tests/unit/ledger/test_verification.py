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
from ledger.verification import (
    Snapshot,
    StoredBalance,
    recheck_scope,
    verify_snapshot,
    with_reread,
)

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


def test_a_lagging_index_row_is_rechecked_on_the_accounts_and_journals_it_concerns() -> None:
    """Entries of j1 missing from the index: the re-read covers j1 and both accounts it
    touches; the re-read rows replace the index rows and the ledger verifies."""
    s = clean()
    lagging = Snapshot(s.tenant, dict(s.accounts), dict(s.balances), dict(s.journals), [])
    scope = recheck_scope(lagging, verify_snapshot(lagging).discrepancies)
    assert scope.accounts == {"cash", "funding"} and scope.journals == {"j1"}
    reread = with_reread(lagging, {a: s.accounts[a] for a in scope.accounts},
                         {k: v for k, v in s.balances.items()}, s.entries,
                         {"j1": s.journals["j1"]})
    assert verify_snapshot(reread).ok


def test_a_re_read_that_finds_nothing_drops_the_index_row() -> None:
    """A journal or account definition the base table does not hold is removed, so what
    depends on it is still reported."""
    s = clean()
    reread = with_reread(s, {"cash": None}, {}, [], {"j1": None})
    assert "cash" not in reread.accounts and "j1" not in reread.journals
    kinds = {d.kind for d in verify_snapshot(reread).discrepancies}
    assert {"orphan-entry", "balance-mismatch"} <= kinds
