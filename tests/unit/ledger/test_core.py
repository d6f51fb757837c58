"""The pure core: validation, balance arithmetic, two-phase rules and chart (no AWS at all)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ledger import (
    AccountSpec,
    AccountType,
    BalancePolicy,
    InvalidRequest,
    Journal,
    JournalKind,
    JournalRequest,
    JournalView,
    LimitExceeded,
    NotPending,
    NotReversible,
    PendingAlreadyResolved,
    PendingExpired,
    PendingStatus,
    PostExceedsPending,
    Posting,
    Side,
    Totals,
    UnbalancedJournal,
    balances,
    default_chart,
    loan_accounts,
    two_phase,
    validation,
)

D, C = Side.DEBIT, Side.CREDIT
NOW = datetime(2024, 5, 1, tzinfo=UTC)


def p(account: str, side: Side, amount: int, currency: str = "CNY") -> Posting:
    return Posting(account, side, amount, currency)


def request(*postings: Posting, **kw: object) -> JournalRequest:
    return JournalRequest("j-1", postings, date(2024, 5, 1), **kw)  # type: ignore[arg-type]


class TestValidation:
    def test_every_unbalanced_currency_is_reported(self) -> None:
        with pytest.raises(UnbalancedJournal) as err:
            validation.check_journal_request(request(
                p("a", D, 10), p("b", C, 9), p("c", D, 5, "USD"), p("d", C, 6, "USD")))
        assert err.value.imbalances == {"CNY": (10, 9), "USD": (5, 6)}
        assert "CNY: debits 10 != credits 9" in str(err.value)

    def test_balanced_multi_currency_is_fine(self) -> None:
        validation.check_journal_request(request(
            p("a", D, 10), p("b", C, 10), p("c", D, 5, "USD"), p("d", C, 5, "USD")))

    @pytest.mark.parametrize("amount", [0, -1, 1.5, True, "10", 10**18 + 1])
    def test_amounts_are_positive_integers(self, amount: object) -> None:
        with pytest.raises(InvalidRequest) as err:
            validation.check_journal_request(request(
                p("a", D, amount), p("b", C, amount)))  # type: ignore[arg-type]
        assert err.value.field == "postings[0].amount"

    @pytest.mark.parametrize("bad", ["", "a#b", "x" * 129, " a"])
    def test_journal_ids_cannot_carry_the_key_separator(self, bad: str) -> None:
        with pytest.raises(InvalidRequest):
            validation.check_journal_request(JournalRequest(
                bad, (p("a", D, 1), p("b", C, 1)), date(2024, 5, 1)))

    def test_one_leg_and_mixed_account_currency_are_refused(self) -> None:
        with pytest.raises(InvalidRequest):
            validation.check_journal_request(request(p("a", D, 1)))
        with pytest.raises(InvalidRequest):
            validation.check_journal_request(request(
                p("a", D, 1), p("a", C, 1, "USD"), p("b", C, 1), p("b", D, 1, "USD")))

    def test_only_pending_journals_expire(self) -> None:
        with pytest.raises(InvalidRequest):
            validation.check_journal_request(request(p("a", D, 1), p("b", C, 1),
                                                     expires_at=NOW))

    def test_sharded_accounts_take_no_limits(self) -> None:
        with pytest.raises(InvalidRequest) as err:
            validation.check_account_spec(AccountSpec(
                "f", "f", AccountType.EQUITY, "CNY", BalancePolicy.SHARDED, 8, floor=0))
        assert err.value.field == "policy"

    @pytest.mark.parametrize("tenant", ["acme", "acme-corp", "a1b"])
    def test_tenant_ids(self, tenant: str) -> None:
        validation.check_tenant(tenant)

    @pytest.mark.parametrize("tenant", ["Acme", "a", "acme#x", "acme-", "a--b", "9lives"])
    def test_bad_tenant_ids(self, tenant: str) -> None:
        with pytest.raises(InvalidRequest):
            validation.check_tenant(tenant)


class TestBalances:
    cash = AccountSpec("cash", "cash", AccountType.ASSET, "CNY", floor=0)
    wallet = AccountSpec("w", "w", AccountType.LIABILITY, "CNY", ceiling=100)

    def test_pending_outflow_reduces_available_not_posted(self) -> None:
        t = Totals(posted_dr=100, pending_cr=30, pending_dr=50)
        b = balances.balance_of("cash", "CNY", D, t, floor=0)
        assert (b.posted, b.pending_in, b.pending_out, b.available) == (100, 50, 30, 70)

    def test_floor_counts_pending(self) -> None:
        before = Totals(posted_dr=100, pending_cr=30)
        assert balances.limit_breach(self.cash, before, Totals(posted_cr=70)) is None
        breach = balances.limit_breach(self.cash, before, Totals(posted_cr=71))
        assert isinstance(breach, LimitExceeded)
        assert (breach.balance, breach.change, breach.resulting) == (70, -71, -1)

    def test_ceiling_counts_pending_inflows(self) -> None:
        before = Totals(posted_cr=60, pending_cr=30)
        assert balances.limit_breach(self.wallet, before, Totals(pending_cr=10)) is None
        breach = balances.limit_breach(self.wallet, before, Totals(posted_cr=11))
        assert breach is not None and breach.limit == "ceiling" and breach.resulting == 101

    def test_moving_away_from_a_limit_is_always_allowed(self) -> None:
        broken = Totals(posted_cr=5)  # an asset at -5, below its floor of 0
        assert balances.limit_breach(self.cash, broken, Totals(posted_dr=1)) is None

    def test_condition_bounds_match_the_python_check(self) -> None:
        before = Totals(posted_dr=100, pending_cr=30)
        for amount in range(60, 80):
            delta = Totals(posted_cr=amount)
            min_low, _ = balances.condition_bounds(self.cash, delta)
            stored_ok = min_low is None or balances.low(before, D) >= min_low
            assert stored_ok == (balances.limit_breach(self.cash, before, delta) is None)

    def test_legs_net_per_account(self) -> None:
        totals = balances.leg_totals([p("a", D, 3), p("a", D, 4), p("a", C, 2)], pending=False)
        assert totals == {"a": Totals(posted_dr=7, posted_cr=2)}


def journal(kind: JournalKind, *postings: Posting, ref: str | None = None,
            expires_at: datetime | None = None, jid: str = "j") -> Journal:
    return Journal(jid, kind, postings, date(2024, 5, 1), NOW, ref=ref, expires_at=expires_at)


class TestTwoPhase:
    pending = journal(JournalKind.PENDING, p("loan", D, 100), p("clr", C, 90),
                      p("fee", C, 10), jid="pend", expires_at=datetime(2024, 5, 2, tzinfo=UTC))

    def test_post_releases_everything_and_posts_what_was_asked(self) -> None:
        legs = two_phase.posted_legs(self.pending, (p("loan", D, 60), p("clr", C, 60)))
        post = journal(JournalKind.POST_PENDING, *legs, ref="pend")
        assert two_phase.effects(post, self.pending) == {
            "loan": Totals(posted_dr=60, pending_dr=-100),
            "clr": Totals(posted_cr=60, pending_cr=-90),
            "fee": Totals(pending_cr=-10),
        }

    def test_partial_post_is_bounded_per_leg(self) -> None:
        with pytest.raises(PostExceedsPending) as err:
            two_phase.posted_legs(self.pending, (p("loan", D, 95), p("fee", C, 95)))
        assert (err.value.account_id, err.value.pending_amount, err.value.requested) == (
            "fee", 10, 95)
        with pytest.raises(PostExceedsPending):  # a leg the pending never had
            two_phase.posted_legs(self.pending, (p("loan", D, 5), p("other", C, 5)))

    def test_resolution_rules(self) -> None:
        open_ = JournalView(self.pending, PendingStatus.OPEN)
        two_phase.check_resolvable(open_, NOW, posting=True)
        with pytest.raises(PendingExpired):
            two_phase.check_resolvable(open_, datetime(2024, 5, 2, tzinfo=UTC), posting=True)
        two_phase.check_resolvable(open_, datetime(2024, 5, 3, tzinfo=UTC), posting=False)
        with pytest.raises(PendingAlreadyResolved):
            two_phase.check_resolvable(JournalView(self.pending, PendingStatus.VOIDED, "v"),
                                       NOW, posting=False)
        with pytest.raises(NotPending):
            two_phase.check_resolvable(JournalView(journal(JournalKind.STANDARD)), NOW,
                                       posting=True)

    def test_reversal_mirrors_and_only_posted_journals_reverse(self) -> None:
        std = journal(JournalKind.STANDARD, p("a", D, 5), p("b", C, 5))
        assert two_phase.reversal_legs(std) == (p("a", C, 5), p("b", D, 5))
        with pytest.raises(NotReversible):
            two_phase.check_reversible(JournalView(self.pending))

    def test_content_differences_ignore_creation_time_and_leg_order(self) -> None:
        a = journal(JournalKind.STANDARD, p("a", D, 5), p("b", C, 5))
        b = Journal("j", JournalKind.STANDARD, (p("b", C, 5), p("a", D, 5)), date(2024, 5, 1),
                    datetime(2025, 1, 1, tzinfo=UTC))
        assert two_phase.content_differences(a, b) == []
        c = Journal("j", JournalKind.PENDING, (p("a", D, 6), p("b", C, 6)), date(2024, 5, 2),
                    NOW, description="x", metadata={"k": "v"})
        assert two_phase.content_differences(a, c) == [
            "kind", "postings", "effective_date", "description", "metadata"]


class TestChart:
    def test_default_chart_is_sharded_and_valid(self) -> None:
        chart = default_chart("CNY")
        assert {s.policy for s in chart} == {BalancePolicy.SHARDED}
        assert {s.account_id for s in chart} >= {"funding", "channel-clearing", "fee-income",
                                                 "interest-income", "penalty-income",
                                                 "borrower-credit", "suspense",
                                                 "write-off-expense"}
        for spec in chart + loan_accounts("L-1", "CNY"):
            validation.check_account_spec(spec)

    def test_loan_accounts_are_exact_and_never_negative(self) -> None:
        specs = loan_accounts("L-1", "CNY")
        assert [s.account_id for s in specs] == [
            "loan:L-1:principal", "loan:L-1:interest", "loan:L-1:fee", "loan:L-1:penalty"]
        assert all(s.policy is BalancePolicy.EXACT and s.floor == 0 for s in specs)
