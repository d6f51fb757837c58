"""Request and response shapes of origination: applications, decisions, offers, reviews.

Identity fields are checked here, field by field, so one 422 lists every format problem (the
ID's check digit and birth date, the phone, the consents); checks that need the product, the
policy or the model follow in the service, again all at once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal, Self

from pydantic import (
    BaseModel,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from chalicelib.api.beneficiary_models import BeneficiaryIn, BeneficiaryOut, PendingBeneficiaryOut
from chalicelib.api.lending_models import AprOut, ScheduleOut
from chalicelib.api.schemas import MoneyOut, Strict
from chalicelib.contracts import drawable
from chalicelib.ids import Cursor, MintedId
from chalicelib.lending import identity
from chalicelib.lending.application_states import Status
from chalicelib.lending.money import Money

Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
IdType = Literal["prc_resident_id", "passport", "other"]
Feature = StrictStr | StrictInt


def _fail(title: str, loc: tuple[str, ...], msg: str, code: str) -> None:
    """A validation error at a field of this model (pydantic prefixes the model's own path)."""
    raise ValidationError.from_exception_data(title, [InitErrorDetails(
        type=PydanticCustomError(code, msg), loc=loc, input=None)])


class NationalId(Strict):
    type: IdType
    number: str = Field(min_length=1, max_length=32)

    @field_validator("number")
    @classmethod
    def _valid(cls, value: str, info: ValidationInfo) -> str:
        kind = info.data.get("type")
        today = datetime.now(UTC).date()
        found = (identity.resident_id_problems(value, today) if kind == "prc_resident_id"
                 else identity.other_id_problems(value))
        if found:
            raise PydanticCustomError(found[0].code, "; ".join(p.msg for p in found))
        return identity.normalize_id(value)


class Employment(Strict):
    status: Literal["employed", "self_employed", "unemployed", "retired", "student"]
    months_in_job: int | None = Field(default=None, ge=0, le=1200)


class Address(Strict):
    region: str = Field(pattern=r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$",
                        description="ISO 3166-1 or 3166-2 code, e.g. CN-BJ.")


class Applicant(Strict):
    name: str = Field(min_length=1, max_length=100,
                      description="As printed on the contract: stored in NFC; refused (422) if "
                                  "it holds a character the contract fonts cannot draw, or a "
                                  "control, bidirectional or zero-width character.")
    national_id: NationalId
    phone: str = Field(min_length=6, max_length=24,
                       description="E.164 (+8613812345678) or an 11-digit mainland mobile.")
    date_of_birth: date
    monthly_income: Money
    employment: Employment
    address: Address
    characteristics: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")],
                          Feature] = Field(
        default_factory=dict, max_length=64,
        description="The scoring model's inputs (codes and whole numbers or decimal strings); "
                    "age, term, amount and purpose are filled in from the application when the "
                    "model takes them and they are not given.")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        normalized = identity.normalize_phone(value)
        if normalized is None:
            raise ValueError("not a valid phone number (E.164, or an 11-digit mainland mobile)")
        return normalized

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return drawable.checked(value)

    @model_validator(mode="after")
    def _birth_date_agrees(self) -> Self:
        if self.national_id.type == "prc_resident_id":
            born = identity.resident_id_birth_date(self.national_id.number)
            if born != self.date_of_birth:
                _fail("Applicant", ("date_of_birth",), "does not agree with the birth date in "
                      "the resident ID", "birth_date_mismatch")
        return self


class Channel(Strict):
    type: Literal["api", "web", "app", "agent", "branch", "partner_platform"]
    source: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9_.:/-]+$",
                               description="The partner's campaign, store or agent code.")


class Consents(Strict):
    credit_check: StrictBool
    data_processing: StrictBool
    marketing: StrictBool = False

    @field_validator("credit_check", "data_processing")
    @classmethod
    def _given(cls, value: bool) -> bool:
        if not value:
            raise ValueError("this consent is required to apply")
        return value


class ApplicationCreate(Strict):
    product_id: MintedId
    amount: Money
    term: int = Field(ge=1, le=1200, description="Installments.")
    purpose: Code
    applicant: Applicant
    channel: Channel
    consents: Consents
    beneficiary: BeneficiaryIn | None = Field(
        default=None, description="Where the loan is paid: needed before disbursement (or set "
        "later with PUT .../beneficiary). Sealed at rest, shown masked, never logged.")


class ReviewCreate(Strict):
    decision: Literal["approve", "decline"]
    comment: str = Field(min_length=1, max_length=2000,
                         description="Why; kept in the application's record.")


class StatusQuery(Strict):
    status: Status | None = None
    limit: int = Field(default=25, ge=1, le=100)
    cursor: Cursor | None = None


class ReviewQuery(Strict):
    limit: int = Field(default=25, ge=1, le=100)
    cursor: Cursor | None = None


# --- responses ---------------------------------------------------------------------------

class MaskedId(BaseModel):
    type: IdType
    number: str = Field(description="Masked: only the last four characters.")


class ApplicantOut(BaseModel):
    name: str = Field(description="Masked.")
    national_id: MaskedId
    phone: str = Field(description="Masked.")
    birth_year: int
    age: int
    region: str
    employment_status: str


class ReasonOut(BaseModel):
    code: str
    text: str
    source: Literal["rule", "score", "limit", "age", "review"]


class ScoreReasonOut(BaseModel):
    code: str
    characteristic: str
    text: str
    points_lost: float
    attribute: str
    best_attribute: str


class ModelRefOut(BaseModel):
    id: str = Field(description="'shipped' or a tenant model id.")
    version: str
    card_model_id: str
    card_version: str
    sha256: str


class ScoreOut(BaseModel):
    pd: float = Field(description="Probability of default (not money), 6 decimals.")
    score: int
    grade: str
    reasons: list[ScoreReasonOut]
    reasons_method: str


class RuleOut(BaseModel):
    id: str
    expression: str
    passed: bool | None = Field(description="null: the rule could not be evaluated.")
    error: str | None


class PolicyRefOut(BaseModel):
    id: str
    version: int


class AlternateOut(BaseModel):
    arm: Literal["champion", "challenger"]
    policy: PolicyRefOut
    outcome: Literal["approve", "refer", "decline"]
    band: Literal["approve", "refer", "decline"]
    rules: list[RuleOut]
    reasons: list[ReasonOut]
    notes: list[str]


class ApplicationFacts(BaseModel):
    product_id: str
    product_version: int
    amount_minor: int = Field(description="Requested amount in minor units.")
    currency: str
    term: int
    purpose: str
    channel: str
    source: str


class ApplicantFacts(BaseModel):
    """The applicant as the rules saw them, without personal data."""

    age: int
    region: str
    employment_status: str
    id_type: str


class DuplicateFacts(BaseModel):
    open_applications: int
    active_loans: int
    applications_30d: int
    declined_30d: int


class BeneficiaryFacts(BaseModel):
    present: bool
    kind: str
    scheme: str
    name_matches: bool


class DecisionFacts(BaseModel):
    application: ApplicationFacts
    applicant: ApplicantFacts
    duplicates: DuplicateFacts
    beneficiary: BeneficiaryFacts | None = None


class DecisionOut(BaseModel):
    outcome: Literal["approve", "refer", "decline"]
    arm: Literal["champion", "challenger"]
    policy: PolicyRefOut
    model: ModelRefOut
    score: ScoreOut
    band: Literal["approve", "refer", "decline"]
    rules: list[RuleOut]
    reasons: list[ReasonOut] = Field(description="Principal reasons (declines carry them).")
    notes: list[str]
    assignment: dict[str, int]
    facts: DecisionFacts = Field(description="What the rules saw, without personal data.")
    alternate: AlternateOut | None = Field(description="The other arm's outcome, recorded.")
    required_approvals: int
    offer_validity_days: int
    decided_at: str


class OfferOut(BaseModel):
    amount: MoneyOut
    requested: MoneyOut
    limit_cut: bool = Field(description="The grade's limit cut the requested amount.")
    currency: str
    grade: str
    annual_rate_percent: str
    principal: str
    term: int
    total_interest: str
    total_fees: str
    total_cost: str
    apr: AprOut
    schedule: ScheduleOut
    disbursement_date: str
    valid_until: str


class ReviewOut(BaseModel):
    reviewer: str = Field(description="The reviewer's API key id.")
    verdict: Literal["approve", "decline"]
    comment: str
    at: str


class ApplicationHistoryOut(BaseModel):
    status: str
    at: str
    by: str


class ApplicationOut(BaseModel):
    id: str
    status: Status
    product_id: str
    product_version: int
    amount: MoneyOut
    term: int
    purpose: str
    channel: dict[str, str | None]
    consents: dict[str, bool]
    applicant: ApplicantOut
    decision: DecisionOut | None
    offer: OfferOut | None
    reviews: list[ReviewOut]
    loan_id: str | None
    submitted_by: str
    history: list[ApplicationHistoryOut]
    beneficiary: BeneficiaryOut | None = Field(default=None, description="Masked.")
    beneficiary_pending: PendingBeneficiaryOut | None = Field(
        default=None, description="A change held for a reviewer (holder name mismatch).")
    created_at: datetime
    updated_at: datetime


class ApplicationSummary(BaseModel):
    id: str
    status: Status
    product_id: str
    amount: MoneyOut
    term: int
    outcome: Literal["approve", "refer", "decline"] | None
    grade: str | None
    score: int | None
    approvals: int
    required_approvals: int
    offer_valid_until: datetime | None
    created_at: datetime


class ApplicationPage(BaseModel):
    next_cursor: str | None
    data: list[ApplicationSummary]


class LoanOut(BaseModel):
    id: str
    status: str = Field(description="pending_contract when the offer is first accepted; "
                        "accepting it again returns the loan as it is now.")
    application_id: str
    product_id: str
    product_version: int
    principal: MoneyOut
    term: int
    grade: str
    annual_rate_percent: str
    apr_percent: str
    created_at: datetime
    beneficiary: BeneficiaryOut | None = Field(default=None, description="Masked.")
    beneficiary_pending: PendingBeneficiaryOut | None = Field(
        default=None, description="A change held for a reviewer: the loan is not disbursed "
        "until one approves or declines it.")


class AcceptOut(BaseModel):
    application: ApplicationOut
    loan: LoanOut
    contract_id: str = Field(description="The loan's contract, made on acceptance: "
                             "GET /v1/contracts/{contract_id} to read it, then request a signing "
                             "code and sign.")
