"""Close of business for operators: trigger a business date, watch its progress, list and
resolve the loans it quarantined; and the tenant's delinquency ranges."""

from __future__ import annotations

import time
from datetime import date
from typing import Literal

from chalice import Blueprint
from pydantic import BaseModel, Field

from chalicelib.api import pagination
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.roles import BOOKKEEPERS, CONFIGURERS, EVERYONE, OPERATORS
from chalicelib.api.schemas import PageQuery, Strict
from chalicelib.lending.delinquency import DelinquencySettings
from chalicelib.services import cob, cob_chunks, cob_exceptions, servicing
from chalicelib.store import servicing as store

bp = Blueprint(__name__)
PLAN_BUDGET_S = 5.0  # planning in the request; a worker continues a larger plan


class RunBody(Strict):
    business_date: date = Field(description="A business day of the tenant (its time zone), "
                                            "no later than its today.")


class CobRunOut(BaseModel):
    id: str
    business_date: date
    attempt: int
    status: str = Field(description="running | completed")
    trigger: str
    planned: bool = Field(description="Every chunk of the loans index is written and sent.")
    chunks_total: int = Field(description="Chunks planned so far; once every one is done, "
                                          "one more: the sweep for loans changed meanwhile.")
    chunks_done: int = Field(description="Chunks finished; the run completes with the last.")
    processed: int = Field(description="Loans looked at so far, over all chunks (recorded "
                                       "after each page).")
    stepped: int = Field(description="Loans whose days were closed by this run.")
    skipped: int = Field(description="Loans already closed through the date, or not open.")
    conflicts: int = Field(description="Loans moved concurrently (a repayment, another "
                                       "delivery of the chunk); their markers decide.")
    quarantined: int = Field(description="Loans that could not be closed: each has an open "
                             "exception (GET /v1/cob/exceptions); the next run retries them.")
    pages: int
    started_at: str
    updated_at: str
    completed_at: str | None


@endpoint(bp, "POST", "/v1/cob/runs", location="/v1/cob/runs/{id}",
          summary="Run (or resume) close of business for a "
          "business date", tag="Close of business", roles=OPERATORS, body=RunBody,
          idempotent=True, responses={202: (CobRunOut, "Started or resumed; see its progress")})
def post_run(ctx: Context, body: RunBody) -> Reply:
    """Plans the run's chunks and sends them to the workers; answers before any loan is
    closed (GET the run for its progress)."""
    item = cob.start(ctx.tenant, body.business_date, ctx.now, f"operator:{ctx.key_id}")
    item = cob_chunks.dispatch(ctx.tenant, item["run_id"]["S"], ctx.now,
                               deadline=time.monotonic() + PLAN_BUDGET_S)
    view = cob.view(item)
    return Reply(CobRunOut(**view), 202)


@endpoint(bp, "GET", "/v1/cob/runs/{run_id}", summary="A close-of-business run's progress",
          tag="Close of business", roles=EVERYONE, responses={200: (CobRunOut, "The run")})
def get_run(ctx: Context, run_id: str) -> Reply:
    return Reply(CobRunOut(**cob.view(cob.get_run(ctx.tenant, run_id))))


class CobResolution(BaseModel):
    note: str
    by: str = Field(description="The resolving API key's id, or `cob` when a later run "
                    "closed the loan.")
    at: str
    run_id: str | None = Field(default=None, description="The run that closed the loan "
                               "(set when `by` is `cob`).")


class CobExceptionOut(BaseModel):
    loan_id: str
    status: Literal["open", "resolved"]
    business_date: date = Field(description="The business date of the last failed attempt.")
    run_id: str = Field(description="The run that last failed to close the loan.")
    first_run_id: str
    first_seen: str
    last_seen: str
    occurrences: int = Field(description="Failed attempts since the exception opened.")
    error_class: str
    message: str = Field(description="A safe summary (no personal data, no stack trace); the "
                         "details are in the close-of-business worker's log.")
    resolution: CobResolution | None


class CobExceptionPage(BaseModel):
    next_cursor: str | None
    data: list[CobExceptionOut]


class CobExceptionQuery(PageQuery):
    status: Literal["open", "resolved"] | None = None


class CobResolveIn(Strict):
    note: str = Field(min_length=1, max_length=2000)


@endpoint(bp, "GET", "/v1/cob/exceptions", summary="Loans close of business quarantined",
          tag="Close of business", roles=BOOKKEEPERS, query=CobExceptionQuery,
          responses={200: (CobExceptionPage, "With a status, newest first; without, the "
                                             "open ones first, oldest first")})
def list_cob_exceptions(ctx: Context, query: CobExceptionQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "cob-exceptions", {"status": query.status})
    found, last = cob_exceptions.page(ctx.tenant, query.status, query.limit,
                                      pagination.decode(query.cursor, scope))
    return Reply(CobExceptionPage(next_cursor=pagination.encode(scope, last),
                                  data=[CobExceptionOut(**cob_exceptions.view(i))
                                        for i in found]))


@endpoint(bp, "POST", "/v1/cob/exceptions/{loan_id}/resolve",
          summary="Resolve a quarantined loan's exception", tag="Close of business",
          roles=OPERATORS, body=CobResolveIn, idempotent=True,
          responses={200: (CobExceptionOut, "Resolved; the next run still closes the loan "
                                            "and quarantines it again if it fails")})
def resolve_cob_exception(ctx: Context, loan_id: str, body: CobResolveIn) -> Reply:
    item = cob_exceptions.resolve(ctx.uow, ctx.tenant, loan_id, ctx.actor, ctx.now, body.note)
    return Reply(CobExceptionOut(**cob_exceptions.view(item)))


@endpoint(bp, "PUT", "/v1/settings/delinquency", summary="Set the tenant's delinquency ranges "
          "and default threshold", tag="Close of business", roles=CONFIGURERS,
          body=DelinquencySettings,
          responses={200: (DelinquencySettings, "The settings in force")})
def put_delinquency(ctx: Context, body: DelinquencySettings) -> Reply:
    ctx.uow.add(store.delinquency_put(ctx.tenant, body.model_dump(mode="json"), 1))
    return Reply(body)


@endpoint(bp, "GET", "/v1/settings/delinquency", summary="The tenant's delinquency ranges",
          tag="Close of business", roles=EVERYONE,
          responses={200: (DelinquencySettings, "The settings in force")})
def get_delinquency(ctx: Context) -> Reply:
    return Reply(servicing.delinquency_settings(ctx.tenant))
