"""Transaction parts (item layout, sizes, explain) and the adapter's commit loop, with a fake
client: conflicts are retried with bounded backoff, ledger failures explained precisely."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from ledger import (
    AccountClosed,
    AccountSpec,
    AccountType,
    BalancePolicy,
    DuplicateJournal,
    Journal,
    JournalConflict,
    JournalKind,
    LedgerBusy,
    LimitExceeded,
    Posting,
    Side,
    TransactionTooLarge,
    items,
    posting,
)
from ledger.codec import encode_item
from ledger.dynamodb import DynamoLedger, explain
from ledger.validation import MAX_ACCOUNTS_PER_JOURNAL

NOW = datetime(2024, 5, 1, tzinfo=UTC)
TABLES = items.Tables("t-")
CASH = AccountSpec("cash", "cash", AccountType.ASSET, "CNY", floor=0)
FUNDING = AccountSpec("funding", "f", AccountType.EQUITY, "CNY", BalancePolicy.SHARDED, 16)
SPECS = {"cash": CASH, "funding": FUNDING}


def standard(jid: str = "j1", amount: int = 100, description: str = "") -> Journal:
    return Journal(jid, JournalKind.STANDARD, (
        Posting("funding", Side.DEBIT, amount, "CNY"),
        Posting("cash", Side.CREDIT, amount, "CNY")), date(2024, 5, 1), NOW, description)


def failed(code: str = "ConditionalCheckFailed", item: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    return {"Code": code, **({"Item": item} if item is not None else {})}


OK = {"Code": "None"}


class TestJournalPart:
    def test_layout(self) -> None:
        part = posting.journal_part(TABLES, "acme", standard(), SPECS, now=NOW)
        kinds = [(next(iter(i)), next(iter(i.values()))["TableName"]) for i in part.items]
        assert kinds == [("Put", "t-ledger-journals"),
                         ("Update", "t-ledger-accounts"), ("Put", "t-ledger-entries"),
                         ("Update", "t-ledger-accounts"), ("Put", "t-ledger-entries")]
        cash_update = part.items[1]["Update"]
        assert cash_update["Key"]["pk"]["S"] == "acme#acct#cash"
        assert "#st = :open" in cash_update["ConditionExpression"]
        assert cash_update["ExpressionAttributeValues"][":min_low"] == {"N": "100"}
        shard_update = part.items[3]["Update"]
        assert shard_update["Key"]["pk"]["S"].startswith("acme#acct#funding#")
        assert "min_low" not in json.dumps(shard_update)  # no limit on a sharded account
        for item in part.items:
            body = next(iter(item.values()))
            if "Item" in body:
                assert body["ConditionExpression"] == "attribute_not_exists(pk)"

    def test_largest_journal_stays_inside_the_budget(self) -> None:
        specs = {f"a{i}": AccountSpec(f"a{i}", "a", AccountType.ASSET, "CNY")
                 for i in range(MAX_ACCOUNTS_PER_JOURNAL)}
        legs = [Posting(f"a{i}", Side.DEBIT if i % 2 else Side.CREDIT, 10, "CNY")
                for i in range(MAX_ACCOUNTS_PER_JOURNAL - 1)]
        legs.append(Posting(f"a{MAX_ACCOUNTS_PER_JOURNAL - 1}", Side.DEBIT, 10, "CNY"))
        big = Journal("big", JournalKind.REVERSAL, tuple(legs), date(2024, 5, 1), NOW,
                      ref="orig")
        part = posting.journal_part(TABLES, "acme", big, specs, now=NOW)
        assert len(part.items) <= posting.PART_ITEM_BUDGET
        sizes = [len(json.dumps(i)) for i in part.items]
        assert sum(sizes) < 100_000 and max(sizes) < 10_000

    def test_explain_limit_with_the_stored_figures(self) -> None:
        part = posting.journal_part(TABLES, "acme", standard(amount=100), SPECS, now=NOW)
        old = encode_item({"pk": "acme#acct#cash", "sk": "bal", "status": "open",
                           "posted_dr": 80, "posted_cr": 0, "pending_dr": 0, "pending_cr": 0,
                           "low": 80, "high": 80})
        error = part.explain([OK, failed(item=old), OK, OK, OK])
        assert isinstance(error, LimitExceeded)
        assert (error.account_id, error.balance, error.change, error.resulting) == (
            "cash", 80, -100, -20)

    def test_explain_closed(self) -> None:
        part = posting.journal_part(TABLES, "acme", standard(), SPECS, now=NOW)
        old = encode_item({"pk": "acme#acct#funding#03", "sk": "bal", "status": "closed"})
        error = part.explain([OK, OK, OK, failed(item=old), OK])
        assert isinstance(error, AccountClosed) and error.account_id == "funding"

    def test_duplicate_outranks_other_failures(self) -> None:
        part = posting.journal_part(TABLES, "acme", standard(description="new"), SPECS,
                                    now=NOW)
        stored = items.journal_item("acme", standard(description="old"))
        closed = encode_item({"pk": "acme#acct#cash", "sk": "bal", "status": "closed"})
        error = part.explain([failed(item=stored), failed(item=closed), OK, OK, OK])
        assert isinstance(error, JournalConflict) and error.differences == ["description"]
        same = items.journal_item("acme", standard(description="new"))
        assert isinstance(part.explain([failed(item=same), OK, OK, OK, OK]), DuplicateJournal)

    def test_conflicts_alone_explain_nothing(self) -> None:
        part = posting.journal_part(TABLES, "acme", standard(), SPECS, now=NOW)
        assert part.explain([OK, failed("TransactionConflict"), OK, OK, OK]) is None

    def test_reasons_are_sliced_per_part(self) -> None:
        foreign = _Foreign()
        part = posting.journal_part(TABLES, "acme", standard(), SPECS, now=NOW)
        closed = encode_item({"pk": "acme#acct#cash", "sk": "bal", "status": "closed"})
        reasons = [failed(), OK, failed(item=closed), OK, OK, OK]
        error = explain([foreign, part], reasons)
        assert isinstance(error, AccountClosed) and foreign.seen == [failed()]


class _Foreign:
    def __init__(self) -> None:
        self.items = [{"Put": {"TableName": "t-audit", "Item": {}}}]
        self.seen: list[dict[str, Any]] = []

    def explain(self, reasons: list[dict[str, Any]]) -> Exception | None:
        self.seen = reasons
        return None


class _ConflictingClient:
    """Cancels with TransactionConflict `failures` times, then commits."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def transact_write_items(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self.failures:
            n = len(kwargs["TransactItems"])
            raise _ClientError({
                "Error": {"Code": "TransactionCanceledException"},
                "CancellationReasons": [failed("TransactionConflict")] + [OK] * (n - 1)})
        return {}


class _ClientError(Exception):
    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__(response["Error"]["Code"])
        self.response = response


class TestCommit:
    def _ledger(self, client: Any, sleeps: list[float]) -> DynamoLedger:
        return DynamoLedger(client, "t-", sleep=sleeps.append, conflict_retries=4)

    def test_conflicts_are_retried_with_bounded_backoff(self) -> None:
        sleeps: list[float] = []
        client = _ConflictingClient(failures=3)
        part = posting.journal_part(TABLES, "acme", standard(), SPECS, now=NOW)
        self._ledger(client, sleeps).commit([part])
        assert client.calls == 4 and len(sleeps) == 3
        assert all(0 <= s <= 0.2 for s in sleeps)

    def test_gives_up_with_ledger_busy(self) -> None:
        sleeps: list[float] = []
        client = _ConflictingClient(failures=100)
        part = posting.journal_part(TABLES, "acme", standard(), SPECS, now=NOW)
        with pytest.raises(LedgerBusy) as err:
            self._ledger(client, sleeps).commit([part])
        assert client.calls == 5 and err.value.attempts == 5

    def test_too_many_items_are_refused_before_calling(self) -> None:
        client = _ConflictingClient(failures=0)
        part = posting.journal_part(TABLES, "acme", standard(), SPECS, now=NOW)
        with pytest.raises(TransactionTooLarge):
            self._ledger(client, []).commit([part] * 21)
        assert client.calls == 0
