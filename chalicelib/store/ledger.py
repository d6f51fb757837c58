"""The process's ledger adapter, sharing the DynamoDB client with every other repository."""

from __future__ import annotations

from functools import cache

from chalicelib.config import settings
from chalicelib.store import dynamo
from ledger.dynamodb import DynamoLedger


@cache
def ledger() -> DynamoLedger:
    return DynamoLedger(dynamo.client(), settings().table_prefix)


def reset() -> None:
    ledger.cache_clear()
