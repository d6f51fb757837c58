"""Response shapes of priced loans: schedules, APRs and quotes (money as decimal strings)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Amount = str  # a decimal string in the currency's minor-unit scale, e.g. "888.49"


class ScheduleInstallmentOut(BaseModel):
    number: int
    due_date: str
    days: int
    principal: Amount
    interest: Amount
    fee: Amount
    total: Amount
    outstanding_after: Amount


class ScheduleOut(BaseModel):
    currency: str
    disbursement_date: str
    principal: Amount
    financed: Amount
    payout: Amount = Field(description="What the borrower receives (after deducted fees).")
    origination_fee: Amount
    regular_payment: Amount | None
    total_interest: Amount
    total_fees: Amount
    total_payments: Amount
    total_cost: Amount = Field(description="Finance charge: interest plus every fee.")
    installments: list[ScheduleInstallmentOut]


class AprOut(BaseModel):
    method: Literal["us_reg_z", "irr"]
    apr: str = Field(description="Annual percentage rate, 2 decimals, e.g. \"12.68\".")
    apr_exact: str
    unit_period: str | None
    periods_per_year: str


class RefusalOut(BaseModel):
    loc: list[str | int]
    msg: str
    type: str
    ctx: dict[str, str | int] | None = Field(default=None, description=(
        "The limit the refusal is about, named per `type` (e.g. `max` and `grade` for "
        "`amount_above_grade_max`)."))


class QuoteOut(BaseModel):
    id: str
    status: Literal["valid", "expired"]
    product_id: str
    product_version: int
    currency: str
    grade: str
    annual_rate_percent: str
    principal: Amount
    term: int
    disbursement_date: str
    total_interest: Amount
    total_fees: Amount
    total_cost: Amount
    apr: AprOut = Field(description="APR with every fee included, as lenders must disclose.")
    within_rules: bool
    within_cap: bool
    eligible: bool
    refusals: list[RefusalOut]
    schedule: ScheduleOut
    created_at: str
    valid_until: str
