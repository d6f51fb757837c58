"""The shapes inside reconciliation responses: an exception's detail and resolution, and each
step of the nightly verification, so a generated client reads fields rather than a bare dict.

They mirror what `services.reconciliation` and `services.daily_checks` build; a step that
raised is recorded as a `StepFailed` instead of its report; `tagged` adds the `status` that
tells them apart (the stored record predates it), so the contract has a real discriminator.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.audit import ChainBreak


class StatementLineOut(BaseModel):
    line: int = Field(description="1-based physical line in the statement file (a CSV's "
                      "header is line 1; for camt.053 the line of the TxDtls or Ntry).")
    type: Literal["payout", "collection"]
    value_date: date
    amount: str = Field(description="Decimal string in the currency's minor-unit scale.")
    currency: str


class LedgerMovementOut(BaseModel):
    journal_id: str
    type: Literal["payout", "collection"]
    effective_date: date
    amount: str = Field(description="Decimal string in the currency's minor-unit scale.")
    currency: str


class ExceptionDetail(BaseModel):
    differences: list[Literal["type", "currency", "amount"]] = Field(
        description="For `amount_mismatch`: what differs between the line and the movement.")
    side: Literal["statement", "ledger"] | None = Field(
        description="For `duplicate`: which side holds the extra occurrence.")
    statement_line: StatementLineOut | None = None
    ledger: LedgerMovementOut | None = None


class ExceptionResolution(BaseModel):
    note: str
    journal_id: str | None = Field(description="The adjusting journal, if one was posted.")
    by: str = Field(description="The resolving API key's id.")
    at: str


class StepFailed(BaseModel):
    """The step raised; the other steps still ran."""

    status: Literal["failed"]
    ok: Literal[False]
    error: str = Field(description="The error's class and message (at most 500 characters).")


class LedgerDiscrepancy(BaseModel):
    kind: str
    message: str


class LedgerCheck(BaseModel):
    status: Literal["checked"]
    ok: bool
    accounts: int
    journals: int
    entries: int
    discrepancies: int = Field(description="How many were found (the first 20 are `shown`).")
    shown: list[LedgerDiscrepancy]


class AuditCheck(BaseModel):
    status: Literal["checked"]
    ok: bool
    chains: int
    records: int
    breaks: list[ChainBreak] = Field(description="The first 20 breaks.")


class CheckpointMade(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    covers_from: str = Field(alias="from", description="Start of the interval.")
    through: str = Field(description="End of the interval (exclusive), UTC.")
    count: int
    digest: str
    prev_hash: str
    checkpoint_hash: str
    created_at: str


class CheckpointVerified(BaseModel):
    through: str
    ok: bool
    expected_count: int
    found_count: int
    problems: list[str]


class CheckpointStep(BaseModel):
    status: Literal["checked"]
    ok: bool
    checkpoint: CheckpointMade = Field(description="The newest checkpoint, made by this run "
                                       "unless nothing new was left to cover.")
    verified: list[CheckpointVerified]


class StatementRun(BaseModel):
    run_id: str
    channel: str
    statement: str = Field(description="The statement's S3 key.")
    counts: dict[str, int] = Field(description="Results per class, as on the run.")


class StatementFieldError(BaseModel):
    pointer: str
    detail: str
    code: str


class StatementFailure(BaseModel):
    statement: str
    error: str
    errors: list[StatementFieldError]


class ReconciliationStep(BaseModel):
    status: Literal["checked"]
    ok: bool
    runs: list[StatementRun]
    failures: list[StatementFailure]
    deferred: int = Field(description="Statements left for the next invocation.")


def tagged(view: dict[str, Any]) -> dict[str, Any]:
    """A stored step has no tag: the one that raised carries `error`."""
    return {key: {**value, "status": "failed" if "error" in value else "checked"}
            if key in STEPS and isinstance(value, dict) else value
            for key, value in view.items()}


STEPS = ("ledger", "audit", "checkpoints", "reconciliation")
_TAG = Field(discriminator="status")
LedgerResult = Annotated[LedgerCheck | StepFailed, _TAG]
AuditResult = Annotated[AuditCheck | StepFailed, _TAG]
CheckpointResult = Annotated[CheckpointStep | StepFailed, _TAG]
ReconciliationResult = Annotated[ReconciliationStep | StepFailed, _TAG]
