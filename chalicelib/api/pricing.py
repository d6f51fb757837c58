"""Quotes and the APR calculator."""

from __future__ import annotations

from datetime import date

from chalice import Blueprint
from pydantic import Field, model_validator

from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.lending_models import AprOut, QuoteOut
from chalicelib.api.roles import EVERYONE, ORIGINATORS
from chalicelib.api.schemas import Strict
from chalicelib.errors import not_found
from chalicelib.ids import MintedId
from chalicelib.lending.apr import AprRequest
from chalicelib.lending.errors import LendingError
from chalicelib.lending.money import Money
from chalicelib.scoring.scale import DEFAULT_GRADES
from chalicelib.services import quotes

bp = Blueprint(__name__)


class QuoteRequest(Strict):
    product_id: MintedId
    product_version: int | None = Field(default=None, ge=1,
                                        description="Defaults to the current version.")
    amount: Money
    term: int = Field(ge=1, le=1200, description="Number of installments.")
    grade: str | None = Field(default=None, pattern=r"^[A-Z][A-Za-z0-9_-]{0,15}$",
                              description="Risk grade; give this or `score`.")
    score: int | None = Field(default=None, ge=0, le=1000,
                              description="Scorecard score, graded by the default bands.")
    disbursement_date: date
    first_due_date: date | None = Field(
        default=None, description="Omitted: one period of the product's frequency after the "
                                  "disbursement date.")

    @model_validator(mode="after")
    def _grade_or_score(self) -> QuoteRequest:
        if (self.grade is None) == (self.score is None):
            raise ValueError("give exactly one of grade or score")
        return self

    @property
    def risk_grade(self) -> str:
        return self.grade if self.grade is not None else DEFAULT_GRADES.grade(self.score or 0)


@endpoint(bp, "POST", "/v1/quotes", location="/v1/quotes/{id}",
          summary="Quote a loan: schedule, cost and APR",
          tag="Pricing", roles=ORIGINATORS, body=QuoteRequest, idempotent=True, errors={404},
          responses={201: (QuoteOut, "A quote the product allows, valid for 7 days")})
def create_quote(ctx: Context, body: QuoteRequest) -> Reply:
    quote = quotes.create(ctx.uow, ctx.tenant, ctx.actor, ctx.now, product_id=body.product_id,
                          version=body.product_version, amount=body.amount.minor,
                          currency=body.amount.currency, term=body.term, grade=body.risk_grade,
                          disbursement_date=body.disbursement_date,
                          first_due_date=body.first_due_date)
    return Reply({**quote, "status": "valid"}, 201)


@endpoint(bp, "GET", "/v1/quotes/{quote_id}", summary="A stored quote", tag="Pricing",
          roles=EVERYONE, responses={200: (QuoteOut, "The quote as issued, with its status")})
def get_quote(ctx: Context, quote_id: str) -> Reply:
    quote = quotes.read(ctx.tenant, quote_id, ctx.now)
    if quote is None:
        raise not_found("Quote")
    return Reply(quote)


@endpoint(bp, "POST", "/v1/apr", summary="Annual percentage rate of dated cash flows",
          tag="Pricing", roles=EVERYONE, body=AprRequest, max_body=256 * 1024,
          responses={200: (AprOut, "The APR")})
def compute_apr(_ctx: Context, body: AprRequest) -> Reply:
    try:
        return Reply(body.solve().as_json())
    except ArithmeticError as exc:
        # Flows spanning millennia underflow (1+i)^t to zero or overflow the rate: valid JSON,
        # but no rate can be computed, which is the caller's problem, not a 500.
        raise LendingError.single("payments", "no annual percentage rate can be computed for "
                                  "these flows: their amounts or dates are out of range",
                                  "apr_unsolvable") from exc
