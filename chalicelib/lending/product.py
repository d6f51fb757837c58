"""Loan product configuration: what a tenant sets, validated strictly and all at once.

Money is decimal strings in the product's currency; rates are decimal-string percents ("12.5"
is 12.5% a year, nominal). Each section validates itself; the product then checks what spans
sections (amount scales against the currency, per-grade limits against the range, grace against
the term, and the APR cap against the cheapest grade's APR on a representative schedule), and
reports every problem with its field path in one ValidationError.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from chalicelib.ids import EntityId

from .allocation import DEFAULT_ALLOCATION, AllocationRule, allocation_problems
from .apr import AprMethod
from .daycount import DayCount
from .due_dates import MONTHLY, Frequency
from .errors import LendingError, Problem
from .money import (
    CurrencyCode,
    DecimalString,
    MoneyError,
    Rounding,
    currency_code,
    format_amount,
    parse_amount,
)
from .schedule import MAX_INSTALLMENTS, Amortization, FirstPeriod, OriginationTreatment

GRADE_PATTERN = r"^[A-Z][A-Za-z0-9_-]{0,15}$"
DEFAULT_GRADES: tuple[str, ...] = ("A", "B", "C", "D", "E")
#: Reference disbursement date for the representative schedules behind the cap check.
REPRESENTATIVE_DATE = date(2025, 1, 15)

GradeLabel = Annotated[str, StringConstraints(strict=True, pattern=GRADE_PATTERN)]
RatePercent = Annotated[
    StrictStr,
    Field(
        pattern=r"^[0-9]{1,4}(\.[0-9]{1,6})?$",
        description='Annual percentage as a decimal string: "12.5" is 12.5% a year',
        examples=["12.5"],
    ),
]
ReferenceId = EntityId


class PrepaymentStrategy(StrEnum):
    REDUCE_TERM = "reduce_term"  # keep the installment, finish earlier
    REDUCE_INSTALLMENT = "reduce_installment"  # keep the term, lower the installments


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _raise(title: str, problems: list[Problem]) -> None:
    """Turn domain problems into one pydantic ValidationError (locations relative to here)."""
    if problems:
        raise ValidationError.from_exception_data(
            title,
            [
                InitErrorDetails(
                    type=PydanticCustomError(p.type, p.msg.replace("{", "(").replace("}", ")")),
                    loc=p.loc,
                    input=p.ctx.get("input"),
                )
                for p in problems
            ],
        )


class AmountRange(_Section):
    min: DecimalString
    max: DecimalString

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if Decimal(self.min) > Decimal(self.max):
            _raise(
                "AmountRange",
                [
                    Problem(
                        ("min",), f"min {self.min} is greater than max {self.max}", "range_inverted"
                    )
                ],
            )
        return self


class TermRange(_Section):
    """Term in installments (periods of the product's frequency)."""

    min: Annotated[StrictInt, Field(ge=1, le=MAX_INSTALLMENTS)]
    max: Annotated[StrictInt, Field(ge=1, le=MAX_INSTALLMENTS)]

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            _raise(
                "TermRange",
                [
                    Problem(
                        ("min",), f"min {self.min} is greater than max {self.max}", "range_inverted"
                    )
                ],
            )
        return self


class Pricing(_Section):
    """Risk-based pricing: a nominal annual rate per grade, and optional per-grade limit cuts."""

    grades: Annotated[list[GradeLabel], Field(min_length=1, max_length=32)] = Field(
        default_factory=lambda: list(DEFAULT_GRADES)
    )
    rate_percent: dict[GradeLabel, RatePercent]
    max_amount: dict[GradeLabel, DecimalString] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _grades_consistent(self) -> Self:
        problems: list[Problem] = []
        seen: set[str] = set()
        for k, g in enumerate(self.grades):
            if g in seen:
                problems.append(
                    Problem(("grades", k), f"grade {g} is listed twice", "grade_duplicate")
                )
            seen.add(g)
        known = ", ".join(self.grades)
        for name in ("rate_percent", "max_amount"):
            for g in getattr(self, name):
                if g not in seen:
                    problems.append(
                        Problem(
                            (name, g), f"unknown grade {g}; the grades are {known}", "grade_unknown"
                        )
                    )
        missing = [g for g in self.grades if g not in self.rate_percent]
        if missing:
            problems.append(
                Problem(
                    ("rate_percent",),
                    f"no rate for grade(s) {', '.join(missing)}",
                    "grade_rate_missing",
                )
            )
        _raise("Pricing", problems)
        return self

    def cheapest_grade(self) -> str:
        return min(self.grades, key=lambda g: (Decimal(self.rate_percent[g]), g))


class Grace(_Section):
    principal_periods: Annotated[StrictInt, Field(ge=0, le=MAX_INSTALLMENTS)] = 0
    interest_periods: Annotated[StrictInt, Field(ge=0, le=MAX_INSTALLMENTS)] = 0


class RoundingConfig(_Section):
    """Interest rounds to the minor unit, installments to `installment_unit` (default: minor)."""

    mode: Rounding = Rounding.HALF_UP
    installment_unit: DecimalString | None = Field(
        default=None, description="Omitted: the currency's minor unit (0.01 for CNY)."
    )


class OriginationFee(_Section):
    flat: DecimalString = "0"
    percent: RatePercent = "0"
    treatment: OriginationTreatment = OriginationTreatment.DEDUCTED


class Fees(_Section):
    origination: OriginationFee = Field(default_factory=OriginationFee)
    installment: DecimalString = "0"  # flat, with every installment
    late: DecimalString = "0"  # flat, per missed installment (servicing)
    penalty_rate_percent: RatePercent = "0"  # annual, on overdue principal (servicing)


class References(_Section):
    """Links to objects other issues own; validated for shape here, for existence by services."""

    decision_policy_id: ReferenceId | None = Field(
        default=None, description="Omitted: the platform's `default` decision policy."
    )
    scoring_model_id: ReferenceId | None = Field(
        default=None, description="Omitted: the shipped model (`GET /v1/models/shipped`); a "
        "tenant model scores with its active version."
    )
    contract_template_id: ReferenceId | None = Field(
        default=None, description="Omitted: the shipped `default` contract template."
    )
    channel_ids: Annotated[list[ReferenceId], Field(max_length=32)] = Field(default_factory=list)


class ProductConfig(_Section):
    """A loan product's terms, as a tenant configures them (one immutable version)."""

    currency: CurrencyCode
    amount: AmountRange
    term: TermRange
    frequency: Frequency = MONTHLY
    amortization: Amortization = Amortization.EQUAL_INSTALLMENTS
    pricing: Pricing
    day_count: DayCount = DayCount.THIRTY_360
    first_period: FirstPeriod = FirstPeriod.ONE_PERIOD
    grace: Grace = Field(default_factory=Grace)
    rounding: RoundingConfig = Field(default_factory=RoundingConfig)
    fees: Fees = Field(default_factory=Fees)
    allocation: tuple[AllocationRule, ...] = DEFAULT_ALLOCATION
    prepayment: PrepaymentStrategy = PrepaymentStrategy.REDUCE_TERM
    overpayment_tolerance: DecimalString = Field(
        default="0",
        description="How far a repayment may exceed what the loan owes on its date: the excess "
        "closes the loan into the borrower's (refundable) credit balance; a larger one is "
        "refused. Major units of the product's currency.",
    )
    apr_cap_percent: RatePercent | None = None
    apr_method: AprMethod = AprMethod.US_REG_Z
    references: References = Field(default_factory=References)
    acceptance_expiry_days: Annotated[StrictInt, Field(ge=1, le=365)] = Field(
        default=30, description="An accepted loan still unsigned or not yet paid out this many "
        "business days after its acceptance (the tenant's dates) is cancelled as expired; one "
        "disbursing never is.")

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        try:
            return currency_code(value)
        except MoneyError as exc:
            raise ValueError(exc.problems[0].msg) from None

    @field_validator("allocation")
    @classmethod
    def _complete_allocation(cls, rules: tuple[AllocationRule, ...]) -> tuple[AllocationRule, ...]:
        problems = [Problem(p.loc[1:], p.msg, p.type, p.ctx) for p in allocation_problems(rules)]
        _raise("allocation", problems)
        return rules

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = self._amount_problems()
        problems += self._term_problems()
        if not problems:
            problems += self._cap_problems()
        _raise("ProductConfig", problems)
        return self

    # --- cross-section checks ------------------------------------------------------------

    def _amount_problems(self) -> list[Problem]:
        problems: list[Problem] = []
        parsed: dict[tuple[str | int, ...], int] = {}
        fields: list[tuple[tuple[str | int, ...], str | None]] = [
            (("amount", "min"), self.amount.min),
            (("amount", "max"), self.amount.max),
            (("rounding", "installment_unit"), self.rounding.installment_unit),
            (("fees", "origination", "flat"), self.fees.origination.flat),
            (("fees", "installment"), self.fees.installment),
            (("fees", "late"), self.fees.late),
            (("overpayment_tolerance",), self.overpayment_tolerance),
            *((("pricing", "max_amount", g), v) for g, v in self.pricing.max_amount.items()),
        ]
        for loc, text in fields:
            if text is None:
                continue
            try:
                parsed[loc] = parse_amount(text, self.currency)
            except MoneyError as exc:
                problems.append(Problem(loc, exc.problems[0].msg, exc.problems[0].type))
        if problems:
            return problems
        lo, hi = parsed[("amount", "min")], parsed[("amount", "max")]
        if lo <= 0:
            problems.append(
                Problem(
                    ("amount", "min"), "the minimum amount must be positive", "amount_not_positive"
                )
            )
        for g, text in self.pricing.max_amount.items():
            cut = parsed[("pricing", "max_amount", g)]
            if not lo <= cut <= hi:
                problems.append(
                    Problem(
                        ("pricing", "max_amount", g),
                        f"grade {g} max amount {text} must lie within the amount range "
                        f"{self.amount.min} to {self.amount.max}",
                        "grade_max_out_of_range",
                    )
                )
        unit = parsed.get(("rounding", "installment_unit"))
        if unit is not None and unit <= 0:
            problems.append(
                Problem(
                    ("rounding", "installment_unit"),
                    "the installment unit must be positive",
                    "unit_invalid",
                )
            )
        if parsed[("overpayment_tolerance",)] < 0:
            problems.append(
                Problem(
                    ("overpayment_tolerance",),
                    "the overpayment tolerance must not be negative",
                    "amount_negative",
                )
            )
        fee = self.fees.origination
        if Decimal(fee.percent) >= 100:
            problems.append(
                Problem(
                    ("fees", "origination", "percent"),
                    "the origination fee must be below 100%",
                    "fee_too_high",
                )
            )
        elif fee.treatment is OriginationTreatment.DEDUCTED and lo > 0:
            smallest_fee = self.origination_fee(lo)
            fee_text = format_amount(smallest_fee, self.currency)
            if smallest_fee >= lo:
                problems.append(
                    Problem(
                        ("fees", "origination"),
                        f"a deducted origination fee of {fee_text} "
                        f"would swallow the minimum amount {self.amount.min}",
                        "fee_exceeds_principal",
                    )
                )
        return problems

    def _term_problems(self) -> list[Problem]:
        problems: list[Problem] = []
        g = self.grace
        if self.amortization is Amortization.SINGLE_BULLET and (
            g.principal_periods or g.interest_periods
        ):
            problems.append(
                Problem(
                    ("grace",), "a single bullet loan has no grace periods", "grace_not_applicable"
                )
            )
        for name, periods in (
            ("principal_periods", g.principal_periods),
            ("interest_periods", g.interest_periods),
        ):
            if periods >= self.term.min:
                problems.append(
                    Problem(
                        ("grace", name),
                        f"grace of {periods} periods must be shorter than the minimum term "
                        f"({self.term.min})",
                        "grace_too_long",
                    )
                )
        for grade, rate in self.pricing.rate_percent.items():
            if Decimal(rate) > 1000:
                problems.append(
                    Problem(
                        ("pricing", "rate_percent", grade),
                        "rate must be at most 1000%",
                        "rate_out_of_range",
                    )
                )
        return problems

    def _cap_problems(self) -> list[Problem]:
        """Every grade must be able to quote under the cap somewhere in the product's range."""
        if self.apr_cap_percent is None:
            return []
        from .pricing import lowest_apr  # pricing imports this module

        cap = Decimal(self.apr_cap_percent)
        problems: list[Problem] = []
        cheapest = self.pricing.cheapest_grade()
        try:
            best = lowest_apr(self, cheapest, REPRESENTATIVE_DATE)
        except LendingError as exc:
            return [
                Problem(
                    ("pricing", "rate_percent", cheapest),
                    f"no representative schedule for grade {cheapest}: {p.msg}",
                    p.type,
                )
                for p in exc.problems
            ]
        if best.apr > cap:
            problems.append(
                Problem(
                    ("apr_cap_percent",),
                    f"cap {self.apr_cap_percent}% is below the APR of the cheapest grade "
                    f"{cheapest}: {best.apr}% ({best.describe(self.currency)})",
                    "apr_cap_below_cheapest",
                )
            )
            return problems
        for grade in self.pricing.grades:
            if grade == cheapest:
                continue
            apr = lowest_apr(self, grade, REPRESENTATIVE_DATE, only=(best.amount, best.term))
            if apr.apr > cap:
                problems.append(
                    Problem(
                        ("pricing", "rate_percent", grade),
                        f"grade {grade} can never quote under the {self.apr_cap_percent}% cap: "
                        f"its APR is {apr.apr}% even at {apr.describe(self.currency)}",
                        "grade_above_cap",
                    )
                )
        return problems

    # --- accessors the quote and the API use ---------------------------------------------

    def amount_range_minor(self) -> tuple[int, int]:
        return parse_amount(self.amount.min, self.currency), parse_amount(
            self.amount.max, self.currency
        )

    def max_amount_minor(self, grade: str) -> int:
        """The most a grade may borrow: its limit cut if any, else the product maximum."""
        cut = self.pricing.max_amount.get(grade)
        return parse_amount(cut, self.currency) if cut else self.amount_range_minor()[1]

    def rate_percent(self, grade: str) -> Decimal:
        try:
            return Decimal(self.pricing.rate_percent[grade])
        except KeyError:
            raise LendingError.single(
                "grade",
                f"unknown grade {grade}; this product prices {', '.join(self.pricing.grades)}",
                "grade_unknown",
                grade=grade,
            ) from None

    def installment_unit_minor(self) -> int:
        unit = self.rounding.installment_unit
        return parse_amount(unit, self.currency) if unit else 1

    def origination_fee(self, principal: int) -> int:
        """Flat + percent of the principal, the percentage rounded by the product's mode."""
        from .money import round_minor

        fee = self.fees.origination
        percent = round_minor(principal * Decimal(fee.percent) / 100, self.rounding.mode)
        return parse_amount(fee.flat, self.currency) + percent

    def installment_fee_minor(self) -> int:
        return parse_amount(self.fees.installment, self.currency)

    def overpayment_tolerance_minor(self) -> int:
        return parse_amount(self.overpayment_tolerance, self.currency)


def parse_product(data: Any) -> ProductConfig:
    """Validate a JSON-decoded dict; raise LendingError (422-ready) with every problem."""
    try:
        return ProductConfig.model_validate(data)
    except ValidationError as exc:
        raise LendingError(
            Problem(tuple(e["loc"]), e["msg"], e["type"]) for e in exc.errors()
        ) from None
