"""Decision policies and the decision itself: knock-out rules, score bands, auto-approval
limit, and the champion/challenger split. Pure (no I/O); the service supplies the facts.

Order of evaluation, and why: every rule is evaluated (the record must show each one), then
  1. a rule that failed → decline, with that rule's reason first;
  2. a rule that could not be evaluated → refer (a person decides; never a silent approval);
  3. the score band: decline below `decline_below`, approve from `approve_from`, else refer;
  4. an approval above `max_auto_approve` → refer (large loans get a human review).
Declines carry principal reasons: the failed rules' reasons and the model's score reasons.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from .errors import Problem
from .money import Money
from .product import _raise
from .rule_cost import SCALAR, UNKNOWN_SIZE, Shape, record, text
from .rule_meter import Budget
from .rules import MAX_EXPRESSION, MAX_RULE_COST, MAX_RULES, RuleResult, evaluate, to_cel

Outcome = Literal["approve", "refer", "decline"]
SHARE_UNITS = 10_000  # challenger share resolution: basis points
RuleId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
PolicyRef = Annotated[str, Field(max_length=20, pattern=r"^pol_[0-9a-f]{16}$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Section):
    id: RuleId
    expression: str = Field(min_length=1, max_length=MAX_EXPRESSION,
                            description="CEL; must be true for the application to pass. Its "
                                        f"estimated cost is at most {MAX_RULE_COST:,} "
                                        "evaluation steps (nested comprehensions multiply).",
                            examples=["applicant.age >= 18 && score.pd < 0.35"])
    reason_code: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,31}$")
    reason_text: str = Field(min_length=1, max_length=300,
                             description="Shown to the borrower when this rule declines.")


class ScoreBands(_Section):
    approve_from: StrictInt = Field(ge=0, le=1000, description="Approve at or above this score.")
    decline_below: StrictInt = Field(ge=0, le=1000, description="Decline below this score.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.decline_below > self.approve_from:
            _raise("ScoreBands", [Problem(("decline_below",), "must not be above approve_from",
                                          "range_inverted")])
        return self


class AgeLimits(_Section):
    min: StrictInt = Field(default=18, ge=16, le=100)
    max: StrictInt = Field(default=70, ge=16, le=120)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            _raise("AgeLimits", [Problem(("min",), "must not be above max", "range_inverted")])
        return self


class Challenger(_Section):
    policy_id: PolicyRef
    share_percent: str = Field(pattern=r"^(100(\.0{1,2})?|[0-9]{1,2}(\.[0-9]{1,2})?)$",
                               description="Share of applications decided by the challenger, "
                                           "0-100 with up to two decimals.")

    @property
    def share_units(self) -> int:
        whole, _, frac = self.share_percent.partition(".")
        return int(whole) * 100 + int((frac + "00")[:2])


class Review(_Section):
    four_eyes_above: Money | None = Field(
        default=None, description="Approvals of larger amounts need two different reviewers.")


class BeneficiaryRules(_Section):
    name_mismatch: Literal["refuse", "refer"] = Field(
        default="refuse", description="A payout account whose holder is not the applicant "
        "(names compared after normalisation): `refuse` it (422 at the field), or `refer` "
        "the application (reason `beneficiary_name_mismatch`) and, on a loan, hold the "
        "change for a reviewer.")


class PolicyConfig(_Section):
    """One immutable version of a decision policy."""

    rules: list[Rule] = Field(default_factory=list, max_length=MAX_RULES)
    score_bands: ScoreBands
    age: AgeLimits = Field(default_factory=AgeLimits)
    max_auto_approve: Money | None = Field(
        default=None, description="Approvals above this amount are referred to a reviewer.")
    review: Review = Field(default_factory=Review)
    offer_validity_days: StrictInt = Field(default=7, ge=1, le=90)
    challenger: Challenger | None = None
    beneficiary: BeneficiaryRules = Field(default_factory=BeneficiaryRules)

    @model_validator(mode="after")
    def _unique_rules(self) -> Self:
        seen: set[str] = set()
        problems = []
        for i, rule in enumerate(self.rules):
            if rule.id in seen:
                problems.append(Problem(("rules", i, "id"), f"rule id {rule.id} is repeated",
                                        "duplicate"))
            seen.add(rule.id)
        _raise("PolicyConfig", problems)
        return self

    def currencies(self) -> set[str]:
        amounts = (self.max_auto_approve, self.review.four_eyes_above)
        return {m.currency for m in amounts if m is not None}


#: The policy of a product that names none: ages 18-70, no knock-out rules, the default grade
#: bands (A-C approve, D refer, E decline), no auto-approval cap and no four-eyes threshold
#: (amounts need a currency, which only a tenant's own policy can name).
DEFAULT_POLICY = PolicyConfig(score_bands=ScoreBands(approve_from=520, decline_below=500))

#: Facts of the right shape for dry-running a rule when a policy is created.
SAMPLE_FACTS: dict[str, Any] = {
    "application": {"product_id": "prod_0000000000000000", "amount_minor": 1_000_000,
                    "currency": "CNY", "term": 12, "purpose": "other", "channel": "api",
                    "source": "", "product_version": 1},
    "applicant": {"age": 35, "region": "CN-BJ", "employment_status": "employed",
                  "months_in_job": 24, "monthly_income_minor": 800_000, "id_type":
                  "prc_resident_id", "characteristics": {}},
    "score": {"pd": 0.1, "score": 540, "grade": "B", "model_id": "german-credit",
              "model_version": "1.0.0"},
    "duplicates": {"open_applications": 0, "active_loans": 0, "applications_30d": 0,
                   "declined_30d": 0},
    "beneficiary": {"present": True, "kind": "bank_account", "scheme": "cn_unionpay_card",
                    "name_matches": True},
}


#: The largest size each fact can have, for a rule's cost estimate (`rule_cost`): strings from
#: the application schema's bounds (`api/origination_models.py`; a product id is generated),
#: up to 64 partner characteristics plus the four derived ones, and `UNKNOWN_SIZE` (the body
#: limit) for strings without a schema bound (characteristic values, tenant grade and model
#: names).
CHARACTERISTICS_MAX = 64 + 4
FACT_SHAPES: dict[str, Shape] = {
    "application": record({"product_id": text(21), "amount_minor": SCALAR, "currency": text(3),
                           "term": SCALAR, "purpose": text(40), "channel": text(16),
                           "source": text(100), "product_version": SCALAR}),
    "applicant": record({"age": SCALAR, "region": text(6), "employment_status": text(13),
                         "months_in_job": SCALAR, "monthly_income_minor": SCALAR,
                         "id_type": text(15),
                         "characteristics": Shape(CHARACTERISTICS_MAX, text(64),
                                                  text(UNKNOWN_SIZE))}),
    "score": record({"pd": SCALAR, "score": SCALAR, "grade": text(UNKNOWN_SIZE),
                     "model_id": text(UNKNOWN_SIZE), "model_version": text(UNKNOWN_SIZE)}),
    "duplicates": record({"open_applications": SCALAR, "active_loans": SCALAR,
                          "applications_30d": SCALAR, "declined_30d": SCALAR}),
    "beneficiary": record({"present": SCALAR, "kind": text(12), "scheme": text(40),
                           "name_matches": SCALAR}),
}
NAME_MISMATCH = "beneficiary_name_mismatch"  # = beneficiary.NAME_MISMATCH_CODE


@dataclass(frozen=True, slots=True)
class ReasonOut:
    code: str
    text: str
    source: Literal["rule", "score", "limit", "age"]

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "text": self.text, "source": self.source}


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    band: Outcome
    rules: tuple[tuple[Rule, RuleResult], ...]
    reasons: tuple[ReasonOut, ...]
    notes: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "band": self.band,
            "rules": [{"id": r.id, "expression": r.expression, "passed": res.passed,
                       "error": res.error} for r, res in self.rules],
            "reasons": [r.as_dict() for r in self.reasons],
            "notes": list(self.notes),
        }


def decide(policy: PolicyConfig, facts: dict[str, Any], amount_minor: int,
           score_reasons: list[dict[str, Any]], budget: Budget | None = None) -> Decision:
    """One policy's outcome for one application (facts as in SAMPLE_FACTS); its rules share
    one evaluation budget, and a rule that runs out refers the application like any error."""
    activation = to_cel(facts)
    budget = budget or Budget()
    results = tuple((rule, evaluate(rule.id, rule.expression, activation, budget))
                    for rule in policy.rules)
    score = int(facts["score"]["score"])
    bands = policy.score_bands
    band: Outcome = ("decline" if score < bands.decline_below
                     else "approve" if score >= bands.approve_from else "refer")
    reasons: list[ReasonOut] = []
    notes: list[str] = []
    failed = [rule for rule, res in results if res.passed is False]
    errored = [(rule, res) for rule, res in results if res.passed is None]
    for rule in failed:
        reasons.append(ReasonOut(rule.reason_code, rule.reason_text, "rule"))
    score_why = [ReasonOut(str(r["code"]), str(r["text"]), "score") for r in score_reasons]
    outcome: Outcome
    if failed:
        outcome = "decline"
        reasons += score_why
    elif errored:
        outcome = "refer"
        notes += [f"rule {rule.id} could not be evaluated: {res.error}" for rule, res in errored]
    elif band == "decline":
        outcome = "decline"
        reasons += score_why
        notes.append(f"score {score} is below {bands.decline_below}")
    elif band == "refer":
        outcome = "refer"
        notes.append(f"score {score} is between {bands.decline_below} and "
                     f"{bands.approve_from - 1}")
    else:
        outcome = "approve"
        cap = policy.max_auto_approve
        if cap is not None and amount_minor > cap.minor:
            outcome = "refer"
            notes.append(f"amount above the automatic approval limit of {cap.amount} "
                         f"{cap.currency}")
    payee = facts.get("beneficiary") or {}
    if outcome == "approve" and payee.get("present") and not payee.get("name_matches"):
        outcome = "refer"  # policy `refuse` stopped it at intake: here it is `refer`
        reasons.append(ReasonOut(NAME_MISMATCH, "The payout account's holder is not the "
                                 "applicant; a reviewer must confirm it.", "rule"))
        notes.append("the beneficiary's holder name does not match the applicant's")
    return Decision(outcome, band, results, tuple(reasons), tuple(notes))


def bucket(application_id: str) -> int:
    """A stable number 0..9999 for an application: its champion/challenger assignment."""
    digest = hashlib.sha256(f"champion-challenger:{application_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SHARE_UNITS


def uses_challenger(application_id: str, share_units: int) -> bool:
    return bucket(application_id) < share_units


def age_problems(policy: PolicyConfig, age: int) -> list[Problem]:
    if age < policy.age.min:
        return [Problem(("applicant", "date_of_birth"),
                        f"the applicant must be at least {policy.age.min} years old",
                        "age_below_min")]
    if age > policy.age.max:
        return [Problem(("applicant", "date_of_birth"),
                        f"the applicant must be at most {policy.age.max} years old",
                        "age_above_max")]
    return []
