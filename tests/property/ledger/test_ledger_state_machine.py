"""Random sequences of ledger commands against the DynamoDB adapter on in-process moto, checked
after every step against an in-memory oracle (the dict-of-totals ledger a clerk would keep).

Commands: postings, pendings (with expiry), full and partial posts, voids, sweeps, reversals,
replays with the same id (same and different content), deliberate limit breaches, closures.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from moto import mock_aws

from infra.tables import table_definitions
from ledger import (
    AccountClosed,
    AccountSpec,
    AccountType,
    AlreadyReversed,
    BalancePolicy,
    Journal,
    JournalConflict,
    JournalRequest,
    LimitExceeded,
    NotReversible,
    PendingAlreadyResolved,
    PendingExpired,
    Posting,
    Side,
)
from ledger.dynamodb import DynamoLedger
from ledger.items import balance_keys, totals_from

TENANT = "prop"
DAY = date(2024, 5, 1)

ACCOUNTS = [
    AccountSpec("cash", "cash", AccountType.ASSET, "CNY", floor=0),
    AccountSpec("loan", "loan", AccountType.ASSET, "CNY", floor=0),
    AccountSpec("wallet", "wallet", AccountType.LIABILITY, "CNY", floor=0, ceiling=1_000),
    AccountSpec("funding", "funding", AccountType.EQUITY, "CNY", BalancePolicy.SHARDED, 4),
    AccountSpec("clearing", "clearing", AccountType.LIABILITY, "CNY", BalancePolicy.SHARDED, 4),
    AccountSpec("income", "income", AccountType.INCOME, "CNY", BalancePolicy.SHARDED, 2),
    AccountSpec("usd-cash", "usd cash", AccountType.ASSET, "USD", floor=0),
    AccountSpec("usd-funding", "usd funding", AccountType.EQUITY, "USD", BalancePolicy.SHARDED,
                3),
]
SPECS = {s.account_id: s for s in ACCOUNTS}
BY_CURRENCY = {c: [s.account_id for s in ACCOUNTS if s.currency == c] for c in ("CNY", "USD")}
FIELDS = ("posted_dr", "posted_cr", "pending_dr", "pending_cr")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


@dataclass
class Oracle:
    """The reference ledger: four totals per account, plus what was committed."""

    totals: dict[str, dict[str, int]] = field(
        default_factory=lambda: {a: dict.fromkeys(FIELDS, 0) for a in SPECS})
    closed: set[str] = field(default_factory=set)
    journals: dict[str, Journal] = field(default_factory=dict)
    replays: dict[str, Any] = field(default_factory=dict)  # id -> call re-sending the request
    pendings: dict[str, Journal] = field(default_factory=dict)  # open ones
    resolved: dict[str, str] = field(default_factory=dict)  # pending id -> resolver id
    reversible: list[str] = field(default_factory=list)
    reversed: dict[str, str] = field(default_factory=dict)

    def effect(self, postings: tuple[Posting, ...], bucket: str, sign: int = 1
               ) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for p in postings:
            f = f"{bucket}_{'dr' if p.side is Side.DEBIT else 'cr'}"
            out.setdefault(p.account_id, dict.fromkeys(FIELDS, 0))[f] += sign * p.amount
        return out

    def apply(self, *effects: dict[str, dict[str, int]]) -> None:
        for effect in effects:
            for account, delta in effect.items():
                for f in FIELDS:
                    self.totals[account][f] += delta[f]

    def problems(self, effect: dict[str, dict[str, int]], check_open: bool = True) -> set[str]:
        """Accounts that would refuse this effect: closed, or pushed past a limit."""
        out = set()
        for account, delta in effect.items():
            if check_open and account in self.closed:
                out.add(account)
                continue
            spec = SPECS[account]
            before, after = self.totals[account], {
                f: self.totals[account][f] + delta[f] for f in FIELDS}
            lo0, hi0 = _low_high(spec, before)
            lo1, hi1 = _low_high(spec, after)
            if spec.floor is not None and lo1 < lo0 and lo1 < spec.floor:
                out.add(account)
            if spec.ceiling is not None and hi1 > hi0 and hi1 > spec.ceiling:
                out.add(account)
        return out


def _low_high(spec: AccountSpec, t: dict[str, int]) -> tuple[int, int]:
    """Written out independently of ledger.balances: what may leave and what may arrive."""
    if spec.type in (AccountType.ASSET, AccountType.EXPENSE):
        posted = t["posted_dr"] - t["posted_cr"]
        return posted - t["pending_cr"], posted + t["pending_dr"]
    posted = t["posted_cr"] - t["posted_dr"]
    return posted - t["pending_dr"], posted + t["pending_cr"]


@st.composite
def balanced_legs(draw: st.DrawFn) -> tuple[Posting, ...]:
    currency = draw(st.sampled_from(["CNY", "CNY", "CNY", "USD"]))
    pool = BY_CURRENCY[currency]
    accounts = draw(st.lists(st.sampled_from(pool), min_size=2, max_size=min(4, len(pool)),
                             unique=True))
    n_debit = draw(st.integers(1, len(accounts) - 1))
    debit, credit = accounts[:n_debit], accounts[n_debit:]
    total = draw(st.integers(max(len(debit), len(credit)), 1_500))

    def split(names: list[str], side: Side) -> list[Posting]:
        if len(names) == 1:
            return [Posting(names[0], side, total, currency)]
        cuts = sorted(draw(st.lists(st.integers(1, total - 1), min_size=len(names) - 1,
                                    max_size=len(names) - 1, unique=True)))
        bounds = [0, *cuts, total]
        return [Posting(a, side, bounds[i + 1] - bounds[i], currency)
                for i, a in enumerate(names)]

    return tuple(split(debit, Side.DEBIT) + split(credit, Side.CREDIT))


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.mock = mock_aws()
        self.mock.start()
        try:
            from infra import moto_patches

            moto_patches.apply()
        except ImportError:
            pass
        client = boto3.client("dynamodb", region_name="us-east-1")
        for table in table_definitions("p-"):
            if "ledger-" in table["create"]["TableName"]:
                client.create_table(**table["create"])
        self.clock = Clock()
        self.ledger = DynamoLedger(client, "p-", clock=self.clock, sleep=lambda _s: None)
        self.ledger.open_accounts(TENANT, ACCOUNTS)
        self.client = client
        self.model = Oracle()
        self.counter = 0

    def teardown(self) -> None:
        try:
            report = self.ledger.verify(TENANT)
            assert report.ok, report.discrepancies
            assert report.journals == len(self.model.journals)
        finally:
            self.mock.stop()

    def _new_id(self) -> str:
        self.counter += 1
        return f"j{self.counter}"

    def _commit(self, jid: str, journal: Journal, replay: Any,
                effect: dict[str, dict[str, int]]) -> None:
        """Records a committed journal, and checks the entries it wrote are its effect: with
        the balances checked against the oracle after every step, balance = sum of entries
        holds after every step by induction (verify() re-proves it wholesale at the end)."""
        self.model.journals[jid] = journal
        self.model.replays[jid] = replay
        written = {e.account_id: {f: getattr(e.delta, f) for f in FIELDS}
                   for e in self.ledger.journal_entries(TENANT, jid)}
        assert written == {a: d for a, d in effect.items() if any(d.values())}

    # ---- commands -----------------------------------------------------------------------------

    @rule(postings=balanced_legs(), pending=st.booleans(), expiry_hours=st.integers(1, 6))
    def post_journal(self, postings: tuple[Posting, ...], pending: bool,
                     expiry_hours: int) -> None:
        jid = self._new_id()
        expires = self.clock.now + timedelta(hours=expiry_hours) if pending else None
        request = JournalRequest(jid, postings, DAY, description=f"d{jid}", pending=pending,
                                 expires_at=expires)
        effect = self.model.effect(postings, "pending" if pending else "posted")
        refusing = self.model.problems(effect)
        if refusing:
            with pytest.raises((AccountClosed, LimitExceeded)) as err:
                self.ledger.post(TENANT, request)
            assert err.value.account_id in refusing  # type: ignore[attr-defined]
            return
        journal = self.ledger.post(TENANT, request)
        self.model.apply(effect)
        self._commit(jid, journal, lambda: self.ledger.post(TENANT, request), effect)
        if pending:
            self.model.pendings[jid] = journal
        else:
            self.model.reversible.append(jid)

    @rule(fraction=st.sampled_from([None, 1, 2, 3]))
    @precondition(lambda self: bool(self.model.pendings) or bool(self.model.resolved))
    def post_pending(self, fraction: int | None) -> None:
        """Posts the oldest open pending (fully, or a fraction of a two-leg one), or tries an
        already resolved one."""
        if not self.model.pendings:
            pid = next(iter(self.model.resolved))
            with pytest.raises(PendingAlreadyResolved):
                self.ledger.post_pending(TENANT, self._new_id(), pid, effective_date=DAY)
            return
        pid, pending = next(iter(self.model.pendings.items()))
        legs: tuple[Posting, ...] | None = None
        if fraction and len(pending.postings) == 2:
            amount = max(1, pending.postings[0].amount // (fraction + 1))
            legs = tuple(Posting(p.account_id, p.side, amount, p.currency)
                         for p in pending.postings)
        jid = self._new_id()
        assert pending.expires_at is not None

        def call() -> Journal:
            return self.ledger.post_pending(TENANT, jid, pid, postings=legs, effective_date=DAY)

        if self.clock.now >= pending.expires_at:
            with pytest.raises(PendingExpired):
                call()
            return
        effect = _merge(self.model.effect(pending.postings, "pending", -1),
                        self.model.effect(legs or pending.postings, "posted"))
        refusing = self.model.problems(effect)
        if refusing:
            with pytest.raises(AccountClosed) as err:
                call()
            assert err.value.account_id in refusing
            return
        journal = call()
        self.model.apply(effect)
        self._commit(jid, journal, call, effect)
        self._resolved(pid, jid)
        self.model.reversible.append(jid)

    @rule()
    @precondition(lambda self: bool(self.model.pendings))
    def void_pending(self) -> None:
        pid, pending = next(reversed(self.model.pendings.items()))
        jid = self._new_id()

        def call() -> Journal:
            return self.ledger.void_pending(TENANT, jid, pid, effective_date=DAY)

        journal = call()  # releasing works even on closed accounts and after expiry
        effect = self.model.effect(pending.postings, "pending", -1)
        self.model.apply(effect)
        self._commit(jid, journal, call, effect)
        self._resolved(pid, jid)
        with pytest.raises(PendingAlreadyResolved) as err:
            self.ledger.void_pending(TENANT, self._new_id(), pid, effective_date=DAY)
        assert err.value.resolved_by == jid

    @rule(hours=st.integers(1, 4))
    def advance_clock_and_sweep(self, hours: int) -> None:
        self.clock.now += timedelta(hours=hours)
        now = self.clock.now
        due = {pid for pid, j in self.model.pendings.items()
               if j.expires_at is not None and j.expires_at < now}
        swept = self.ledger.sweep_expired(TENANT, now=now)
        assert {j.ref for j in swept} == due
        for j in swept:
            assert j.ref is not None
            effect = self.model.effect(self.model.pendings[j.ref].postings, "pending", -1)
            self.model.apply(effect)
            self._commit(j.journal_id, j, lambda: None, effect)
            self._resolved(j.ref, j.journal_id)

    @rule(data=st.data())
    @precondition(lambda self: bool(self.model.reversible) or bool(self.model.reversed))
    def reverse(self, data: st.DataObject) -> None:
        candidates = self.model.reversible + list(self.model.reversed)
        original_id = data.draw(st.sampled_from(candidates))
        jid = self._new_id()

        def call() -> Journal:
            return self.ledger.reverse(TENANT, jid, original_id, effective_date=DAY)

        if original_id in self.model.reversed:
            with pytest.raises(AlreadyReversed) as already:
                call()
            assert already.value.reversed_by == self.model.reversed[original_id]
            return
        original = self.model.journals[original_id]
        mirrored = tuple(Posting(p.account_id, p.side.opposite, p.amount, p.currency)
                         for p in original.postings)
        effect = self.model.effect(mirrored, "posted")
        refusing = self.model.problems(effect)
        if refusing:
            with pytest.raises((AccountClosed, LimitExceeded)) as err:
                call()
            assert err.value.account_id in refusing  # type: ignore[attr-defined]
            return
        journal = call()
        self.model.apply(effect)
        self._commit(jid, journal, call, effect)
        self.model.reversible.remove(original_id)
        self.model.reversed[original_id] = jid

    @rule()
    @precondition(lambda self: bool(self.model.pendings))
    def reversing_a_pending_is_refused(self) -> None:
        pid = next(iter(self.model.pendings))
        with pytest.raises(NotReversible):
            self.ledger.reverse(TENANT, self._new_id(), pid, effective_date=DAY)

    @rule(data=st.data())
    @precondition(lambda self: any(f for f in self.model.replays.values()))
    def replay_same_content(self, data: st.DataObject) -> None:
        jid = data.draw(st.sampled_from(sorted(self.model.replays)))
        before = {a: dict(t) for a, t in self.model.totals.items()}
        again = self.model.replays[jid]()
        if again is not None:  # sweep voids have no client request to replay
            assert again == self.model.journals[jid]
        assert self.model.totals == before

    @rule(data=st.data())
    @precondition(lambda self: bool(self.model.journals))
    def replay_different_content(self, data: st.DataObject) -> None:
        jid = data.draw(st.sampled_from(sorted(self.model.journals)))
        stored = self.model.journals[jid]
        request = JournalRequest(jid, stored.postings, stored.effective_date,
                                 description=stored.description + " (edited)",
                                 metadata=dict(stored.metadata),
                                 pending=stored.kind.value == "pending",
                                 expires_at=stored.expires_at)
        with pytest.raises(JournalConflict) as err:
            self.ledger.post(TENANT, request)
        if stored.kind.value in ("standard", "pending"):
            assert err.value.differences == ["description"]
        else:
            assert "kind" in err.value.differences

    @rule()
    @precondition(lambda self: "cash" not in self.model.closed)
    def overdraw_cash(self) -> None:
        """A deliberate breach: one more than cash can give."""
        lo, _ = _low_high(SPECS["cash"], self.model.totals["cash"])
        amount = max(lo, 0) + 1
        request = JournalRequest(self._new_id(), (
            Posting("clearing", Side.DEBIT, amount, "CNY"),
            Posting("cash", Side.CREDIT, amount, "CNY")), DAY)
        with pytest.raises(LimitExceeded) as err:
            self.ledger.post(TENANT, request)
        assert (err.value.account_id, err.value.resulting) == ("cash", lo - amount)

    @rule(account=st.sampled_from(["loan", "wallet", "income", "clearing", "usd-cash"]))
    @precondition(lambda self: len(self.model.closed) < 2)
    def close_account(self, account: str) -> None:
        assert self.ledger.close_account(TENANT, account).status.value == "closed"
        self.model.closed.add(account)

    def _resolved(self, pid: str, by: str) -> None:
        self.model.pendings.pop(pid, None)
        self.model.resolved[pid] = by

    # ---- invariants ---------------------------------------------------------------------------

    @invariant()
    def stored_balances_match_the_oracle_and_the_rules(self) -> None:
        wanted = [k for spec in ACCOUNTS for k in balance_keys(TENANT, spec)]
        got = self.client.batch_get_item(RequestItems={"p-ledger-accounts": {
            "Keys": wanted, "ConsistentRead": True}})["Responses"]["p-ledger-accounts"]
        stored: dict[str, dict[str, int]] = {a: dict.fromkeys(FIELDS, 0) for a in SPECS}
        for item in got:
            t = totals_from({k: int(v["N"]) for k, v in item.items() if "N" in v})
            account = item["pk"]["S"].split("#")[2]
            for f in FIELDS:
                stored[account][f] += getattr(t, f)
        assert stored == self.model.totals
        per_currency: dict[str, list[int]] = {}
        for account, t in stored.items():
            sums = per_currency.setdefault(SPECS[account].currency, [0, 0, 0, 0])
            for i, f in enumerate(FIELDS):
                sums[i] += t[f]
        for currency, (pdr, pcr, qdr, qcr) in per_currency.items():
            assert (pdr, qdr) == (pcr, qcr), currency  # debits = credits, posted and pending
        for account, t in stored.items():
            spec = SPECS[account]
            lo, hi = _low_high(spec, t)
            assert spec.floor is None or lo >= spec.floor, account
            assert spec.ceiling is None or hi <= spec.ceiling, account
        assert set(self.model.resolved).isdisjoint(self.model.pendings)


def _merge(*effects: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for effect in effects:
        for account, delta in effect.items():
            acc = out.setdefault(account, dict.fromkeys(FIELDS, 0))
            for f in FIELDS:
                acc[f] += delta[f]
    return out


os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
LedgerMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("LEDGER_PROPERTY_EXAMPLES", "25")),
    stateful_step_count=int(os.environ.get("LEDGER_PROPERTY_STEPS", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLedgerMachine = LedgerMachine.TestCase
