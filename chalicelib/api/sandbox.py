"""The sandbox clock (stages local and test only): play a tenant's days ahead, or back.

Everything that asks the time for a tenant (the request's `now`, repayments' `paid_at` check,
close of business's today, the scheduled jobs) reads this clock; in other stages these routes
answer 404 and nothing reads a sandbox item.
"""

from __future__ import annotations

from datetime import date, datetime

from chalice import Blueprint
from pydantic import BaseModel, Field

from chalicelib import clock
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.roles import CONFIGURERS, EVERYONE
from chalicelib.api.schemas import Instant, Strict
from chalicelib.services import sandbox_clock

bp = Blueprint(__name__)


class ClockBody(Strict):
    now: Instant = Field(description="The instant the tenant's clock shows from now on; it "
                                     "then runs on with real time.")


class ClockOut(BaseModel):
    now: datetime = Field(description="The tenant's clock now (UTC).")
    today: date = Field(description="The tenant's business date now (its time zone).")
    time_zone: str
    sandbox: bool = Field(description="True while a sandbox clock is set; false: real time.")


@endpoint(bp, "GET", "/v1/sandbox/clock", summary="The tenant's clock (sandbox stages)",
          tag="Sandbox", roles=EVERYONE, errors={404},
          responses={200: (ClockOut, "The clock")})
def get_clock(ctx: Context) -> Reply:
    return Reply(ClockOut(**sandbox_clock.view(ctx.tenant)))


@endpoint(bp, "PUT", "/v1/sandbox/clock", summary="Set the tenant's clock (sandbox stages)",
          tag="Sandbox", roles=CONFIGURERS, body=ClockBody, errors={404},
          responses={200: (ClockOut, "The clock, now running from the instant set")})
def put_clock(ctx: Context, body: ClockBody) -> Reply:
    shift = sandbox_clock.set_clock(ctx.uow, ctx.tenant, ctx.actor, clock.real_now(), body.now)
    return Reply(ClockOut(**sandbox_clock.view(ctx.tenant, shift)))


@endpoint(bp, "DELETE", "/v1/sandbox/clock", summary="Return to the real clock (sandbox "
          "stages)", tag="Sandbox", roles=CONFIGURERS, errors={404},
          responses={200: (ClockOut, "The real clock")})
def delete_clock(ctx: Context) -> Reply:
    shift = sandbox_clock.set_clock(ctx.uow, ctx.tenant, ctx.actor, clock.real_now(), None)
    return Reply(ClockOut(**sandbox_clock.view(ctx.tenant, shift)))
