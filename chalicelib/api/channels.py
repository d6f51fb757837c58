"""Disbursement channels (`admin` configures and funds, readers read) and the channels' own
signed callbacks, which carry no API key: see `channel_callback`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from chalice import Blueprint
from pydantic import BaseModel, Field, model_validator

from chalicelib import clock
from chalicelib.api import pagination, problems
from chalicelib.api.bank_channels import BankHttpOut, BankHttpSettings
from chalicelib.api.bank_channels import config_of as bank_config
from chalicelib.api.bank_channels import shown as bank_shown
from chalicelib.api.http import Context, Reply, endpoint
from chalicelib.api.roles import CONFIGURERS, EVERYONE, OPERATORS
from chalicelib.api.schemas import MoneyOut, PageQuery, Strict
from chalicelib.channels import breaker, webhooks
from chalicelib.errors import DomainError, FieldError
from chalicelib.ids import EntityId
from chalicelib.lending.money import (
    CurrencyCode,
    DecimalString,
    MoneyError,
    format_amount,
    parse_amount,
)
from chalicelib.services import channels, disbursement_reads, disbursements
from chalicelib.store import channels as store
from chalicelib.store.channels import ChannelItem
from ledger.model import Balance, Side, Totals

problems.register("channel-daily-limit", 422, "Channel daily limit reached")
problems.register("channel-changed", 409, "Channel changed while it was chosen")

bp = Blueprint(__name__)


class SandboxBehaviour(Strict):
    """How the `sandbox` channel behaves (deterministic per payout for a given seed)."""

    latency_ms: int = Field(default=0, ge=0, le=10_000)
    failure_rate_percent: int = Field(default=0, ge=0, le=100)
    timeout_rate_percent: int = Field(default=0, ge=0, le=100)
    fail_above: DecimalString | None = Field(default=None, description="Refuse payouts above.")
    settle: Literal["sync", "callback"] = "sync"
    seed: int = Field(default=0, ge=0, le=2**31)
    timeout_outcome: Literal["not_executed", "executed", "unknown"] = Field(
        default="not_executed", description="What a status query says after a timeout.")


class BreakerSettings(Strict):
    threshold: int = Field(default=3, ge=1, le=100)
    cooldown_seconds: int = Field(default=60, ge=1, le=86_400)


class ChannelCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    type: Literal["sandbox", "bank_http"] = Field(
        description="Adapter type: `sandbox`, or `bank_http` (docs/bank-protocol.md).")
    currency: CurrencyCode
    fixed_cost: DecimalString = "0"
    proportional_bps: int = Field(default=0, ge=0, le=10_000,
                                  description="Cost per payout in 1/100 of a percent.")
    settlement_seconds: int = Field(ge=0, le=30 * 86_400,
                                    description="Expected time to settle.")
    max_payout: DecimalString | None = None
    daily_limit: DecimalString | None = None
    enabled: bool = True
    sandbox: SandboxBehaviour = Field(default_factory=SandboxBehaviour)
    bank_http: BankHttpSettings | None = Field(default=None,
                                               description="Required for `bank_http`.")
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)
    low_balance_threshold: DecimalString | None = Field(
        default=None, description="Available balance under which `channel.balance_low` is sent "
                                  "(once per crossing); none: not watched.")

    @model_validator(mode="after")
    def _bank(self) -> ChannelCreate:
        if (self.type == "bank_http") != (self.bank_http is not None):
            raise ValueError("bank_http settings are given with, and only with, type bank_http")
        if self.bank_http is not None and not self.bank_http.api_secret:
            raise ValueError("bank_http needs its api_secret")
        return self


class ChannelPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    fixed_cost: DecimalString | None = None
    proportional_bps: int | None = Field(default=None, ge=0, le=10_000)
    settlement_seconds: int | None = Field(default=None, ge=0, le=30 * 86_400)
    max_payout: DecimalString | None = None
    daily_limit: DecimalString | None = None
    clear_limits: list[Literal["max_payout", "daily_limit", "low_balance_threshold"]] = Field(
        default_factory=list)
    enabled: bool | None = None
    sandbox: SandboxBehaviour | None = None
    bank_http: BankHttpSettings | None = None
    breaker: BreakerSettings | None = None
    low_balance_threshold: DecimalString | None = Field(
        default=None, description="Available balance under which `channel.balance_low` is sent "
                                  "(once per crossing); none: not watched.")

    @model_validator(mode="after")
    def _something(self) -> ChannelPatch:
        if not self.model_fields_set:
            raise ValueError("change at least one field")
        return self


class FundingCreate(Strict):
    amount: DecimalString
    reference: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                           description="Your reference; the journal id derives from it.")


class BreakerOut(BaseModel):
    state: Literal["closed", "open", "half_open"]
    failures: int
    opened_at: datetime | None
    threshold: int
    cooldown_seconds: int


class SandboxOut(BaseModel):
    """The `sandbox` behaviour as configured (`SandboxBehaviour`), its limit as money."""

    latency_ms: int
    failure_rate_percent: int
    timeout_rate_percent: int
    fail_above: MoneyOut | None = Field(description="Payouts above this are refused.")
    settle: Literal["sync", "callback"]
    seed: int
    timeout_outcome: Literal["not_executed", "executed", "unknown"]


class ChannelOut(BaseModel):
    id: str
    name: str
    type: str
    currency: str
    fixed_cost: MoneyOut
    proportional_bps: int
    settlement_seconds: int
    max_payout: MoneyOut | None
    daily_limit: MoneyOut | None
    enabled: bool
    sandbox: SandboxOut | None = Field(description="The behaviour of a `sandbox` channel.")
    bank_http: BankHttpOut | None = Field(default=None,
                                          description="A `bank_http` channel's settings.")
    balance: MoneyOut = Field(description="Posted prefunded balance (ledger cash:<id>).")
    available: MoneyOut = Field(description="Balance less payouts reserved (pending).")
    used_today: MoneyOut
    breaker: BreakerOut
    low_balance_threshold: MoneyOut | None
    balance_low: bool = Field(description="`available` is under `low_balance_threshold` "
                                          "(`channel.balance_low` announced the crossing).")
    created_at: datetime
    updated_at: datetime


class ChannelCreated(ChannelOut):
    webhook_secret: str | None = Field(description="Signs this channel's callbacks (Standard "
                                       "Webhooks). Shown once; null on replays.")


class ChannelPage(BaseModel):
    next_cursor: str | None
    data: list[ChannelOut]


class FundingOut(BaseModel):
    channel_id: str
    journal_id: str
    amount: MoneyOut
    balance: MoneyOut


class CallbackBody(Strict):
    type: Literal["payout.settled", "payout.failed"]
    payout_id: EntityId
    provider_ref: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=500)


class CallbackOut(BaseModel):
    outcome: Literal["processed", "duplicate", "ignored"] = Field(
        description="`duplicate`: this webhook-id was seen; `ignored`: the payout was already "
                    "decided. Neither changes anything.")
    disbursement_id: str | None


def _money(minor: int, currency: str) -> MoneyOut:
    return MoneyOut(amount=format_amount(minor, currency), currency=currency)


def _minor(value: str | None, currency: str, pointer: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_amount(value, currency)
    except MoneyError as exc:
        raise DomainError("validation-error", "Invalid amount.", [
            FieldError(pointer, exc.problems[0].msg, "invalid_amount")]) from None


def _threshold(value: str | None, currency: str) -> int | None:
    """The low-balance threshold: money (parse_amount refuses a negative one)."""
    return _minor(value, currency, "/body/low_balance_threshold")


def channel_out(ctx: Context, item: ChannelItem, secret: bool = False) -> ChannelOut:
    """`secret`: the creation response (the cash account opens with this very commit)."""
    cur = item.currency
    if secret:
        bal, state, used = Balance(item.channel_id, cur, Side.DEBIT, Totals(), 0, 0, 0, 0), \
            breaker.State(), 0
    else:
        bal = channels.balance(ctx.tenant, item.channel_id)
        state = channels.breaker_state(ctx.tenant, item)
        used = channels.used_today(ctx.tenant, item.channel_id,
                                    clock.business_date(ctx.tenant, channels.now(ctx.tenant)))
    fields: dict[str, Any] = dict(
        id=item.channel_id, name=item.name, type=item.type, currency=cur,
        fixed_cost=_money(item.fixed_cost, cur), proportional_bps=item.proportional_bps,
        settlement_seconds=item.settlement_seconds,
        max_payout=None if item.max_payout is None else _money(item.max_payout, cur),
        daily_limit=None if item.daily_limit is None else _money(item.daily_limit, cur),
        enabled=item.enabled, **_behaviour_out(item.type, json.loads(item.config), cur),
        balance=_money(bal.posted, cur), available=_money(bal.available, cur),
        used_today=_money(used, cur),
        breaker=BreakerOut(state=state.state, failures=state.failures,  # type: ignore[arg-type]
                           opened_at=state.opened_at, threshold=item.breaker_threshold,
                           cooldown_seconds=item.breaker_cooldown_seconds),
        low_balance_threshold=None if item.low_balance_threshold is None
        else _money(item.low_balance_threshold, cur),
        balance_low=item.low_balance_threshold is not None
        and bal.available < item.low_balance_threshold,
        created_at=item.created_at, updated_at=item.updated_at)
    if secret:
        return ChannelCreated(**fields, webhook_secret=item.webhook_secret)
    return ChannelOut(**fields)


def _behaviour_out(kind: str, config: dict[str, Any], currency: str) -> dict[str, Any]:
    if kind == "bank_http":
        return {"sandbox": None, "bank_http": bank_shown(config)}
    return {"sandbox": _sandbox_out(config, currency), "bank_http": None}


def _sandbox_out(config: dict[str, Any], currency: str) -> SandboxOut:
    """The stored config keeps `fail_above` in minor units; the API shows money as money."""
    fail_above = config.get("fail_above")
    return SandboxOut(**{**config, "fail_above": None if fail_above is None
                         else _money(fail_above, currency)})


def _sandbox_config(s: SandboxBehaviour, currency: str, pointer: str) -> dict[str, Any]:
    config = s.model_dump()
    config["fail_above"] = _minor(s.fail_above, currency, pointer + "/fail_above")
    return config


@endpoint(bp, "POST", "/v1/channels", location="/v1/channels/{id}",
          summary="Create a disbursement channel", tag="Channels",
          roles=CONFIGURERS, body=ChannelCreate, idempotent=True,
          responses={201: (ChannelCreated, "Created with its prefunded cash account (empty)")})
def create_channel(ctx: Context, body: ChannelCreate) -> Reply:
    cur = body.currency
    settings = channels.ChannelSettings(
        name=body.name, type=body.type, currency=cur,
        fixed_cost=_minor(body.fixed_cost, cur, "/body/fixed_cost") or 0,
        proportional_bps=body.proportional_bps, settlement_seconds=body.settlement_seconds,
        max_payout=_minor(body.max_payout, cur, "/body/max_payout"),
        daily_limit=_minor(body.daily_limit, cur, "/body/daily_limit"), enabled=body.enabled,
        config=bank_config(body.bank_http) if body.bank_http else
        _sandbox_config(body.sandbox, cur, "/body/sandbox"),
        breaker_threshold=body.breaker.threshold,
        breaker_cooldown_seconds=body.breaker.cooldown_seconds,
        low_balance_threshold=_threshold(body.low_balance_threshold, cur))
    item = channels.create(ctx.uow, ctx.tenant, ctx.actor, ctx.now, settings)
    shown = channel_out(ctx, item, secret=True)
    stored = shown.model_copy(update={"webhook_secret": None})
    return Reply(shown, 201, stored_body=stored)


@endpoint(bp, "GET", "/v1/channels", summary="List channels", tag="Channels", roles=EVERYONE,
          query=PageQuery, responses={200: (ChannelPage, "A page of channels")})
def list_channels(ctx: Context, query: PageQuery) -> Reply:
    scope = pagination.scope_of(ctx.tenant, "channels", {})
    items, last = store.list_channels(ctx.tenant, query.limit,
                                      pagination.decode(query.cursor, scope))
    return Reply(ChannelPage(next_cursor=pagination.encode(scope, last),
                             data=[channel_out(ctx, i) for i in items]))


@endpoint(bp, "GET", "/v1/channels/{channel_id}", summary="A channel with its balance, usage "
          "and breaker", tag="Channels", roles=EVERYONE,
          responses={200: (ChannelOut, "The channel")})
def get_channel(ctx: Context, channel_id: str) -> Reply:
    return Reply(channel_out(ctx, channels.get(ctx.tenant, channel_id)))


@endpoint(bp, "PATCH", "/v1/channels/{channel_id}", summary="Change a channel's costs, limits, "
          "behaviour or enablement", tag="Channels", roles=CONFIGURERS, body=ChannelPatch,
          responses={200: (ChannelOut, "The channel as changed")})
def patch_channel(ctx: Context, channel_id: str, body: ChannelPatch) -> Reply:
    item = channels.get(ctx.tenant, channel_id)
    cur = item.currency
    changes: dict[str, Any] = {}
    for name in ("name", "proportional_bps", "settlement_seconds", "enabled"):
        if getattr(body, name) is not None:
            changes[name] = getattr(body, name)
    for name in ("fixed_cost", "max_payout", "daily_limit"):
        if getattr(body, name) is not None:
            changes[name] = _minor(getattr(body, name), cur, f"/body/{name}")
    if body.low_balance_threshold is not None:
        changes["low_balance_threshold"] = _threshold(body.low_balance_threshold, cur)
    for name in body.clear_limits:
        changes[name] = None
    for kind in ("sandbox", "bank_http"):
        if getattr(body, kind) is not None and item.type != kind:
            raise DomainError("validation-error", "Settings of another channel type.", [
                FieldError(f"/body/{kind}", f"this channel is {item.type}", "wrong_type")])
    if body.sandbox is not None:
        changes["config"] = _sandbox_config(body.sandbox, cur, "/body/sandbox")
    if body.bank_http is not None:
        changes["config"] = bank_config(body.bank_http)
    if body.breaker is not None:
        changes["breaker_threshold"] = body.breaker.threshold
        changes["breaker_cooldown_seconds"] = body.breaker.cooldown_seconds
    item = channels.update(ctx.uow, ctx.tenant, ctx.actor, ctx.now, channel_id, changes)
    return Reply(channel_out(ctx, item))


@endpoint(bp, "POST", "/v1/channels/{channel_id}/fundings",
          location="/v1/ledger/journals/{journal_id}",
          summary="Prefund a channel "
          "(journal: debit cash:<channel>, credit funding)", tag="Channels", roles=OPERATORS,
          body=FundingCreate, idempotent=True,
          responses={201: (FundingOut, "Funded; the balance shown includes it")})
def fund_channel(ctx: Context, channel_id: str, body: FundingCreate) -> Reply:
    item = channels.get(ctx.tenant, channel_id)
    amount = _minor(body.amount, item.currency, "/body/amount") or 0
    if amount <= 0:
        raise DomainError("validation-error", "Invalid amount.", [
            FieldError("/body/amount", "must be positive", "not_positive")])
    journal_id = channels.fund(ctx.uow, ctx.tenant, ctx.actor, ctx.now, channel_id, amount,
                               body.reference)
    before = channels.balance(ctx.tenant, channel_id).posted
    return Reply(FundingOut(channel_id=channel_id, journal_id=journal_id,
                            amount=_money(amount, item.currency),
                            balance=_money(before + amount, item.currency)), 201)


@endpoint(bp, "POST", "/v1/channel-callbacks/{channel_id}",
          summary="A channel confirms or fails a payout (signed; no API key)", tag="Channels",
          roles=None, body=CallbackBody, errors={401},
          responses={200: (CallbackOut, "Applied once; repeats change nothing")})
def channel_callback(ctx: Context, channel_id: str, body: CallbackBody) -> Reply:
    """Authentication is the signature alone (Standard Webhooks: HMAC-SHA256 with the channel's
    own secret over `webhook-id.webhook-timestamp.body`, 5-minute tolerance). The channel id in
    the path resolves the tenant through a platform routing item; an unknown channel and a bad
    signature get the same 401, so the endpoint neither confirms ids nor reaches data unsigned."""
    request = bp.current_request
    denied = DomainError("unauthenticated", "The callback signature is missing, stale or wrong.")
    tenant = disbursement_reads.tenant_of_channel(channel_id) if len(channel_id) <= 64 \
        else None
    item, breaker_seen = disbursement_reads.channel_and_breaker(tenant, channel_id) if tenant \
        else (None, None)
    if item is None:
        raise denied
    try:
        msg_id = webhooks.verify(item.webhook_secret, request.headers, request.raw_body or b"",
                                 channels.clock())
    except webhooks.SignatureError as exc:
        raise DomainError("unauthenticated", f"Callback refused: {exc}.") from None
    result = disbursements.callback(ctx.uow, tenant, item, msg_id, ctx.now, body.type,
                                    body.payout_id, body.provider_ref, body.reason,
                                    ctx.request_id, breaker_seen)
    return Reply(CallbackOut(outcome=result.outcome,  # type: ignore[arg-type]
                             disbursement_id=result.disbursement_id))

