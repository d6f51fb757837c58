"""Request and response models shared across resources (problems, pages, money)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from chalicelib import clock
from chalicelib.ids import Cursor


class Strict(BaseModel):
    """Base of every request body: unknown fields are refused (no mass assignment)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)


def _in_range(value: datetime) -> datetime:
    """Far enough from datetime's ends that converting to any zone (or adding a sandbox
    clock's offset) cannot overflow into a 500."""
    try:
        ok = EARLIEST <= value.astimezone(UTC) < LATEST
    except OverflowError:
        ok = False
    if not ok:
        raise PydanticCustomError("datetime_range", "a date-time from 1900 to 8999")
    return value


# Every datetime a request carries: an offset is required (a naive one is a 422 on its field),
# because the instant decides the tenant's business date.
Instant = Annotated[AwareDatetime, Field(
    description="An RFC 3339 date-time with its UTC offset, e.g. 2025-01-16T07:30:00+08:00."),
    AfterValidator(_in_range)]


def _zone(name: str) -> str:
    if not clock.is_zone(name):
        raise PydanticCustomError("time_zone", "an IANA time zone name, e.g. Asia/Shanghai")
    return name


TimeZone = Annotated[str, Field(min_length=1, max_length=64, examples=["Asia/Shanghai"],
                                description="IANA time zone of the tenant's business day."),
                     AfterValidator(_zone)]


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
    cursor: Cursor | None = None


class Page(BaseModel):
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null at end.")
    data: list[Any]
