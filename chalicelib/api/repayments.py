"""Repayments, refunds, reversals, payoff quotes, write-off and a loan's servicing view."""

from __future__ import annotations

from datetime import date, datetime
from datetime import date as Day
from typing import Any, Literal

from chalice import Blueprint
from pydantic import BaseModel, Field

from chalicelib import clock
from chalicelib.api import pagination
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.roles import COLLECTORS, EVERYONE, OPERATORS
from chalicelib.api.schemas import Instant, MoneyOut, Page, PageQuery, Strict
from chalicelib.lending.money import Money, format_amount
from chalicelib.services import repayments

bp = Blueprint(__name__)
REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$"  # no '#': it is part of a storage key
Ref = Field(min_length=1, max_length=128, pattern=REF_PATTERN)
CREDIT = Field(description="The borrower's credit balance (overpayments not refunded). "
               "Negative when a charged-back payment's credit had already been refunded: the "
               "borrower owes it, the payoff includes it and the next payment settles it first.")


def _m(minor: int, currency: str) -> MoneyOut:
    return MoneyOut(amount=format_amount(minor, currency), currency=currency)


class ComponentsOut(BaseModel):
    principal: MoneyOut
    interest: MoneyOut
    fee: MoneyOut
    penalty: MoneyOut


def _components(values: dict[str, int], currency: str) -> ComponentsOut:
    return ComponentsOut(**{k: _m(v, currency) for k, v in values.items()})


class RepaymentBody(Strict):
    amount: Money = Field(description="At most what the loan owes on the payment's date plus "
                                      "the product's overpayment tolerance.")
    paid_at: Instant = Field(description="When the borrower paid, with its UTC offset; its "
                             "date in the tenant's time zone is the payment's business date.")
    channel: str = Ref
    external_reference: str = Field(
        min_length=1, max_length=128, pattern=REF_PATTERN,
        description="The channel's id of this money movement: reported once per channel in "
                    "the tenant (a second report is a 409 naming the repayment).")


class RepaymentOut(BaseModel):
    id: str
    loan_id: str
    amount: MoneyOut
    paid_at: datetime
    channel: str
    external_reference: str
    status: Literal["posted", "reversed"]
    journal_id: str
    allocated: ComponentsOut = Field(description="What the payment settled when posted, per "
                                                 "component (later reversals re-derive it).")
    overpayment: MoneyOut = Field(description="Credited to the borrower's credit balance.")
    reversed_at: datetime | None
    created_at: datetime


def repayment_out(view: dict[str, Any]) -> RepaymentOut:
    cur = view["currency"]
    return RepaymentOut(id=view["id"], loan_id=view["loan_id"], amount=_m(view["amount"], cur),
                        paid_at=view["paid_at"], channel=view["channel"],
                        external_reference=view["reference"], status=view["status"],
                        journal_id=view["journal_id"],
                        allocated=_components(view["allocated"], cur),
                        overpayment=_m(view["overpayment"], cur),
                        reversed_at=view["reversed_at"], created_at=view["created_at"])


class RepaymentPage(Page):
    data: list[RepaymentOut]


class ReverseBody(Strict):
    reason: str = Field(min_length=1, max_length=200)


class RefundBody(Strict):
    amount: Money
    channel: str = Ref
    external_reference: str = Ref


class RefundOut(BaseModel):
    id: str
    loan_id: str
    amount: MoneyOut
    channel: str
    external_reference: str
    journal_id: str
    credit_remaining: MoneyOut


class QuoteQuery(Strict):
    date: Day | None = Field(default=None, description="Payoff date (default: today), from "
                             "the disbursement to a year after the later of today and the last "
                             "due date. Everything close of business would charge before that "
                             "date is included, whether or not it has run.")


class PayoffOut(BaseModel):
    loan_id: str
    date: Day
    status: str
    components: ComponentsOut = Field(description="Outstanding principal, interest accrued to "
                                                  "the date, fees and penalties.")
    credit: MoneyOut = CREDIT
    total: MoneyOut = Field(description="Pay exactly this on the date to close the loan.")


class WriteOffBody(Strict):
    reason: str = Field(min_length=1, max_length=200)


class WriteOffOut(BaseModel):
    loan_id: str
    status: str
    journal_id: str
    written_off: ComponentsOut


class ServicingInstallmentOut(BaseModel):
    number: int
    due_date: date
    principal: MoneyOut
    interest: MoneyOut
    fee: MoneyOut
    penalty: MoneyOut
    paid: ComponentsOut


class ServicingOut(BaseModel):
    loan_id: str
    status: str
    closed_through: date = Field(description="The last business day closed for this loan.")
    days_past_due: int
    bucket: str | None
    outstanding: ComponentsOut = Field(description="Equal to the loan's ledger balances.")
    credit: MoneyOut = CREDIT
    installments: list[ServicingInstallmentOut]


@endpoint(bp, "POST", "/v1/loans/{loan_id}/repayments", location="/v1/repayments/{id}",
          summary="Record a repayment: "
          "allocated by the product's rules and posted to the ledger", tag="Repayments",
          roles=COLLECTORS, body=RepaymentBody, idempotent=True,
          responses={201: (RepaymentOut, "Posted")}, errors={409})
def post_repayment(ctx: Context, loan_id: str, body: RepaymentBody) -> Reply:
    view = repayments.repay(ctx.uow, ctx.tenant, ctx.actor, ctx.now, loan_id, body.amount.minor,
                            body.amount.currency, body.paid_at, body.channel,
                            body.external_reference)
    return Reply(repayment_out(view), 201)


@endpoint(bp, "GET", "/v1/loans/{loan_id}/repayments", summary="A loan's repayments, oldest "
          "first", tag="Repayments", roles=EVERYONE, query=PageQuery,
          responses={200: (RepaymentPage, "A page of repayments")})
def list_repayments(ctx: Context, loan_id: str, query: PageQuery) -> Reply:
    from chalicelib.services import loan_lifecycle
    from chalicelib.store import servicing as store

    loan_lifecycle.load(ctx.tenant, loan_id)
    scope = pagination.scope_of(ctx.tenant, "repayments", {"loan_id": loan_id})
    items, last = store.list_repayments(ctx.tenant, loan_id, query.limit,
                                        pagination.decode(query.cursor, scope))
    data = [repayment_out(repayments.store_view(i)) for i in items]
    return Reply(RepaymentPage(next_cursor=pagination.encode(scope, last), data=data))


@endpoint(bp, "GET", "/v1/repayments/{repayment_id}", summary="A repayment", tag="Repayments",
          roles=EVERYONE, responses={200: (RepaymentOut, "The repayment")})
def get_repayment(ctx: Context, repayment_id: str) -> Reply:
    return Reply(repayment_out(repayments.store_view(repayments.get(ctx.tenant, repayment_id))))


@endpoint(bp, "POST", "/v1/repayments/{repayment_id}/reverse", summary="Reverse a bounced or "
          "charged-back repayment; later repayments are re-allocated", tag="Repayments",
          roles=OPERATORS, body=ReverseBody, idempotent=True,
          responses={200: (RepaymentOut, "Reversed")}, errors={409})
def reverse_repayment(ctx: Context, repayment_id: str, body: ReverseBody) -> Reply:
    return Reply(repayment_out(repayments.reverse(ctx.uow, ctx.tenant, ctx.actor, ctx.now,
                                                  repayment_id, body.reason)))


@endpoint(bp, "POST", "/v1/loans/{loan_id}/refunds", location="/v1/ledger/journals/{journal_id}",
          summary="Refund the borrower's credit "
          "balance", tag="Repayments", roles=OPERATORS, body=RefundBody, idempotent=True,
          responses={201: (RefundOut, "Refunded")}, errors={409})
def post_refund(ctx: Context, loan_id: str, body: RefundBody) -> Reply:
    r = repayments.refund(ctx.uow, ctx.tenant, ctx.actor, ctx.now, loan_id, body.amount.minor,
                          body.amount.currency, body.channel, body.external_reference)
    cur = r["currency"]
    return Reply(RefundOut(id=r["id"], loan_id=loan_id, amount=_m(r["amount"], cur),
                           channel=r["channel"], external_reference=r["reference"],
                           journal_id=r["journal_id"],
                           credit_remaining=_m(r["credit_remaining"], cur)), 201)


@endpoint(bp, "GET", "/v1/loans/{loan_id}/payoff-quote", summary="The exact amount that "
          "closes the loan on a date", tag="Repayments", roles=EVERYONE, query=QuoteQuery,
          responses={200: (PayoffOut, "The quote")}, errors={409})
def get_payoff_quote(ctx: Context, loan_id: str, query: QuoteQuery) -> Reply:
    q = repayments.payoff_quote(ctx.tenant, loan_id, query.date,
                                 clock.business_date(ctx.tenant, ctx.now))
    cur = q["currency"]
    return Reply(PayoffOut(loan_id=loan_id, date=q["date"], status=q["status"],
                           components=_components(q["components"], cur),
                           credit=_m(q["credit"], cur), total=_m(q["total"], cur)))


@endpoint(bp, "POST", "/v1/loans/{loan_id}/write-off", summary="Write a loan off (operator)",
          tag="Repayments", roles=OPERATORS, body=WriteOffBody, idempotent=True,
          responses={200: (WriteOffOut, "Written off")}, errors={409})
def post_write_off(ctx: Context, loan_id: str, body: WriteOffBody) -> Reply:
    r = repayments.write_off(ctx.uow, ctx.tenant, ctx.actor, ctx.now, loan_id, body.reason)
    return Reply(WriteOffOut(loan_id=loan_id, status=r["status"], journal_id=r["journal_id"],
                             written_off=_components(r["written_off"], r["currency"])))


@endpoint(bp, "GET", "/v1/loans/{loan_id}/servicing", summary="A loan's servicing state: days "
          "past due, bucket, outstanding per component, current schedule", tag="Repayments",
          roles=EVERYONE, responses={200: (ServicingOut, "The servicing state")}, errors={409})
def get_servicing(ctx: Context, loan_id: str) -> Reply:
    v = repayments.loan_servicing(ctx.tenant, loan_id)
    cur = v["currency"]
    insts = [ServicingInstallmentOut(number=i["number"], due_date=i["due_date"],
                            principal=_m(i["principal"], cur), interest=_m(i["interest"], cur),
                            fee=_m(i["fee"], cur), penalty=_m(i["penalty"], cur),
                            paid=_components(i["paid"], cur)) for i in v["installments"]]
    return Reply(ServicingOut(loan_id=loan_id, status=v["status"], closed_through=v["through"],
                              days_past_due=v["dpd"], bucket=v["bucket"],
                              outstanding=_components(v["outstanding"], cur),
                              credit=_m(v["credit"], cur), installments=insts))
