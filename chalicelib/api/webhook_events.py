"""The payload of every partner event: the `data` object per event type and the envelope that
carries it (services/outbox.py `message`, sent as is by the delivery worker).

Models forbid unknown fields, and the integration tests validate every body the emitters
produce against them (tests/webhook_contract.py), so the contract in openapi.yaml's
`webhooks:` cannot drift from what partners receive.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model

from chalicelib.api.schemas import MoneyOut
from chalicelib.lending.events import EventType


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApplicationDecidedData(_Data):
    """The automated decision at submission, or the reviewers' final one after a referral."""

    application_id: str
    product_id: str
    outcome: Literal["approve", "refer", "decline"]
    status: str = Field(description="The application's status after the decision.")
    amount: MoneyOut
    loan_id: str | None = Field(description="Null until an offer is accepted.")


class _LoanData(_Data):
    loan_id: str
    application_id: str
    product_id: str
    status: str = Field(description="The loan's status after the change.")
    principal: MoneyOut


class ContractSignedData(_LoanData):
    contract_id: str


class LoanDisbursedData(_LoanData):
    disbursement_id: str
    channel_id: str
    disbursed_on: date


class LoanClosedData(_LoanData):
    closed_on: date


class LoanCancelledData(_LoanData):
    """An accepted loan never paid out: unsigned or undisbursed past the product's
    `acceptance_expiry_days`; the borrower may apply again."""

    cancel_reason: Literal["expired"]
    expired_on: date = Field(description="The business date it expired on (the tenant's).")


class RepaymentReceivedData(_Data):
    loan_id: str
    repayment_id: str
    amount: MoneyOut
    paid_at: AwareDatetime
    channel: str
    reference: str
    loan_status: str = Field(description="The loan's status after the repayment.")


class _InstallmentData(_Data):
    loan_id: str
    installment: int = Field(ge=1, description="The installment's number, from 1.")
    due_date: date
    owed: MoneyOut = Field(description="What is still owed on the installment.")


class InstallmentDueSoonData(_InstallmentData):
    """A reminder, the product's reminder days before a due date with something owed."""


class InstallmentOverdueData(_InstallmentData):
    """The day after a due date the installment was not paid in full (a late fee applies)."""


class DisbursementEscalatedData(_Data):
    """A payout the channel took but has not answered for: an operator must chase it."""

    disbursement_id: str
    loan_id: str
    n: int = Field(ge=1, description="The attempt's number, from 1.")
    channel_id: str
    payout_id: str
    was: Literal["submitted", "unknown"] = Field(description="The attempt's status before.")
    expires_at: AwareDatetime = Field(description="When the channel's reservation expires.")


class LoanCobQuarantinedData(_Data):
    """Close of business could not close the loan's day; an operator must resolve it."""

    loan_id: str
    business_date: date
    run_id: str
    error_class: str


class _ChannelData(_Data):
    channel_id: str
    channel_type: str


class ChannelBreakerOpenedData(_ChannelData):
    """The channel failed `breaker.threshold` payouts in a row: routing skips it until one
    probe after the cool-down succeeds. Sent once per opening, not per skipped payout."""

    failures: int = Field(ge=1, description="Consecutive failures that opened it.")
    opened_at: AwareDatetime
    probe_after: AwareDatetime = Field(description="When one payout may probe it again.")


class ChannelBreakerClosedData(_ChannelData):
    """A probe succeeded: the channel takes payouts again."""

    failures: int = Field(ge=0, description="Always 0: the count starts again.")


class _ChannelBalanceData(_ChannelData):
    available: MoneyOut = Field(description="Posted less reserved, as the change that crossed "
                                            "the threshold left it.")
    threshold: MoneyOut = Field(description="The channel's `low_balance_threshold`.")


class ChannelBalanceLowData(_ChannelBalanceData):
    """The prefunded balance available for payouts fell under the channel's threshold: fund
    it (POST /v1/channels/{id}/fundings). Sent once per crossing, not per payout."""


class ChannelBalanceRestoredData(_ChannelBalanceData):
    """The available balance is at or above the threshold again (a funding, a released
    reservation)."""


DATA_MODELS: dict[EventType, type[BaseModel]] = {
    EventType.APPLICATION_DECIDED: ApplicationDecidedData,
    EventType.CONTRACT_SIGNED: ContractSignedData,
    EventType.LOAN_DISBURSED: LoanDisbursedData,
    EventType.REPAYMENT_RECEIVED: RepaymentReceivedData,
    EventType.INSTALLMENT_DUE_SOON: InstallmentDueSoonData,
    EventType.INSTALLMENT_OVERDUE: InstallmentOverdueData,
    EventType.LOAN_CLOSED: LoanClosedData,
    EventType.DISBURSEMENT_ESCALATED: DisbursementEscalatedData,
    EventType.LOAN_COB_QUARANTINED: LoanCobQuarantinedData,
    EventType.CHANNEL_BREAKER_OPENED: ChannelBreakerOpenedData,
    EventType.CHANNEL_BREAKER_CLOSED: ChannelBreakerClosedData,
    EventType.CHANNEL_BALANCE_LOW: ChannelBalanceLowData,
    EventType.CHANNEL_BALANCE_RESTORED: ChannelBalanceRestoredData,
    EventType.LOAN_CANCELLED: LoanCancelledData,
}
EVENT_ID_PATTERN = "^evt_[0-9a-f]{32}$"


def _envelope(event_type: EventType, data: type[BaseModel]) -> type[BaseModel]:
    name = data.__name__.removesuffix("Data") + "Event"
    return create_model(
        name, __config__=ConfigDict(extra="forbid"),
        __doc__=f"The body of a `{event_type.value}` webhook.",
        id=(str, Field(pattern=EVENT_ID_PATTERN, description=(
            "The event's id, also the `webhook-id` header of every attempt (dedupe on it)."))),
        type=(Literal[event_type.value], ...),  # type: ignore[valid-type]
        timestamp=(AwareDatetime, Field(description="When the event happened (UTC).")),
        data=(data, ...))


ENVELOPES: dict[EventType, type[BaseModel]] = {t: _envelope(t, m) for t, m in DATA_MODELS.items()}


def envelope(event_type: str) -> type[BaseModel]:
    """The envelope model of `event_type` (KeyError for a type not in the catalogue)."""
    return ENVELOPES[EventType(event_type)]
