"""Applications: intake, scoring, decision, review, offer and acceptance, one command each.

`submit` runs the whole automated path in one request (validate → duplicate check → score →
decide → offer) and commits the application, its borrower index entry and its audit record in
one transaction. Personal data is sealed (services/personal_data.py) before anything is
stored; logs name applications by id and borrowers only masked.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalicelib import clock
from chalicelib.errors import DomainError, FieldError, conflict, invalid, not_found
from chalicelib.lending import application_states as states
from chalicelib.lending import beneficiary as payee
from chalicelib.lending.beneficiary import Beneficiary
from chalicelib.lending.decision import (
    Decision,
    PolicyConfig,
    age_problems,
    bucket,
    decide,
)
from chalicelib.lending.errors import LendingError
from chalicelib.lending.identity import age_on, mask_id
from chalicelib.lending.money import format_amount, parse_amount, to_decimal
from chalicelib.lending.product import ProductConfig
from chalicelib.lending.quote import quote as price
from chalicelib.scoring.card import ModelCard
from chalicelib.scoring.errors import FeatureValidationError
from chalicelib.services import (
    beneficiaries,
    decision_policies,
    outbox,
    personal_data,
    scoring_models,
)
from chalicelib.services.products import terms_of
from chalicelib.store import aggregates
from chalicelib.store import origination as store
from chalicelib.store.audit import Actor
from chalicelib.store.loans import PENDING_CONTRACT, LoanItem, get_loan, loan_pk
from chalicelib.store.loans import list_pk as loans_list_pk
from chalicelib.store.loans import list_sk as loans_list_sk
from chalicelib.store.origination import ApplicationItem, BorrowerLinkItem
from chalicelib.store.uow import UnitOfWork, put

if TYPE_CHECKING:  # numpy-backed; the cold path must not import it
    from chalicelib.scoring.runtime import ScoreResult

log = logging.getLogger("lending.applications")
CLOSED_LOAN = frozenset({"closed", "written_off", "cancelled"})
RECENT = timedelta(days=30)
# Model inputs filled from the application when the partner does not give them.
DERIVED = {"age_years": "/body/applicant/date_of_birth", "duration_months": "/body/term",
           "credit_amount": "/body/amount", "purpose": "/body/purpose"}
CHARACTERISTICS = "/body/applicant/characteristics"


@dataclass(frozen=True)
class Submission:
    """A shape-validated application (the API's parsed body, as plain values)."""

    product_id: str
    amount: int  # minor units
    currency: str
    term: int
    purpose: str
    channel: str
    source: str | None
    consents: dict[str, bool]
    applicant: dict[str, Any]  # normalized: national_id.number, phone in E.164, ...
    date_of_birth: date
    id_type: str
    id_number: str
    region: str
    employment_status: str
    months_in_job: int | None
    monthly_income: int  # minor units of the application currency
    characteristics: dict[str, Any]
    beneficiary: Beneficiary | None = None  # where the loan is paid (issue 17)


def _features(card: ModelCard, sub: Submission, age: int,
              terms: ProductConfig) -> tuple[dict[str, Any], dict[str, str]]:
    """The model's inputs: the partner's characteristics, plus derived ones clamped to the
    model's declared range (a scorecard's edge bins cover everything beyond)."""
    features = dict(sub.characteristics)
    moved: dict[str, str] = {}
    derived: dict[str, Any] = {"age_years": age, "duration_months": sub.term,
                               "credit_amount": to_decimal(sub.amount, terms.currency),
                               "purpose": sub.purpose}
    for spec in card.inputs:
        if spec.name in features or spec.name not in derived:
            continue
        value = derived[spec.name]
        if spec.type == "numeric":
            number = Decimal(value)
            if spec.minimum is not None:
                number = max(number, spec.minimum)
            if spec.maximum is not None:
                number = min(number, spec.maximum)
            value = int(number) if spec.integer else str(number)
        features[spec.name] = value
        moved[f"{CHARACTERISTICS}/{spec.name}"] = DERIVED[spec.name]
    return features, moved


def _validate(sub: Submission, terms: ProductConfig, policy: PolicyConfig, card: ModelCard,
              scorer: Any, today: date) -> tuple[int, dict[str, Any]]:
    """Every business problem at once: product ranges, ages, model inputs (422)."""
    errors = _product_problems(terms, policy, sub.currency, sub.amount, sub.term,
                               sub.date_of_birth, today)
    errors += beneficiaries.name_problems(policy, sub.beneficiary, sub.applicant["name"])
    age = age_on(sub.date_of_birth, today)
    features, moved = _features(card, sub, age, terms)
    try:
        scorer.validate(features, CHARACTERISTICS)
    except FeatureValidationError as exc:
        for e in exc.errors:
            pointer = moved.get(e.pointer, e.pointer)
            detail = e.detail if pointer == e.pointer else f"as a model input: {e.detail}"
            errors.append(FieldError(pointer, detail, e.code))
    if errors:
        raise invalid(errors, "The application has problems: see `errors`.")
    return age, features


def _product_problems(terms: ProductConfig, policy: PolicyConfig, currency: str | None,
                      amount: int | None, term: int | None, born: date | None,
                      today: date) -> list[FieldError]:
    """The product's and policy's limits, on whichever inputs are known (None: not usable)."""
    errors: list[FieldError] = []
    if currency is not None and currency != terms.currency:
        errors.append(FieldError("/body/amount/currency",
                                 f"this product lends in {terms.currency}", "currency_mismatch"))
    elif amount is not None:
        lo, hi = terms.amount_range_minor()
        if not lo <= amount <= hi:
            errors.append(FieldError(
                "/body/amount", f"must be between {terms.amount.min} and {terms.amount.max} "
                f"{terms.currency} for this product", "amount_out_of_range"))
    if term is not None and not terms.term.min <= term <= terms.term.max:
        errors.append(FieldError("/body/term", f"must be between {terms.term.min} and "
                                 f"{terms.term.max} installments for this product",
                                 "term_out_of_range"))
    if born is not None:
        errors += [FieldError("/body/" + "/".join(map(str, p.loc)), p.msg, p.type)
                   for p in age_problems(policy, age_on(born, today))]
    return errors


def precheck(tenant: str, raw: Any, today: date) -> list[FieldError]:
    """The product's checks on a body that failed its format checks, run on whatever parts are
    usable, so one 422 lists every problem (check digit and amount range alike) at once."""
    if not isinstance(raw, dict) or not isinstance(raw.get("product_id"), str):
        return []
    try:
        _, _, terms = terms_of(tenant, raw["product_id"])
        policy = decision_policies.for_product(tenant, terms.references.decision_policy_id)[2]
    except (DomainError, LendingError):
        return []  # no product to check against: the format errors stand alone
    money = raw.get("amount") if isinstance(raw.get("amount"), dict) else {}
    currency = money.get("currency") if isinstance(money.get("currency"), str) else None
    amount = None
    if currency == terms.currency and isinstance(money.get("amount"), str):
        with contextlib.suppress(LendingError):
            amount = parse_amount(money["amount"], currency)
    term = raw.get("term") if type(raw.get("term")) is int else None
    applicant = raw.get("applicant") if isinstance(raw.get("applicant"), dict) else {}
    born = None
    with contextlib.suppress(TypeError, ValueError):
        born = date.fromisoformat(applicant.get("date_of_birth"))
    return _product_problems(terms, policy, currency, amount, term, born, today)


def _duplicates(tenant: str, blind: str, now: datetime) -> tuple[dict[str, int], int]:
    """The borrower's counts for the policy, and the fence count the submission must move."""
    counts = {"open_applications": 0, "active_loans": 0, "applications_30d": 0,
              "declined_30d": 0}
    links, fence = store.borrower_links(tenant, blind)
    for link in links:
        if link.kind == "loan":
            loan = get_loan(tenant, link.ref_id)  # its status belongs to the loan's own life
            if loan is not None and loan.status not in CLOSED_LOAN:
                counts["active_loans"] += 1
            continue
        if states.is_open(link.status, link.offer_valid_until, now):
            counts["open_applications"] += 1
        if now - link.created_at <= RECENT:
            counts["applications_30d"] += 1
            counts["declined_30d"] += link.status == "declined"
    return counts, fence


def _policy_currency(policy: PolicyConfig, currency: str, policy_id: str) -> None:
    other = policy.currencies() - {currency}
    if other:
        raise conflict(f"Decision policy {policy_id} sets amounts in {', '.join(sorted(other))}"
                       f" but the product lends in {currency}; fix the policy.")


def _scorer(tenant: str, model_id: str | None) -> tuple[Any, scoring_models.ModelRef]:
    try:
        return scoring_models.scorer_for(tenant, model_id)
    except DomainError as exc:
        if exc.kind != "not-found":
            raise
        raise conflict(f"The product names scoring model {model_id}, which does not exist in "
                       "this tenant; fix the product's references.") from None


def offer_for(terms: ProductConfig, amount: int, term: int, grade: str, now: datetime,
              today: date, validity_days: int) -> tuple[dict[str, Any] | None, str | None]:
    """The offer for a grade, cutting the amount to the grade's limit if needed; or why none.
    `today` is the tenant's business date (the expected disbursement date)."""
    granted = min(amount, terms.max_amount_minor(grade))
    q = price(terms, granted, term, grade, today)
    if not q.eligible:
        return None, "; ".join(p.msg for p in q.refusals)
    body = q.as_json()
    for name in ("within_rules", "within_cap", "eligible", "refusals"):
        body.pop(name, None)
    cur = terms.currency
    body.update({
        "amount": {"amount": format_amount(granted, cur), "currency": cur},
        "requested": {"amount": format_amount(amount, cur), "currency": cur},
        "limit_cut": granted < amount, "disbursement_date": today.isoformat(),
        "valid_until": (now + timedelta(days=validity_days)).isoformat(),
    })
    return body, None


def _history(item: ApplicationItem, status: str, now: datetime, actor: Actor) -> None:
    entries = json.loads(item.history)
    entries.append({"status": status, "at": now.isoformat(), "by": actor.key_id})
    item.history = json.dumps(entries, separators=(",", ":"))


def _set_status(item: ApplicationItem, status: str) -> None:
    item.status = status
    item.gsi1sk = store.status_sk(status, item.created_at.isoformat(), item.application_id)


def _link(tenant: str, item: ApplicationItem) -> dict[str, Any]:
    link = BorrowerLinkItem(store.borrower_pk(tenant, item.borrower_ref),
                            f"application#{item.application_id}", kind="application",
                            ref_id=item.application_id, status=item.status,
                            created_at=item.created_at,
                            offer_valid_until=item.offer_valid_until)
    return put("main", link.serialize())


def _decision_record(application_id: str, champion: tuple[str, int, PolicyConfig],
                     challenger: tuple[str, int, PolicyConfig] | None, facts: dict[str, Any],
                     amount: int, result: ScoreResult, model: scoring_models.ModelRef,
                     now: datetime) -> tuple[dict[str, Any], PolicyConfig]:
    reasons = [r.as_dict() for r in result.reasons]
    arm_bucket = bucket(application_id)
    share = champion[2].challenger.share_units if champion[2].challenger else 0
    arms = {"champion": champion}
    if challenger is not None:
        arms["challenger"] = challenger
    decisions: dict[str, Decision] = {name: decide(cfg, facts, amount, reasons)
                                      for name, (_, _, cfg) in arms.items()}
    chosen = "challenger" if challenger is not None and arm_bucket < share else "champion"
    other = "champion" if chosen == "challenger" else "challenger"
    made = decisions[chosen]
    record = {
        "outcome": made.outcome,
        "arm": chosen,
        "policy": {"id": arms[chosen][0], "version": arms[chosen][1]},
        "model": model.as_dict(),
        "score": {"pd": round(result.pd, 6), "score": result.score, "grade": result.grade,
                  "reasons": reasons, "reasons_method": result.reasons_method},
        **{k: v for k, v in made.as_dict().items() if k != "outcome"},
        "assignment": {"bucket": arm_bucket, "challenger_share_bp": share},
        "facts": {"application": facts["application"], "duplicates": facts["duplicates"],
                  "beneficiary": facts["beneficiary"],
                  "applicant": {k: v for k, v in facts["applicant"].items()
                                if k in ("age", "region", "employment_status", "id_type")}},
        "alternate": None,
        "decided_at": now.isoformat(),
    }
    if other in decisions:
        alt = decisions[other]
        record["alternate"] = {"arm": other, "policy": {"id": arms[other][0],
                                                        "version": arms[other][1]},
                               **alt.as_dict()}
    return record, arms[chosen][2]


def submit(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime,
           sub: Submission) -> ApplicationItem:
    product, stored, terms = terms_of(tenant, sub.product_id)
    if product.status != "active":
        raise conflict("The product is retired and takes no new applications.")
    refs = terms.references
    champion = decision_policies.for_product(tenant, refs.decision_policy_id)
    _policy_currency(champion[2], terms.currency, champion[0])
    challenger = None
    if champion[2].challenger is not None:
        cid = champion[2].challenger.policy_id
        _, number, config = decision_policies.config_of(tenant, cid)
        _policy_currency(config, terms.currency, cid)
        challenger = (cid, number, config)
    scorer, model = _scorer(tenant, refs.scoring_model_id)
    today = clock.business_date(tenant, now)
    age, features = _validate(sub, terms, champion[2], scorer.card, scorer, today)

    application_id = f"app_{secrets.token_hex(8)}"
    blind = personal_data.blind_index(tenant, sub.id_type, sub.id_number)
    duplicates, fence = _duplicates(tenant, blind, now)
    result = scorer.score(features, pointer=CHARACTERISTICS)
    facts = {
        "application": {"product_id": sub.product_id, "product_version": stored.number,
                        "amount_minor": sub.amount, "currency": sub.currency, "term": sub.term,
                        "purpose": sub.purpose, "channel": sub.channel,
                        "source": sub.source or ""},
        "applicant": {"age": age, "region": sub.region,
                      "employment_status": sub.employment_status,
                      "months_in_job": sub.months_in_job or 0,
                      "monthly_income_minor": sub.monthly_income, "id_type": sub.id_type,
                      "characteristics": features},
        "score": {"pd": result.pd, "score": result.score, "grade": result.grade,
                  "model_id": model.id, "model_version": model.version},
        "duplicates": duplicates,
        "beneficiary": payee.facts(sub.beneficiary, sub.applicant["name"]),
    }
    record, policy = _decision_record(application_id, champion, challenger, facts, sub.amount,
                                      result, model, now)
    four_eyes = policy.review.four_eyes_above
    record["required_approvals"] = 2 if four_eyes and sub.amount > four_eyes.minor else 1
    offer = None
    if record["outcome"] == "approve":
        offer, why_not = offer_for(terms, sub.amount, sub.term, result.grade, now, today,
                                   policy.offer_validity_days)
        if offer is None:
            record["outcome"] = "refer"
            record["notes"].append(f"no offer within the product's rules: {why_not}")
    record["offer_validity_days"] = policy.offer_validity_days

    sealed = personal_data.seal(tenant, "application", application_id, sub.applicant)
    item = ApplicationItem(
        store.application_pk(tenant, application_id), store.APPLICATION_SK,
        application_id=application_id, product_id=sub.product_id,
        product_version=stored.number, status="submitted", amount=sub.amount,
        currency=sub.currency, term=sub.term, purpose=sub.purpose, channel=sub.channel,
        source=sub.source, consents=json.dumps(sub.consents, sort_keys=True),
        submitted_by=actor.key_id, submitted_role=actor.role, applicant_enc=sealed,
        borrower_ref=blind, age=age, region=sub.region, version=1, created_at=now,
        updated_at=now, gsi1pk=store.list_pk(tenant, "applications"),
        decision=None, offer=None, reviews="[]", history="[]")
    beneficiaries.attach(item, tenant, application_id, sub.beneficiary)
    for status in ("submitted", "scored", states.OUTCOME_STATUS[record["outcome"]]):
        _history(item, status, now, actor)
    _set_status(item, states.OUTCOME_STATUS[record["outcome"]])
    item.decision = json.dumps(record, separators=(",", ":"))
    if offer is not None:
        item.offer = json.dumps(offer, separators=(",", ":"))
        item.offer_valid_until = datetime.fromisoformat(offer["valid_until"])
    outbox.announce_decision(uow, tenant, now, item, record["outcome"])  # issue 7: webhooks
    aggregates.save(uow, item, tenant=tenant, aggregate_type="application",
                    aggregate_id=application_id, action="application.decided", actor=actor,
                    at=now, data=_audit_data(item, record), noun="application", new=True)
    uow.add(_link(tenant, item))
    uow.add(store.move_fence(tenant, blind, fence), on_fail=lambda _r: conflict(
        "Another application for the same borrower was submitted at the same time; retry."))
    log.info("application %s %s: product %s, borrower %s, score %s (%s)", application_id,
             item.status, sub.product_id, mask_id(sub.id_number), result.score, result.grade)
    return item


def _audit_data(item: ApplicationItem, record: dict[str, Any]) -> dict[str, Any]:
    return {"status": item.status, "product_id": item.product_id,
            "product_version": item.product_version, "amount": item.amount,
            "currency": item.currency, "term": item.term, "outcome": record["outcome"],
            "arm": record["arm"], "policy": record["policy"], "model": record["model"]["id"],
            "model_version": record["model"]["version"], "score": record["score"]["score"]}


def get(tenant: str, application_id: str) -> ApplicationItem:
    item = store.get_application(tenant, application_id)
    if item is None:
        raise not_found("Application")
    return item


def applicant_of(tenant: str, item: ApplicationItem) -> dict[str, Any]:
    return personal_data.unseal(tenant, "application", item.application_id, item.applicant_enc)


def _save(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, item: ApplicationItem,
          action: str, data: dict[str, Any]) -> None:
    aggregates.save(uow, item, tenant=tenant, aggregate_type="application",
                    aggregate_id=item.application_id, action=action, actor=actor, at=now,
                    data=data, noun="application")
    uow.add(_link(tenant, item))


def _move(item: ApplicationItem, target: str, now: datetime, actor: Actor) -> None:
    current = states.effective_status(item.status, item.offer_valid_until, now)
    if current == "expired" and target != "expired":
        raise DomainError("offer-expired", f"The offer lapsed at "
                          f"{item.offer_valid_until.isoformat() if item.offer_valid_until else ''}"
                          "; submit a new application.", extra={"status": "expired"})
    if not states.can_move(current, target):
        raise conflict(f"An application in status {current} cannot become {target}.",
                       status=current)
    _history(item, target, now, actor)
    _set_status(item, target)


def withdraw(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime,
             application_id: str) -> ApplicationItem:
    item = get(tenant, application_id)
    if item.status == "withdrawn":
        return item
    _move(item, "withdrawn", now, actor)
    _save(uow, tenant, actor, now, item, "application.withdrawn", {"status": "withdrawn"})
    return item


def review(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, application_id: str,
           verdict: str, comment: str) -> ApplicationItem:
    item = get(tenant, application_id)
    if item.submitted_by == actor.key_id:
        raise DomainError("forbidden", "A reviewer may not review an application they "
                          "submitted.")
    if item.status != "referred":
        raise conflict(f"Only referred applications are reviewed; this one is {item.status}.",
                       status=item.status)
    reviews = json.loads(item.reviews)
    record = json.loads(item.decision or "{}")
    required = int(record.get("required_approvals", 1))
    approvals = {r["reviewer"] for r in reviews if r["verdict"] == "approve"}
    if verdict == "approve" and actor.key_id in approvals:
        raise conflict("Four eyes: this application needs its next approval from a different "
                       "reviewer.", approvals=len(approvals), required_approvals=required)
    reviews.append({"reviewer": actor.key_id, "verdict": verdict, "comment": comment,
                    "at": now.isoformat()})
    item.reviews = json.dumps(reviews, separators=(",", ":"))
    if verdict == "decline":
        _move(item, "declined", now, actor)
        record.setdefault("reasons", []).insert(0, {
            "code": "MANUAL_REVIEW", "text": "Declined after review by a credit officer.",
            "source": "review"})
        if not any(r["source"] == "score" for r in record["reasons"]):
            record["reasons"] += [{"code": r["code"], "text": r["text"], "source": "score"}
                                  for r in record.get("score", {}).get("reasons", [])]
        item.decision = json.dumps(record, separators=(",", ":"))
    elif len(approvals) + 1 >= required:
        _, _, terms = terms_of(tenant, item.product_id, item.product_version)
        offer, why_not = offer_for(terms, item.amount, item.term, record["score"]["grade"], now,
                                   clock.business_date(tenant, now),
                                   int(record.get("offer_validity_days", 7)))
        if offer is None:
            raise conflict(f"No offer can be made within the product's rules: {why_not}")
        _move(item, "approved", now, actor)
        item.offer = json.dumps(offer, separators=(",", ":"))
        item.offer_valid_until = datetime.fromisoformat(offer["valid_until"])
    if item.status in ("approved", "declined"):  # issue 7: the reviewers' final decision
        outbox.announce_decision(uow, tenant, now, item, item.status.removesuffix("d"))
    _save(uow, tenant, actor, now, item, f"application.reviewed.{verdict}",
          {"status": item.status, "verdict": verdict, "approvals": len(approvals) +
           (verdict == "approve"), "required_approvals": required})
    return item


def accept(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime,
           application_id: str) -> tuple[ApplicationItem, LoanItem]:
    item = get(tenant, application_id)
    if item.status == "accepted" and item.loan_id:
        loan = get_loan(tenant, item.loan_id)
        if loan is not None:
            return item, loan
    _move(item, "accepted", now, actor)
    offer = json.loads(item.offer or "{}")
    loan_id = f"loan_{secrets.token_hex(8)}"
    cur = offer["currency"]
    from chalicelib.lending.money import parse_amount

    loan = LoanItem(loan_pk(tenant, loan_id), "loan", loan_id=loan_id,
                    application_id=application_id, product_id=item.product_id,
                    product_version=item.product_version,
                    principal=parse_amount(offer["amount"]["amount"], cur), currency=cur,
                    term=int(offer["term"]), grade=offer["grade"],
                    annual_rate_percent=offer["annual_rate_percent"],
                    apr_percent=str(offer["apr"]["apr"]),
                    schedule=json.dumps(offer["schedule"], separators=(",", ":")),
                    status=PENDING_CONTRACT, borrower_ref=item.borrower_ref, accepted_at=now,
                    accepted_by=actor.key_id, version=1, created_at=now, updated_at=now,
                    gsi1pk=loans_list_pk(tenant),
                    gsi1sk=loans_list_sk(PENDING_CONTRACT, now.isoformat(), loan_id))
    beneficiaries.copy_to_loan(tenant, item, loan)
    from chalicelib.services import contracts  # issue 6: accepting an offer makes the contract

    loan.contract_id = contracts.create_for_loan(uow, tenant, actor, now, loan,
                                                 applicant_of(tenant, item)).contract_id
    aggregates.save(uow, loan, tenant=tenant, aggregate_type="loan", aggregate_id=loan_id,
                    action="loan.created", actor=actor, at=now,
                    data={"application_id": application_id, "principal": loan.principal,
                          "currency": cur, "term": loan.term, "grade": loan.grade,
                          "status": PENDING_CONTRACT}, noun="loan", new=True)
    uow.add(put("main", BorrowerLinkItem(
        store.borrower_pk(tenant, item.borrower_ref), f"loan#{loan_id}", kind="loan",
        ref_id=loan_id, status=PENDING_CONTRACT, created_at=now).serialize()))
    item.loan_id = loan_id
    _save(uow, tenant, actor, now, item, "application.accepted",
          {"status": "accepted", "loan_id": loan_id})
    return item, loan


def listing(tenant: str, status: str | None, limit: int, start: dict[str, Any] | None,
            now: datetime) -> tuple[list[ApplicationItem], dict[str, Any] | None]:
    """A page, newest first. Lapsed offers are stored as approved: `approved` leaves them out
    and `expired` finds them (DynamoDB filters after the page limit, so a page may be short)."""
    prefix = f"{'approved' if status == 'expired' else status}#" if status else None
    expression = values = None
    if status in ("approved", "expired"):
        op = "<" if status == "expired" else ">="
        expression = f"offer_valid_until {op} :now"
        values = {":now": {"S": now.strftime("%Y-%m-%dT%H:%M:%S.%f%z")}}
    raw, last = store.query_list(tenant, "applications", prefix, limit, start, expression,
                                 values)
    return [ApplicationItem.from_raw_data(r) for r in raw], last
