"""Request and response models shared across resources (problems, pages, money)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    """Base of every request body: unknown fields are refused (no mass assignment)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class MoneyOut(BaseModel):
    """An amount as a decimal string in its currency's minor-unit scale (never a float)."""

    amount: str
    currency: str


class ProblemField(BaseModel):
    pointer: str
    detail: str
    code: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str
    errors: list[ProblemField] | None = None


class PageQuery(Strict):
    limit: int = Field(default=25, ge=1, le=100, description="Page size, 1-100.")
    cursor: str | None = Field(default=None, max_length=2048,
                               description="Opaque cursor from a previous page's next_cursor.")


class Page(BaseModel):
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at end.")
    data: list[Any]
