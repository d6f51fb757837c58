"""A DynamoLedger over the `aws` fixture's in-process moto tables, with a controllable clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from ledger import JournalRequest, Posting, Side, channel_cash, loan_accounts
from ledger.dynamodb import DynamoLedger

TENANT = "acme"
DAY = date(2024, 5, 1)


class Clock:
    """Ticks one millisecond per reading so creation times are distinct and ordered."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2024, 5, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def ledger(aws: dict[str, Any], clock: Clock) -> Iterator[DynamoLedger]:
    lg = DynamoLedger(aws["dynamodb"], "test-", clock=clock, sleep=lambda _s: None)
    lg.open_default_chart(TENANT, "CNY", shards=4)
    lg.open_accounts(TENANT, [channel_cash("alipay", "CNY"), *loan_accounts("L1", "CNY")])
    yield lg


def legs(*spec: tuple[str, str, int]) -> tuple[Posting, ...]:
    """legs(("cash:alipay", "dr", 100), ("funding", "cr", 100)) in CNY."""
    return tuple(
        Posting(a, Side.DEBIT if s == "dr" else Side.CREDIT, n, "CNY") for a, s, n in spec
    )


def journal(jid: str, *spec: tuple[str, str, int], **kw: Any) -> JournalRequest:
    return JournalRequest(jid, legs(*spec), kw.pop("effective_date", DAY), **kw)
