"""Proves a tenant's ledger consistent from a snapshot of everything stored (pure).

It never stops at the first problem: every discrepancy found is returned, each naming the
journal, account, shard, currency and field concerned, with the expected and the actual figure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from ledger import balances
from ledger.model import AccountSpec, BalancePolicy, Entry, Journal, JournalKind, Totals
from ledger.two_phase import REVERSIBLE, effects
from ledger.validation import imbalance

FIELDS = ("posted_dr", "posted_cr", "pending_dr", "pending_cr")
BalanceKey = tuple[str, int | None]  # (account id, shard or None for exact accounts)


@dataclass(frozen=True)
class StoredBalance:
    totals: Totals
    low: int
    high: int
    status: str = "open"


@dataclass
class Snapshot:
    tenant: str
    accounts: dict[str, AccountSpec]
    balances: dict[BalanceKey, StoredBalance]
    journals: dict[str, Journal]
    entries: list[Entry]


@dataclass(frozen=True)
class Discrepancy:
    kind: str
    message: str
    journal_id: str | None = None
    account_id: str | None = None
    shard: int | None = None
    currency: str | None = None
    field: str | None = None
    expected: int | None = None
    actual: int | None = None


@dataclass
class VerificationReport:
    tenant: str
    accounts: int
    journals: int
    entries: int
    totals_by_currency: dict[str, Totals]
    discrepancies: list[Discrepancy] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.discrepancies


def verify_snapshot(s: Snapshot) -> VerificationReport:
    out: list[Discrepancy] = []
    out += _journals_balance(s.journals.values())
    out += _links(s.journals)
    out += _entries_match_journals(s)
    out += _balances_match_entries(s)
    totals = _trial_balance(s, out)
    out += _limits(s)
    return VerificationReport(s.tenant, len(s.accounts), len(s.journals), len(s.entries),
                              totals, out)


@dataclass(frozen=True)
class RecheckScope:
    """What a consistent re-read must cover before a discrepancy is believed."""

    accounts: frozenset[str]
    journals: frozenset[str]


def recheck_scope(s: Snapshot, found: Iterable[Discrepancy]) -> RecheckScope:
    """The accounts and journals the discrepancies name, every account a named journal (or the
    journal it references) touches, and every account of a currency whose trial balance is off:
    an index row missing on either side of a comparison shows up on one of them."""
    accounts: set[str] = set()
    journals: set[str] = set()
    for d in found:
        if d.account_id is not None:
            accounts.add(d.account_id)
        if d.journal_id is not None:
            journals.add(d.journal_id)
        if d.account_id is None and d.journal_id is None and d.currency is not None:
            accounts |= {a for a, spec in s.accounts.items() if spec.currency == d.currency}
    for journal_id in sorted(journals):
        j = s.journals.get(journal_id)
        related = [j, s.journals.get(j.ref)] if j is not None and j.ref else [j]
        if j is not None and j.ref:
            journals.add(j.ref)
        accounts |= {p.account_id for r in related if r is not None for p in r.postings}
    return RecheckScope(frozenset(accounts), frozenset(journals))


def with_reread(s: Snapshot, accounts: Mapping[str, AccountSpec | None],
                stored: Mapping[BalanceKey, StoredBalance], entries: Iterable[Entry],
                journals: Mapping[str, Journal | None]) -> Snapshot:
    """The snapshot with what a consistent re-read found in place of the index rows: for each
    re-read account its definition, balance items and entries (None: no definition, so it is
    dropped; its entries stay, to be reported), and each re-read journal (None: not stored)."""
    found = {a for a, spec in accounts.items() if spec is not None}
    specs = {a: spec for a, spec in s.accounts.items() if a not in accounts}
    specs.update({a: spec for a, spec in accounts.items() if spec is not None})
    kept = {k: v for k, v in s.balances.items() if k[0] not in accounts}
    kept.update(stored)
    rows = [e for e in s.entries if e.account_id not in found] + list(entries)
    books = {j: v for j, v in s.journals.items() if j not in journals}
    books.update({j: v for j, v in journals.items() if v is not None})
    return replace(s, accounts=specs, balances=kept, journals=books, entries=rows)


def _journals_balance(journals: Iterable[Journal]) -> list[Discrepancy]:
    out = []
    for j in journals:
        if len(j.postings) < 2:
            out.append(Discrepancy("journal-too-short", f"journal {j.journal_id} has "
                                   f"{len(j.postings)} posting(s)", journal_id=j.journal_id))
        for currency, (dr, cr) in sorted(imbalance(j.postings).items()):
            out.append(Discrepancy(
                "journal-unbalanced", f"journal {j.journal_id}: {currency} debits {dr} != "
                f"credits {cr}", journal_id=j.journal_id, currency=currency, expected=dr,
                actual=cr))
    return out


def _links(journals: dict[str, Journal]) -> list[Discrepancy]:
    """Post/void reference a pending journal, once; a reversal references a posted one, once."""
    out = []
    resolutions: Counter[str] = Counter()
    reversals: Counter[str] = Counter()
    for j in journals.values():
        if j.kind in (JournalKind.POST_PENDING, JournalKind.VOID_PENDING, JournalKind.REVERSAL):
            target = journals.get(j.ref or "")
            if target is None:
                out.append(Discrepancy("missing-reference", f"journal {j.journal_id} references "
                                       f"missing journal {j.ref}", journal_id=j.journal_id))
                continue
            if j.kind is JournalKind.REVERSAL:
                reversals[target.journal_id] += 1
                if target.kind not in REVERSIBLE:
                    out.append(Discrepancy("bad-reference", f"reversal {j.journal_id} of "
                                           f"{target.kind} journal {target.journal_id}",
                                           journal_id=j.journal_id))
            else:
                resolutions[target.journal_id] += 1
                if target.kind is not JournalKind.PENDING:
                    out.append(Discrepancy("bad-reference", f"{j.kind} {j.journal_id} of "
                                           f"{target.kind} journal {target.journal_id}",
                                           journal_id=j.journal_id))
    for jid, n in sorted(resolutions.items()):
        if n > 1:
            out.append(Discrepancy("resolved-more-than-once", f"pending {jid} resolved {n} "
                                   "times", journal_id=jid, expected=1, actual=n))
    for jid, n in sorted(reversals.items()):
        if n > 1:
            out.append(Discrepancy("reversed-more-than-once", f"journal {jid} reversed {n} "
                                   "times", journal_id=jid, expected=1, actual=n))
    return out


def _entries_match_journals(s: Snapshot) -> list[Discrepancy]:
    out = []
    actual: dict[str, dict[str, Totals]] = {}
    for e in s.entries:
        if e.journal_id not in s.journals:
            out.append(Discrepancy("orphan-entry", f"entry of account {e.account_id} "
                                   f"references missing journal {e.journal_id}",
                                   journal_id=e.journal_id, account_id=e.account_id,
                                   shard=e.shard))
            continue
        spec = s.accounts.get(e.account_id)
        if spec is None:
            out.append(Discrepancy("unknown-account", f"entry of journal {e.journal_id} "
                                   f"references missing account {e.account_id}",
                                   journal_id=e.journal_id, account_id=e.account_id))
        elif spec.currency != e.currency:
            out.append(Discrepancy("currency-mismatch", f"entry of journal {e.journal_id} in "
                                   f"{e.currency} on a {spec.currency} account",
                                   journal_id=e.journal_id, account_id=e.account_id,
                                   currency=e.currency))
        per = actual.setdefault(e.journal_id, {})
        per[e.account_id] = per.get(e.account_id, Totals()) + e.delta
    for j in s.journals.values():
        pending = s.journals.get(j.ref or "") if j.kind is JournalKind.POST_PENDING else None
        if j.kind is JournalKind.POST_PENDING and pending is None:
            continue  # reported as missing-reference
        expected = {a: t for a, t in effects(j, pending).items() if not t.is_zero()}
        got = actual.get(j.journal_id, {})
        for account_id in sorted(set(expected) | set(got)):
            exp, act = expected.get(account_id, Totals()), got.get(account_id, Totals())
            for f in FIELDS:
                if getattr(exp, f) != getattr(act, f):
                    out.append(Discrepancy(
                        "entry-mismatch", f"journal {j.journal_id} on {account_id}: {f} "
                        f"entries {getattr(act, f)} != journal {getattr(exp, f)}",
                        journal_id=j.journal_id, account_id=account_id, field=f,
                        expected=getattr(exp, f), actual=getattr(act, f)))
    return out


def _balances_match_entries(s: Snapshot) -> list[Discrepancy]:
    out = []
    sums: dict[BalanceKey, Totals] = {}
    for e in s.entries:
        key = (e.account_id, e.shard)
        sums[key] = sums.get(key, Totals()) + e.delta
    for key in sorted(set(sums) | set(s.balances), key=lambda k: (k[0], k[1] or -1)):
        account_id, shard = key
        spec = s.accounts.get(account_id)
        expected = sums.get(key, Totals())
        stored = s.balances.get(key)
        actual = stored.totals if stored else Totals()
        if spec is not None:
            exact = spec.policy is BalancePolicy.EXACT
            if exact != (shard is None) or (shard is not None and not 0 <= shard < spec.shards):
                out.append(Discrepancy("wrong-shard", f"{account_id} has a balance or entries "
                                       f"in shard {shard}", account_id=account_id, shard=shard))
        for f in FIELDS:
            if getattr(expected, f) != getattr(actual, f):
                out.append(Discrepancy(
                    "balance-mismatch", f"{account_id}{_shard(shard)}: {f} stored "
                    f"{getattr(actual, f)} != sum of entries {getattr(expected, f)}",
                    account_id=account_id, shard=shard, field=f,
                    expected=getattr(expected, f), actual=getattr(actual, f)))
        if stored is not None and spec is not None:
            normal = spec.normal_side
            for name, value, want in (("low", stored.low, balances.low(actual, normal)),
                                      ("high", stored.high, balances.high(actual, normal))):
                if value != want:
                    out.append(Discrepancy(
                        "derived-mismatch", f"{account_id}{_shard(shard)}: {name} {value} != "
                        f"{want} from its totals", account_id=account_id, shard=shard,
                        field=name, expected=want, actual=value))
    return out


def _trial_balance(s: Snapshot, out: list[Discrepancy]) -> dict[str, Totals]:
    totals: dict[str, Totals] = {}
    for (account_id, _shard_no), stored in s.balances.items():
        spec = s.accounts.get(account_id)
        if spec is None:
            out.append(Discrepancy("unknown-account", f"balance item of missing account "
                                   f"{account_id}", account_id=account_id))
            continue
        totals[spec.currency] = totals.get(spec.currency, Totals()) + stored.totals
    for currency, t in sorted(totals.items()):
        for dr, cr, what in ((t.posted_dr, t.posted_cr, "posted"),
                             (t.pending_dr, t.pending_cr, "pending")):
            if dr != cr:
                out.append(Discrepancy(
                    "trial-balance-unbalanced", f"{currency} {what}: debits {dr} != credits "
                    f"{cr}", currency=currency, field=what, expected=dr, actual=cr))
    return totals


def _limits(s: Snapshot) -> list[Discrepancy]:
    out = []
    for (account_id, shard), stored in sorted(s.balances.items(), key=lambda kv: kv[0][0]):
        spec = s.accounts.get(account_id)
        if spec is None or shard is not None:
            continue
        normal = spec.normal_side
        lo, hi = balances.low(stored.totals, normal), balances.high(stored.totals, normal)
        if spec.floor is not None and lo < spec.floor:
            out.append(Discrepancy("limit-breached", f"{account_id}: {lo} below floor "
                                   f"{spec.floor}", account_id=account_id, field="floor",
                                   expected=spec.floor, actual=lo))
        if spec.ceiling is not None and hi > spec.ceiling:
            out.append(Discrepancy("limit-breached", f"{account_id}: {hi} above ceiling "
                                   f"{spec.ceiling}", account_id=account_id, field="ceiling",
                                   expected=spec.ceiling, actual=hi))
    return out


def _shard(shard: int | None) -> str:
    return "" if shard is None else f"#{shard:02d}"
