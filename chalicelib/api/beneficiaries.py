"""Changing the payout destination before disbursement (issue 17), and its review.

Partners change it (on an open application or a loan not yet disbursing); a change whose
holder name does not match the applicant, under a `refer` policy, waits for a reviewer other
than the requester. Every change has an audit record holding only the masked form.
"""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import problems
from chalicelib.api.applications import loan_out, render
from chalicelib.api.beneficiary_models import BeneficiaryChange, BeneficiaryReview
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.origination_models import ApplicationOut, LoanOut
from chalicelib.api.roles import ORIGINATORS, REVIEWERS
from chalicelib.services import applications, beneficiaries, loan_lifecycle

problems.register(beneficiaries.REQUIRED, 409, "The loan has no beneficiary")
problems.register(beneficiaries.CHANGE_PENDING, 409, "A beneficiary change awaits review")

bp = Blueprint(__name__)


@endpoint(bp, "PUT", "/v1/applications/{application_id}/beneficiary",
          summary="Set or change an open application's payout destination", tag="Applications",
          roles=ORIGINATORS, body=BeneficiaryChange, errors={409},
          responses={200: (ApplicationOut, "Changed, or held for a reviewer "
                                           "(`beneficiary_pending`) when the holder's name "
                                           "does not match and the policy refers")})
def put_application_beneficiary(ctx: Context, application_id: str,
                                body: BeneficiaryChange) -> Reply:
    item = applications.get(ctx.tenant, application_id)
    name = str(applications.applicant_of(ctx.tenant, item)["name"])
    beneficiaries.change_application(ctx.uow, ctx.tenant, ctx.actor, ctx.now, item,
                                     body.beneficiary.value(), name)
    return Reply(render(ctx, item))


@endpoint(bp, "PUT", "/v1/loans/{loan_id}/beneficiary",
          summary="Set or change a loan's payout destination before disbursement",
          tag="Disbursements", roles=ORIGINATORS, body=BeneficiaryChange, errors={409},
          responses={200: (LoanOut, "Changed, or held for a reviewer (`beneficiary_pending`) "
                                    "when the holder's name does not match and the policy "
                                    "refers; 409 once the loan is disbursing or later")})
def put_loan_beneficiary(ctx: Context, loan_id: str, body: BeneficiaryChange) -> Reply:
    loan = loan_lifecycle.load(ctx.tenant, loan_id)
    application = applications.get(ctx.tenant, loan.application_id)
    name = str(applications.applicant_of(ctx.tenant, application)["name"])
    beneficiaries.change_loan(ctx.uow, ctx.tenant, ctx.actor, ctx.now, loan,
                              body.beneficiary.value(), name)
    return Reply(loan_out(loan))


@endpoint(bp, "POST", "/v1/loans/{loan_id}/beneficiary/review",
          summary="Approve or decline a held beneficiary change (reviewer)",
          tag="Disbursements", roles=REVIEWERS, body=BeneficiaryReview, idempotent=True,
          responses={200: (LoanOut, "Approved (in effect) or declined (dropped)")})
def review_loan_beneficiary(ctx: Context, loan_id: str, body: BeneficiaryReview) -> Reply:
    loan = loan_lifecycle.load(ctx.tenant, loan_id)
    beneficiaries.review_loan(ctx.uow, ctx.tenant, ctx.actor, ctx.now, loan, body.decision,
                              body.comment)
    return Reply(loan_out(loan))
