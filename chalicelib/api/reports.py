"""Portfolio and origination reports, as JSON or CSV (the `.csv` twin of each path).

CSV has its own path rather than `?format=csv` / `Accept: text/csv` on the JSON one because
the contract generator documents one media type per response; see the report of issue 7.
"""

from __future__ import annotations

from datetime import date, timedelta

from chalice import Blueprint
from pydantic import BaseModel, Field, model_validator

from chalicelib import clock
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.roles import ANALYSTS
from chalicelib.api.schemas import Strict
from chalicelib.lending import reports
from chalicelib.lending.money import Money
from chalicelib.services import reports as repo

bp = Blueprint(__name__)
CSV = "text/csv"
MAX_DAYS = 366


class PortfolioQuery(Strict):
    as_of: date | None = Field(default=None, description="End of this day in the tenant's "
                                                         "time zone; default its today.")


class OriginationQuery(Strict):
    from_: date = Field(alias="from", description="First day (tenant's zone), inclusive.")
    to: date = Field(description="Last day (tenant's zone), inclusive; at most 366 "
                                 "days after `from`.")

    @model_validator(mode="after")
    def _range(self) -> OriginationQuery:
        if self.to < self.from_:
            raise ValueError("`to` is before `from`")
        if (self.to - self.from_).days >= MAX_DAYS:
            raise ValueError(f"at most {MAX_DAYS} days")
        return self


class Bucket(BaseModel):
    key: str
    loans: int
    outstanding_principal: Money


class CurrencyPortfolio(BaseModel):
    currency: str
    loans: int
    outstanding_principal: Money
    disbursed_volume: Money
    collections: Money = Field(description="Repaid on every component up to the date.")
    by_status: list[Bucket]
    by_product: list[Bucket]
    par1: str = Field(description="Outstanding principal of loans 1+ days past due / "
                                  "outstanding principal (0-1, 4 decimals).")
    par30: str
    par90: str
    npl_ratio: str = Field(description="Loans 90+ days past due or defaulted, by outstanding "
                                       "principal.")


class PortfolioOut(BaseModel):
    as_of: date
    currencies: list[CurrencyPortfolio]


class ArmOut(BaseModel):
    arm: str
    applications: int
    approve: int
    refer: int
    decline: int
    approval_rate: str


class TimeToDecision(BaseModel):
    decided: int
    mean_seconds: int | None
    median_seconds: int | None
    p90_seconds: int | None
    max_seconds: int | None


class OriginationOut(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    applications: int
    approve: int = Field(description="Automated decisions, by outcome.")
    refer: int
    decline: int
    approval_rate: str
    refer_rate: str
    decline_rate: str
    final_approved: int = Field(description="Approved in the end (automatically or on review)")
    final_declined: int
    undecided: int = Field(description="Still under review, or withdrawn before a decision.")
    time_to_decision: TimeToDecision
    arms: list[ArmOut] = Field(description="Champion vs challenger policy outcomes.")


def _portfolio(ctx: Context, as_of: date | None) -> tuple[date, dict[str, reports.CurrencyBook]]:
    day = as_of or clock.business_date(ctx.tenant, ctx.now)
    return day, reports.portfolio(repo.loan_records(ctx.tenant, day), day)


def _origination(tenant: str, q: OriginationQuery) -> reports.Origination:
    start = clock.local_midnight(tenant, q.from_)  # the tenant's days, not UTC's
    end = clock.local_midnight(tenant, q.to + timedelta(days=1))
    return reports.origination(repo.application_records(tenant), start, end)


def _buckets(found: dict[str, reports._Bucket], cur: str) -> list[Bucket]:
    return [Bucket(key=k, loans=v.count, outstanding_principal=Money.of_minor(v.outstanding,
                                                                              cur))
            for k, v in sorted(found.items())]


@endpoint(bp, "GET", "/v1/reports/portfolio", summary="Portfolio report", tag="Reports",
          roles=ANALYSTS, query=PortfolioQuery,
          responses={200: (PortfolioOut, "Per currency; CSV at /v1/reports/portfolio.csv")})
def portfolio(ctx: Context, query: PortfolioQuery) -> Reply:
    day, books = _portfolio(ctx, query.as_of)
    return Reply(PortfolioOut(as_of=day, currencies=[CurrencyPortfolio(
        currency=c, loans=b.loans,
        outstanding_principal=Money.of_minor(b.outstanding_principal, c),
        disbursed_volume=Money.of_minor(b.disbursed_volume, c),
        collections=Money.of_minor(b.collections, c),
        by_status=_buckets(b.by_status, c), by_product=_buckets(b.by_product, c),
        par1=str(b.par(1)), par30=str(b.par(30)), par90=str(b.par(90)),
        npl_ratio=str(b.npl_ratio())) for c, b in books.items()]))


@endpoint(bp, "GET", "/v1/reports/portfolio.csv", summary="Portfolio report (CSV)",
          tag="Reports", roles=ANALYSTS, query=PortfolioQuery, content_type=CSV,
          responses={200: (None, "currency,dimension,key,loans,amount,ratio: one row per "
                                 "figure (total, status, product, metric)")})
def portfolio_csv(ctx: Context, query: PortfolioQuery) -> Reply:
    day, books = _portfolio(ctx, query.as_of)
    return Reply(repo.portfolio_csv(books), headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="portfolio-{day.isoformat()}.csv"'})


@endpoint(bp, "GET", "/v1/reports/origination", summary="Origination report", tag="Reports",
          roles=ANALYSTS, query=OriginationQuery,
          responses={200: (OriginationOut, "Applications created in the range; CSV at "
                                           "/v1/reports/origination.csv")})
def origination(ctx: Context, query: OriginationQuery) -> Reply:
    o = _origination(ctx.tenant, query)
    ttd = o.time_to_decision()
    arms = [ArmOut(arm=a, applications=s.applications, approve=s.outcomes["approve"],
                   refer=s.outcomes["refer"], decline=s.outcomes["decline"],
                   approval_rate=str(reports.ratio(s.outcomes["approve"], s.applications)))
            for a, s in o.arms.items()]
    out = OriginationOut(from_=query.from_, to=query.to, applications=o.applications,
                         approve=o.outcomes["approve"], refer=o.outcomes["refer"],
                         decline=o.outcomes["decline"], approval_rate=str(o.rate("approve")),
                         refer_rate=str(o.rate("refer")), decline_rate=str(o.rate("decline")),
                         final_approved=o.final["approved"], final_declined=o.final["declined"],
                         undecided=o.final["undecided"], time_to_decision=TimeToDecision(**ttd),
                         arms=arms)
    return Reply(out.model_dump(mode="json", by_alias=True))


@endpoint(bp, "GET", "/v1/reports/origination.csv", summary="Origination report (CSV)",
          tag="Reports", roles=ANALYSTS, query=OriginationQuery, content_type=CSV,
          responses={200: (None, "arm,metric,value: overall figures, then per arm")})
def origination_csv(ctx: Context, query: OriginationQuery) -> Reply:
    return Reply(repo.origination_csv(_origination(ctx.tenant, query)), headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="origination-{query.from_}-{query.to}'
                               '.csv"'})
