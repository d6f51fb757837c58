"""Loan applications (`partner` submits, withdraws and accepts; every role reads)."""

from __future__ import annotations

import json
from typing import Any

from chalice import Blueprint

from chalicelib import clock
from chalicelib.api import pagination, problems
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.origination_models import (
    AcceptOut,
    ApplicantOut,
    ApplicationCreate,
    ApplicationOut,
    ApplicationPage,
    ApplicationSummary,
    LoanOut,
    StatusQuery,
)
from chalicelib.api.roles import EVERYONE, ORIGINATORS
from chalicelib.lending import identity
from chalicelib.lending.application_states import effective_status
from chalicelib.lending.money import money_json
from chalicelib.services import applications, beneficiaries
from chalicelib.store.loans import LoanItem
from chalicelib.store.origination import ApplicationItem

problems.register("offer-expired", 409, "The offer has expired")

bp = Blueprint(__name__)


def _submission(body: ApplicationCreate) -> applications.Submission:
    a = body.applicant
    stored = a.model_dump(mode="json")  # what gets sealed: the normalized applicant
    return applications.Submission(
        product_id=body.product_id, amount=body.amount.minor, currency=body.amount.currency,
        term=body.term, purpose=body.purpose, channel=body.channel.type,
        source=body.channel.source, consents=body.consents.model_dump(), applicant=stored,
        date_of_birth=a.date_of_birth, id_type=a.national_id.type,
        id_number=a.national_id.number, region=a.address.region,
        employment_status=a.employment.status, months_in_job=a.employment.months_in_job,
        monthly_income=a.monthly_income.minor, characteristics=dict(a.characteristics),
        beneficiary=body.beneficiary.value() if body.beneficiary else None)


def _applicant(person: dict[str, Any], item: ApplicationItem) -> ApplicantOut:
    return ApplicantOut(
        name=identity.mask_name(person["name"]),
        national_id={"type": person["national_id"]["type"],
                     "number": identity.mask_id(person["national_id"]["number"])},
        phone=identity.mask_phone(person["phone"]), birth_year=int(person["date_of_birth"][:4]),
        age=item.age, region=item.region, employment_status=person["employment"]["status"])


def render(ctx: Context, item: ApplicationItem) -> ApplicationOut:
    person = applications.applicant_of(ctx.tenant, item)
    return ApplicationOut(
        id=item.application_id,
        status=effective_status(item.status, item.offer_valid_until, ctx.now),  # type: ignore
        product_id=item.product_id, product_version=item.product_version,
        amount=money_json(item.amount, item.currency), term=item.term, purpose=item.purpose,
        channel={"type": item.channel, "source": item.source},
        consents=json.loads(item.consents), applicant=_applicant(person, item),
        decision=json.loads(item.decision) if item.decision else None,
        offer=json.loads(item.offer) if item.offer else None,
        reviews=json.loads(item.reviews), loan_id=item.loan_id, submitted_by=item.submitted_by,
        history=json.loads(item.history), created_at=item.created_at,
        updated_at=item.updated_at, beneficiary=beneficiaries.shown(item),
        beneficiary_pending=beneficiaries.pending_shown(item))


def summary(ctx: Context, item: ApplicationItem) -> ApplicationSummary:
    decision = json.loads(item.decision) if item.decision else {}
    reviews = json.loads(item.reviews)
    return ApplicationSummary(
        id=item.application_id,
        status=effective_status(item.status, item.offer_valid_until, ctx.now),  # type: ignore
        product_id=item.product_id, amount=money_json(item.amount, item.currency),
        term=item.term, outcome=decision.get("outcome"),
        grade=decision.get("score", {}).get("grade"),
        score=decision.get("score", {}).get("score"),
        approvals=sum(r["verdict"] == "approve" for r in reviews),
        required_approvals=int(decision.get("required_approvals", 1)),
        offer_valid_until=item.offer_valid_until, created_at=item.created_at)


def loan_fields(loan: LoanItem) -> dict[str, Any]:
    """What a loan shows from acceptance on (`LoanOut`; `LoanView` adds its later life)."""
    return {"id": loan.loan_id, "status": loan.status, "application_id": loan.application_id,
            "product_id": loan.product_id, "product_version": loan.product_version,
            "principal": money_json(loan.principal, loan.currency), "term": loan.term,
            "grade": loan.grade, "annual_rate_percent": loan.annual_rate_percent,
            "apr_percent": loan.apr_percent, "created_at": loan.created_at,
            "beneficiary": beneficiaries.shown(loan),
            "beneficiary_pending": beneficiaries.pending_shown(loan)}


def loan_out(loan: LoanItem) -> LoanOut:
    return LoanOut(**loan_fields(loan))


@endpoint(bp, "POST", "/v1/applications", location="/v1/applications/{id}",
          summary="Submit a loan application: validated, "
          "scored and decided at once", tag="Applications", roles=ORIGINATORS,
          body=ApplicationCreate, idempotent=True, errors={404},
          precheck=lambda ctx, raw: applications.precheck(
              ctx.tenant, raw, clock.business_date(ctx.tenant, ctx.now)),
          responses={201: (ApplicationOut, "Decided: approved (with an offer), referred to "
                           "review, or declined (with principal reasons)")})
def submit_application(ctx: Context, body: ApplicationCreate) -> Reply:
    item = applications.submit(ctx.uow, ctx.tenant, ctx.actor, ctx.now, _submission(body))
    return Reply(render(ctx, item), 201)


@endpoint(bp, "GET", "/v1/applications", summary="List applications, newest first",
          tag="Applications", roles=EVERYONE, query=StatusQuery,
          responses={200: (ApplicationPage, "A page of applications")})
def list_applications(ctx: Context, query: StatusQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "applications", {"status": query.status})
    items, last = applications.listing(ctx.tenant, query.status, query.limit,
                                       pagination.decode(query.cursor, scope), ctx.now)
    return Reply(ApplicationPage(next_cursor=pagination.encode(scope, last),
                                 data=[summary(ctx, i) for i in items]))


@endpoint(bp, "GET", "/v1/applications/{application_id}", summary="An application, its "
          "decision record and offer (personal data masked)", tag="Applications", roles=EVERYONE,
          responses={200: (ApplicationOut, "The application")})
def get_application(ctx: Context, application_id: str) -> Reply:
    return Reply(render(ctx, applications.get(ctx.tenant, application_id)))


@endpoint(bp, "POST", "/v1/applications/{application_id}/withdraw",
          summary="Withdraw an application or decline its offer", tag="Applications",
          roles=ORIGINATORS, idempotent=True,
          responses={200: (ApplicationOut, "Withdrawn")})
def withdraw_application(ctx: Context, application_id: str) -> Reply:
    item = applications.withdraw(ctx.uow, ctx.tenant, ctx.actor, ctx.now, application_id)
    return Reply(render(ctx, item))


@endpoint(bp, "POST", "/v1/applications/{application_id}/accept", location="/v1/loans/{loan.id}",
          summary="Accept the offer: creates the loan (pending_contract)", tag="Applications",
          roles=ORIGINATORS, idempotent=True,
          responses={201: (AcceptOut, "Accepted; the loan awaits its contract")})
def accept_offer(ctx: Context, application_id: str) -> Reply:
    item, loan = applications.accept(ctx.uow, ctx.tenant, ctx.actor, ctx.now, application_id)
    # The accept command makes the contract in the same unit of work: the id is always set.
    return Reply(AcceptOut(application=render(ctx, item), loan=loan_out(loan),
                           contract_id=loan.contract_id), 201)  # type: ignore[arg-type]
