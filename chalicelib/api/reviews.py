"""Manual review of referred applications (`reviewer`; four eyes above the policy's amount)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import pagination
from chalicelib.api.applications import render, summary
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.origination_models import (
    ApplicationOut,
    ApplicationPage,
    ReviewCreate,
    ReviewQuery,
)
from chalicelib.api.roles import REVIEWERS
from chalicelib.services import applications

bp = Blueprint(__name__)


@endpoint(bp, "GET", "/v1/reviews", summary="The review queue: referred applications",
          tag="Reviews", roles=REVIEWERS, query=ReviewQuery,
          responses={200: (ApplicationPage, "A page of applications awaiting review")})
def review_queue(ctx: Context, query: ReviewQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "reviews", {})
    items, last = applications.listing(ctx.tenant, "referred", query.limit,
                                       pagination.decode(query.cursor, scope), ctx.now)
    return Reply(ApplicationPage(next_cursor=pagination.encode(scope, last),
                                 data=[summary(ctx, i) for i in items]))


@endpoint(bp, "POST", "/v1/applications/{application_id}/review",
          summary="Approve or decline a referred application", tag="Reviews", roles=REVIEWERS,
          body=ReviewCreate, idempotent=True,
          responses={200: (ApplicationOut, "Reviewed: approved (with an offer), declined, or "
                           "still referred awaiting a second reviewer")})
def review_application(ctx: Context, application_id: str, body: ReviewCreate) -> Reply:
    item = applications.review(ctx.uow, ctx.tenant, ctx.actor, ctx.now, application_id,
                               body.decision, body.comment)
    return Reply(render(ctx, item))
