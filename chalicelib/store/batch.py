"""One consistent BatchGetItem over any tables, for reads that are known by key up front.

Why: a disbursement's routing needs its channels, their breakers, today's usage and their cash
balances, and a callback needs the disbursement, the seen marker and the pending journal; read
one by one they cost a request each (issue 17: <= 8 per disbursement, <= 5 per callback).
Every read here is strongly consistent, like the single reads it replaces.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from chalicelib.errors import DomainError
from chalicelib.store import dynamo

MAX_KEYS = 100  # DynamoDB's BatchGetItem limit per request
MAX_ROUNDS = 10  # unprocessed keys (throttling) are asked for again, with backoff

Wanted = tuple[str, dict[str, Any]]  # (physical table name, key)
Found = dict[tuple[str, str, str], dict[str, Any]]  # (table, pk, sk) -> raw item


def ref(table: str, item_key: dict[str, Any]) -> tuple[str, str, str]:
    return table, item_key["pk"]["S"], item_key["sk"]["S"]


def get_many(wanted: Iterable[Wanted]) -> Found:
    """The items that exist among `wanted`, by (table, pk, sk); duplicates are read once."""
    unique = {ref(t, k): (t, k) for t, k in wanted}
    found: Found = {}
    pending = list(unique.values())
    for start in range(0, len(pending), MAX_KEYS):
        request: dict[str, Any] = {}
        for table, item_key in pending[start:start + MAX_KEYS]:
            request.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(
                item_key)
        for attempt in range(MAX_ROUNDS):
            response = dynamo.client().batch_get_item(RequestItems=request)
            for table, rows in response.get("Responses", {}).items():
                for row in rows:
                    found[ref(table, row)] = row
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            time.sleep(min(0.2, 0.005 * 2**attempt))
        else:  # throttled throughout: a 503 the client retries, never a 500
            raise DomainError("service-unavailable", "The store is throttling reads; retry.")
    return found


def main_key(pk: str, sk: str) -> Wanted:
    return dynamo.table("main"), {"pk": {"S": pk}, "sk": {"S": sk}}
