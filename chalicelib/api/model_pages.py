"""Paging `GET /v1/models`: the shipped model heads the first page, then the tenant's models.

The shipped model takes one place of the first page's limit, so no page is longer than asked.
Later pages carry the tenant index's own DynamoDB key, so the shipped model never shifts the
tenant models' cursor. When the first page holds only the shipped model (limit 1), its cursor
carries AFTER_SHIPPED: "the tenant's models from the start" (signed like any other cursor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

AFTER_SHIPPED: dict[str, Any] = {"after": "shipped"}


@dataclass(frozen=True)
class PagePlan:
    shipped: bool  # the shipped model heads this page
    take: int  # how many tenant models to read (0: none fit)
    start: dict[str, Any] | None  # the tenant index key to start after


def plan(cursor_key: dict[str, Any] | None, limit: int) -> PagePlan:
    """What a page of `limit` holds, given the decoded cursor (None: the first page)."""
    if cursor_key is None:
        return PagePlan(shipped=True, take=limit - 1, start=None)
    if cursor_key == AFTER_SHIPPED:
        return PagePlan(shipped=False, take=limit, start=None)
    return PagePlan(shipped=False, take=limit, start=cursor_key)
