"""The process's boto3 DynamoDB client: created once, lazily, and shared by every repository.

The endpoint comes from botocore's own configuration (AWS_ENDPOINT_URL locally), so the code
is the same against moto and AWS.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.config import settings


@cache
def client() -> Any:
    return boto3.client(
        "dynamodb",
        region_name=settings().region,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}),
    )


def table(logical: str) -> str:
    return settings().table(logical)


_on_reset: list[Callable[[], None]] = []


def on_reset(forget: Callable[[], None]) -> None:
    """Registers a process cache of table contents, forgotten with the client (tests)."""
    _on_reset.append(forget)


def reset() -> None:
    client.cache_clear()
    for forget in _on_reset:
        forget()
    from chalicelib.store import ledger

    ledger.reset()
