"""The DynamoDB adapter on in-process moto: posting, idempotency, limits, two-phase, reversals,
closing, balances, statements, sweeping, verification and tenant isolation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from ledger import (
    AccountClosed,
    AccountExists,
    AccountNotFound,
    AccountSpec,
    AccountType,
    AlreadyReversed,
    CurrencyMismatch,
    DuplicateJournal,
    JournalConflict,
    JournalKind,
    JournalNotFound,
    JournalRequest,
    LimitExceeded,
    NotPending,
    NotReversible,
    PendingAlreadyResolved,
    PendingExpired,
    PendingStatus,
    PostExceedsPending,
    Posting,
    Side,
    UnbalancedJournal,
    keys,
)
from ledger.dynamodb import DynamoLedger
from tests.integration.ledger.conftest import DAY, TENANT, Clock, journal, legs
from tests.lag import settle

FUND = (("cash:alipay", "dr", 10_000), ("funding", "cr", 10_000))


def item_count(aws: dict[str, Any], table: str) -> int:
    return aws["dynamodb"].scan(
        ConsistentRead=True, TableName=f"test-{table}", Select="COUNT")["Count"]


def counts(aws: dict[str, Any]) -> tuple[int, int, int]:
    return tuple(item_count(aws, t) for t in ("ledger-accounts", "ledger-journals",
                                               "ledger-entries"))  # type: ignore[return-value]


class TestPosting:
    def test_balanced_journal_moves_both_balances(self, ledger: DynamoLedger) -> None:
        ledger.post(TENANT, journal("fund-1", *FUND))
        cash = ledger.balance(TENANT, "cash:alipay")
        funding = ledger.balance(TENANT, "funding")
        assert (cash.posted, cash.available, cash.totals.posted_dr) == (10_000, 10_000, 10_000)
        assert (funding.posted, funding.totals.posted_cr) == (10_000, 10_000)
        assert ledger.verify(TENANT).ok

    def test_unbalanced_journal_is_refused_with_figures(self, ledger: DynamoLedger) -> None:
        with pytest.raises(UnbalancedJournal) as err:
            ledger.post(TENANT, journal("bad", ("cash:alipay", "dr", 10), ("funding", "cr", 9)))
        assert err.value.imbalances == {"CNY": (10, 9)}
        with pytest.raises(JournalNotFound):
            ledger.get_journal(TENANT, "bad")

    def test_unknown_account_and_wrong_currency(self, ledger: DynamoLedger) -> None:
        with pytest.raises(AccountNotFound) as err:
            ledger.post(TENANT, journal("j", ("nope", "dr", 1), ("funding", "cr", 1)))
        assert err.value.account_id == "nope"
        usd = (Posting("cash:alipay", Side.DEBIT, 1, "USD"),
               Posting("funding", Side.CREDIT, 1, "USD"))
        with pytest.raises(CurrencyMismatch) as cm:
            ledger.post(TENANT, JournalRequest("j2", usd, DAY))
        assert (cm.value.account_currency, cm.value.posting_currency) == ("CNY", "USD")

    def test_legs_on_one_account_are_netted_into_one_item(self, ledger: DynamoLedger) -> None:
        part = ledger.prepare_journal(TENANT, journal(
            "net", ("cash:alipay", "dr", 7), ("cash:alipay", "dr", 3), ("funding", "cr", 10)))
        item_keys = [_key(i) for i in part.items]
        assert len(item_keys) == len(set(item_keys)) == 5  # journal + 2 x (balance, entry)
        ledger.commit([part])
        assert ledger.balance(TENANT, "cash:alipay").posted == 10


class TestIdempotency:
    def test_replay_returns_the_original(self, ledger: DynamoLedger, aws: dict[str, Any]) -> None:
        first = ledger.post(TENANT, journal("fund-1", *FUND, description="seed"))
        before = counts(aws)
        again = ledger.post(TENANT, journal("fund-1", *FUND, description="seed"))
        assert again == first  # same created_at: the stored journal, not a new one
        assert counts(aws) == before
        assert ledger.balance(TENANT, "cash:alipay").posted == 10_000

    def test_same_id_other_content_names_the_fields(self, ledger: DynamoLedger) -> None:
        ledger.post(TENANT, journal("fund-1", *FUND, description="seed"))
        other = (("cash:alipay", "dr", 5), ("funding", "cr", 5))
        with pytest.raises(JournalConflict) as err:
            ledger.post(TENANT, journal("fund-1", *other, description="other",
                                        effective_date=date(2024, 5, 2)))
        assert err.value.differences == ["postings", "effective_date", "description"]
        assert ledger.balance(TENANT, "cash:alipay").posted == 10_000

    def test_replay_still_answers_after_the_account_closed(self, ledger: DynamoLedger) -> None:
        first = ledger.post(TENANT, journal("fee-1", ("loan:L1:fee", "dr", 5),
                                            ("fee-income", "cr", 5)))
        ledger.close_account(TENANT, "loan:L1:fee")
        assert ledger.post(TENANT, journal("fee-1", ("loan:L1:fee", "dr", 5),
                                           ("fee-income", "cr", 5))) == first

    def test_prepared_duplicate_explains_itself(self, ledger: DynamoLedger) -> None:
        ledger.post(TENANT, journal("fund-1", *FUND))
        with pytest.raises(DuplicateJournal) as err:
            ledger.commit([ledger.prepare_journal(TENANT, journal("fund-1", *FUND))])
        assert err.value.existing.journal_id == "fund-1"


class TestLimits:
    def test_floor_refuses_and_writes_nothing(self, ledger: DynamoLedger,
                                              aws: dict[str, Any]) -> None:
        ledger.post(TENANT, journal("fund-1", *FUND))
        before = counts(aws)
        with pytest.raises(LimitExceeded) as err:
            ledger.post(TENANT, journal("pay", ("channel-clearing", "dr", 10_001),
                                        ("cash:alipay", "cr", 10_001)))
        e = err.value
        assert (e.account_id, e.limit, e.limit_amount, e.balance, e.change, e.resulting) == (
            "cash:alipay", "floor", 0, 10_000, -10_001, -1)
        assert counts(aws) == before
        with pytest.raises(JournalNotFound):
            ledger.get_journal(TENANT, "pay")

    def test_pending_outflow_counts_against_the_floor(self, ledger: DynamoLedger) -> None:
        ledger.post(TENANT, journal("fund-1", *FUND))
        ledger.post(TENANT, journal("hold", ("channel-clearing", "dr", 6_000),
                                    ("cash:alipay", "cr", 6_000), pending=True))
        assert ledger.balance(TENANT, "cash:alipay").available == 4_000
        with pytest.raises(LimitExceeded) as err:
            ledger.post(TENANT, journal("pay", ("channel-clearing", "dr", 4_001),
                                        ("cash:alipay", "cr", 4_001)))
        assert err.value.balance == 4_000
        ledger.void_pending(TENANT, "hold-void", "hold")
        ledger.post(TENANT, journal("pay", ("channel-clearing", "dr", 4_001),
                                    ("cash:alipay", "cr", 4_001)))
        assert ledger.balance(TENANT, "cash:alipay").posted == 5_999

    def test_ceiling(self, ledger: DynamoLedger) -> None:
        capped = AccountSpec("wallet:1", "Capped wallet", AccountType.LIABILITY, "CNY",
                             ceiling=100)
        ledger.open_accounts(TENANT, [capped])
        ledger.post(TENANT, journal("in-1", ("suspense", "dr", 100), ("wallet:1", "cr", 100)))
        with pytest.raises(LimitExceeded) as err:
            ledger.post(TENANT, journal("in-2", ("suspense", "dr", 1), ("wallet:1", "cr", 1)))
        assert (err.value.limit, err.value.resulting) == ("ceiling", 101)


class TestTwoPhase:
    def _disburse(self, ledger: DynamoLedger, **kw: Any) -> None:
        ledger.post(TENANT, journal(
            "disb-1", ("loan:L1:principal", "dr", 5_000), ("channel-clearing", "cr", 4_900),
            ("fee-income", "cr", 100), pending=True, **kw))

    def test_pending_reserves_then_posts_once(self, ledger: DynamoLedger) -> None:
        self._disburse(ledger)
        principal = ledger.balance(TENANT, "loan:L1:principal")
        assert (principal.posted, principal.pending_in) == (0, 5_000)
        posted = ledger.post_pending(TENANT, "disb-1-post", "disb-1")
        assert posted.kind is JournalKind.POST_PENDING and posted.ref == "disb-1"
        principal = ledger.balance(TENANT, "loan:L1:principal")
        assert (principal.posted, principal.pending_in) == (5_000, 0)
        view = ledger.get_journal(TENANT, "disb-1")
        assert (view.pending_status, view.resolved_by) == (PendingStatus.POSTED, "disb-1-post")
        with pytest.raises(PendingAlreadyResolved) as err:
            ledger.void_pending(TENANT, "disb-1-void", "disb-1")
        assert err.value.resolved_by == "disb-1-post"
        with pytest.raises(PendingAlreadyResolved):
            ledger.post_pending(TENANT, "disb-1-post-2", "disb-1")
        assert ledger.post_pending(TENANT, "disb-1-post", "disb-1") == posted  # replay
        assert ledger.verify(TENANT).ok

    def test_partial_post_releases_the_rest(self, ledger: DynamoLedger) -> None:
        self._disburse(ledger)
        ledger.post_pending(TENANT, "p", "disb-1", postings=legs(
            ("loan:L1:principal", "dr", 3_000), ("channel-clearing", "cr", 3_000)))
        principal = ledger.balance(TENANT, "loan:L1:principal")
        fee = ledger.balance(TENANT, "fee-income")
        assert (principal.posted, principal.pending_in) == (3_000, 0)
        assert (fee.posted, fee.pending_in) == (0, 0)
        assert ledger.verify(TENANT).ok

    def test_partial_post_cannot_exceed_the_reservation(self, ledger: DynamoLedger) -> None:
        self._disburse(ledger)
        with pytest.raises(PostExceedsPending) as err:
            ledger.post_pending(TENANT, "p", "disb-1", postings=legs(
                ("loan:L1:principal", "dr", 5_001), ("channel-clearing", "cr", 5_001)))
        assert (err.value.account_id, err.value.pending_amount, err.value.requested) == (
            "channel-clearing", 4_900, 5_001)

    def test_only_pending_journals_resolve(self, ledger: DynamoLedger) -> None:
        ledger.post(TENANT, journal("fund-1", *FUND))
        with pytest.raises(NotPending):
            ledger.void_pending(TENANT, "v", "fund-1")

    def test_expired_pending_cannot_post_and_is_swept(self, ledger: DynamoLedger,
                                                       clock: Clock) -> None:
        self._disburse(ledger, expires_at=clock.now + timedelta(hours=1))
        ledger.post(TENANT, journal("hold-2", ("loan:L1:interest", "dr", 10),
                                    ("interest-income", "cr", 10), pending=True,
                                    expires_at=clock.now + timedelta(days=2)))
        clock.advance(timedelta(hours=2))
        with pytest.raises(PendingExpired):
            ledger.post_pending(TENANT, "late", "disb-1")
        settle()  # the sweep lists from the pending index
        swept = ledger.sweep_expired(TENANT)
        assert [j.ref for j in swept] == ["disb-1"]
        assert swept[0].kind is JournalKind.VOID_PENDING
        assert ledger.get_journal(TENANT, "disb-1").pending_status is PendingStatus.VOIDED
        assert ledger.balance(TENANT, "loan:L1:principal").pending_in == 0
        settle()
        assert ledger.sweep_expired(TENANT) == []  # left the sparse index
        assert ledger.get_journal(TENANT, "hold-2").pending_status is PendingStatus.OPEN
        assert ledger.verify(TENANT).ok

    def test_expiry_is_enforced_by_the_condition_too(self, ledger: DynamoLedger,
                                                      clock: Clock) -> None:
        self._disburse(ledger, expires_at=clock.now + timedelta(hours=1))
        part = ledger.prepare_post_pending(TENANT, "late", "disb-1")
        clock.advance(timedelta(hours=2))
        # a part prepared in time but committed late: the stored expiry still refuses it
        item = next(i for i in part.items if "Update" in i and
                    i["Update"]["Key"]["sk"]["S"] == keys.PENDING_SK)
        item["Update"]["ExpressionAttributeValues"][":now"] = {"S": keys.iso(clock.now)}
        with pytest.raises(PendingExpired):
            ledger.commit([part])


class TestReversalAndClosing:
    def test_reversal_once(self, ledger: DynamoLedger) -> None:
        ledger.post(TENANT, journal("fund-1", *FUND))
        rev = ledger.reverse(TENANT, "fund-1-rev", "fund-1")
        assert rev.ref == "fund-1" and rev.postings[0].side is Side.CREDIT
        assert ledger.balance(TENANT, "cash:alipay").posted == 0
        assert ledger.get_journal(TENANT, "fund-1").reversed_by == "fund-1-rev"
        with pytest.raises(AlreadyReversed) as err:
            ledger.reverse(TENANT, "fund-1-rev-2", "fund-1")
        assert err.value.reversed_by == "fund-1-rev"
        assert ledger.reverse(TENANT, "fund-1-rev", "fund-1") == rev  # replay
        with pytest.raises(NotReversible):
            ledger.reverse(TENANT, "x", "fund-1-rev")
        assert ledger.verify(TENANT).ok

    def test_reversal_obeys_limits(self, ledger: DynamoLedger) -> None:
        ledger.post(TENANT, journal("fund-1", *FUND))
        ledger.post(TENANT, journal("pay", ("channel-clearing", "dr", 9_000),
                                    ("cash:alipay", "cr", 9_000)))
        with pytest.raises(LimitExceeded):
            ledger.reverse(TENANT, "fund-1-rev", "fund-1")

    @pytest.mark.parametrize("account", ["loan:L1:principal", "channel-clearing"])
    def test_closed_account_refuses_postings(self, ledger: DynamoLedger, account: str) -> None:
        ledger.post(TENANT, journal("hold", ("loan:L1:principal", "dr", 50),
                                    ("channel-clearing", "cr", 50), pending=True))
        closed = ledger.close_account(TENANT, account)
        assert closed.status.value == "closed"
        with pytest.raises(AccountClosed) as err:
            ledger.post(TENANT, journal("j", ("loan:L1:principal", "dr", 1),
                                        ("channel-clearing", "cr", 1)))
        assert err.value.account_id == account
        with pytest.raises(AccountClosed):
            ledger.post_pending(TENANT, "hold-post", "hold")
        ledger.void_pending(TENANT, "hold-void", "hold")  # releasing still works
        assert ledger.balance(TENANT, account).pending_in == 0
        assert ledger.verify(TENANT).ok

    def test_opening_is_idempotent_but_not_redefinable(self, ledger: DynamoLedger) -> None:
        spec = AccountSpec("loan:L2:principal", "x", AccountType.ASSET, "CNY", floor=0)
        ledger.open_accounts(TENANT, [spec])
        ledger.open_accounts(TENANT, [spec])
        with pytest.raises(AccountExists) as err:
            ledger.open_accounts(TENANT, [AccountSpec("loan:L2:principal", "x",
                                                      AccountType.LIABILITY, "CNY")])
        assert err.value.differences == ["type", "floor"]


class TestReads:
    def test_point_in_time_balance(self, ledger: DynamoLedger) -> None:
        ledger.post(TENANT, journal("d1", *FUND, effective_date=date(2024, 5, 1)))
        ledger.post(TENANT, journal("d3", ("cash:alipay", "dr", 5), ("funding", "cr", 5),
                                    effective_date=date(2024, 5, 3)))
        assert ledger.balance(TENANT, "funding", as_of=date(2024, 4, 30)).posted == 0
        assert ledger.balance(TENANT, "funding", as_of=date(2024, 5, 2)).posted == 10_000
        assert ledger.balance(TENANT, "cash:alipay", as_of=date(2024, 5, 3)).posted == 10_005

    def test_statement_pages_across_shards(self, ledger: DynamoLedger) -> None:
        for i in range(9):
            ledger.post(TENANT, journal(f"j{i}", ("cash:alipay", "dr", i + 1),
                                        ("funding", "cr", i + 1)))
        seen, cursor, shards = [], None, set()
        while True:
            page = ledger.statement(TENANT, "funding", limit=4, cursor=cursor)
            seen += [e.journal_id for e in page.items]
            shards |= {e.shard for e in page.items}
            if page.cursor is None:
                break
            cursor = page.cursor
        assert seen == [f"j{i}" for i in range(9)]
        assert len(shards) > 1  # the legs really were spread

    def test_accounts_listing_pages(self, ledger: DynamoLedger) -> None:
        settle()  # the listing index
        ids, cursor = [], None
        while True:
            page = ledger.list_accounts(TENANT, limit=3, cursor=cursor)
            ids += [a.account_id for a in page.items]
            if page.cursor is None:
                break
            cursor = page.cursor
        assert ids == sorted(ids) and len(ids) == 13 and "loan:L1:penalty" in ids

    def test_trial_balance(self, ledger: DynamoLedger) -> None:
        ledger.post(TENANT, journal("fund-1", *FUND))
        settle()  # the chart is listed from the accounts index
        tb = ledger.trial_balance(TENANT)
        assert tb.balanced and tb.totals_by_currency["CNY"].posted_dr == 10_000


class TestIsolationAndComposition:
    def test_tenants_never_see_each_other(self, ledger: DynamoLedger) -> None:
        ledger.open_default_chart("acme-corp", "CNY", shards=4)
        ledger.post(TENANT, journal("fund-1", ("suspense", "dr", 7), ("funding", "cr", 7)))
        assert ledger.balance("acme-corp", "funding").posted == 0
        with pytest.raises(JournalNotFound):
            ledger.get_journal("acme-corp", "fund-1")
        assert ledger.verify("acme-corp").journals == 0

    def test_every_key_starts_with_the_tenant(self, ledger: DynamoLedger) -> None:
        part = ledger.prepare_journal(TENANT, journal(
            "d", ("loan:L1:principal", "dr", 5), ("channel-clearing", "cr", 5), pending=True,
            expires_at=datetime(2030, 1, 1, tzinfo=UTC)))
        for item in part.items:
            body = next(iter(item.values()))
            record = body.get("Item") or body["Key"]
            assert record["pk"]["S"].startswith(f"{TENANT}#")
            if "gsi1pk" in record:
                assert record["gsi1pk"]["S"].startswith(f"{TENANT}#")

    def test_part_inside_a_callers_transaction(self, ledger: DynamoLedger,
                                               aws: dict[str, Any]) -> None:
        """The caller's unit of work: its own items around ours, reasons sliced per part."""
        ledger.post(TENANT, journal("fund-1", *FUND))
        part = ledger.prepare_journal(TENANT, journal(
            "pay", ("channel-clearing", "dr", 20_000), ("cash:alipay", "cr", 20_000)))
        audit = {"Put": {"TableName": "test-audit", "Item": {
            "pk": {"S": f"{TENANT}#audit#x"}, "sk": {"S": "1"}}}}
        items = [audit, *part.items]
        with pytest.raises(Exception) as err:
            aws["dynamodb"].transact_write_items(TransactItems=items)
        reasons = err.value.response["CancellationReasons"]  # type: ignore[attr-defined]
        error = part.explain(reasons[1:])
        assert isinstance(error, LimitExceeded) and error.account_id == "cash:alipay"
        assert item_count(aws, "audit") == 0


def _key(item: dict[str, Any]) -> tuple[str, str, str]:
    body = next(iter(item.values()))
    record = body.get("Item") or body["Key"]
    return body["TableName"], record["pk"]["S"], record["sk"]["S"]
