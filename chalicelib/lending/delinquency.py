"""Delinquency: buckets from a tenant's day ranges, and the loan status days past due imply.

Days past due on business date d = d − the due date of the oldest installment still owing
principal, interest or fee (penalties do not age a loan). Due on d is not yet overdue; d+1 is
1 DPD. Status follows DPD: 0 → active, 1..default_after_days → delinquent, above → defaulted
(a loan that catches up returns to active; write-off is an operator's decision).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

ACTIVE, DELINQUENT, DEFAULTED = "active", "delinquent", "defaulted"


class Range(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.+-]+$")
    min_days: int = Field(ge=1, le=36500)
    max_days: int | None = Field(default=None, ge=1, le=36500)


class DelinquencySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ranges: list[Range] = Field(min_length=1, max_length=20)
    default_after_days: int = Field(default=90, ge=1, le=3650)
    reminder_days_before: int = Field(default=3, ge=0, le=60)

    @model_validator(mode="after")
    def _contiguous(self) -> DelinquencySettings:
        expected = 1
        for k, r in enumerate(self.ranges):
            if r.min_days != expected:
                raise ValueError(f"range {k} ({r.name}) must start at day {expected}")
            if r.max_days is None:
                if k != len(self.ranges) - 1:
                    raise ValueError(f"only the last range may be open-ended ({r.name})")
                return self
            if r.max_days < r.min_days:
                raise ValueError(f"range {k} ({r.name}) ends before it starts")
            expected = r.max_days + 1
        raise ValueError("the last range must be open-ended (no max_days)")


DEFAULT_SETTINGS = DelinquencySettings(ranges=[
    Range(name="1-30", min_days=1, max_days=30), Range(name="31-60", min_days=31, max_days=60),
    Range(name="61-90", min_days=61, max_days=90), Range(name="90+", min_days=91)])


def bucket(dpd: int, ranges: Sequence[Range]) -> str | None:
    """The range a loan `dpd` days past due falls in; None when it is current."""
    if dpd <= 0:
        return None
    for r in ranges:
        if r.min_days <= dpd and (r.max_days is None or dpd <= r.max_days):
            return r.name
    return ranges[-1].name


def status_for(dpd: int, default_after_days: int) -> str:
    if dpd <= 0:
        return ACTIVE
    return DEFAULTED if dpd > default_after_days else DELINQUENT
