"""Disbursement channels as tenant configuration: create (with its prefunded cash account),
change limits and enablement, fund, and read with balance, today's usage and breaker state."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.channels import bank_http, breaker, protocol, webhooks
from chalicelib.channels import health as health_rules
from chalicelib.channels import sandbox as _sandbox  # noqa: F401  (registers the sandbox type)
from chalicelib.clock import business_date, offset
from chalicelib.errors import DomainError, FieldError, conflict, not_found
from chalicelib.services import channel_health
from chalicelib.store import aggregates
from chalicelib.store import channels as store
from chalicelib.store.audit import Actor
from chalicelib.store.channels import ChannelItem
from chalicelib.store.ledger import ledger
from chalicelib.store.uow import UnitOfWork, put
from ledger.chart import CHANNEL, FUNDING, channel_cash, channel_cash_id, domain_metadata
from ledger.model import Balance, JournalRequest, Posting, Side

log = logging.getLogger("lending.channels")


def _utcnow() -> datetime:
    return datetime.now(UTC)


clock: Callable[[], datetime] = _utcnow  # tests move time for the breaker's cool-down


def now(tenant: str) -> datetime:
    """The payouts' clock: `clock` on the tenant's sandbox clock (stages local and test), so a
    payout's dates, reservation expiry and escalation follow the business day the rest of the
    tenant lives in. Breaker cool-downs and signature windows stay on `clock`: real time."""
    return clock() + offset(tenant)


@dataclass(frozen=True)
class ChannelSettings:
    name: str
    type: str
    currency: str
    fixed_cost: int
    proportional_bps: int
    settlement_seconds: int
    max_payout: int | None
    daily_limit: int | None
    enabled: bool
    config: dict[str, Any]
    breaker_threshold: int
    breaker_cooldown_seconds: int
    low_balance_threshold: int | None = None  # minor units; under it: channel.balance_low


def _save(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, item: ChannelItem,
          action: str, data: dict[str, Any], new: bool = False) -> None:
    aggregates.save(uow, item, tenant=tenant, aggregate_type="channel",
                    aggregate_id=item.channel_id, action=action, actor=actor, at=now, data=data,
                    noun="channel", new=new)


def _summary(item: ChannelItem) -> dict[str, Any]:
    return {k: getattr(item, k) for k in (
        "type", "currency", "fixed_cost", "proportional_bps", "settlement_seconds", "max_payout",
        "daily_limit", "enabled", "breaker_threshold", "breaker_cooldown_seconds",
        "low_balance_threshold")}


def create(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime,
           s: ChannelSettings) -> ChannelItem:
    if s.type not in protocol.types():
        raise DomainError("validation-error", "Unknown channel type.", [FieldError(
            "/body/type", f"one of {', '.join(protocol.types())}", "unknown_type")])
    channel_id = f"ch_{secrets.token_hex(8)}"
    config = _sealed(tenant, channel_id, s.config, {})
    item = ChannelItem(store.channel_pk(tenant, channel_id), store.CHANNEL_SK,
                       channel_id=channel_id, name=s.name, type=s.type, currency=s.currency,
                       fixed_cost=s.fixed_cost, proportional_bps=s.proportional_bps,
                       settlement_seconds=s.settlement_seconds, max_payout=s.max_payout,
                       daily_limit=s.daily_limit, enabled=s.enabled,
                       config=json.dumps(config, sort_keys=True),
                       webhook_secret=webhooks.new_secret(),
                       breaker_threshold=s.breaker_threshold,
                       breaker_cooldown_seconds=s.breaker_cooldown_seconds,
                       low_balance_threshold=s.low_balance_threshold, version=1,
                       created_at=now, updated_at=now, gsi1pk=store.list_pk(tenant),
                       gsi1sk=f"{now.isoformat()}#{channel_id}")
    _save(uow, tenant, actor, now, item, "channel.created", _summary(item), new=True)
    uow.add(put("main", store.route_item(tenant, channel_id), "attribute_not_exists(pk)"))
    uow.add(put("main", store.directory_item(tenant, channel_id), "attribute_not_exists(pk)"))
    for part in ledger().prepare_open_accounts(tenant, [channel_cash(channel_id, s.currency)]):
        uow.add_part(part)
    return item


def _sealed(tenant: str, channel_id: str, config: dict[str, Any],
            previous: dict[str, Any]) -> dict[str, Any]:
    """A bank's API secret is stored only sealed (KMS envelope, bound to the channel); a change
    that gives no new secret keeps the sealed one."""
    from chalicelib.services import personal_data

    out = {k: v for k, v in config.items() if k != "api_secret"}
    if config.get("api_secret"):
        out["api_secret_sealed"] = personal_data.seal(
            tenant, bank_http.SECRET_RECORD, channel_id, {"secret": config["api_secret"]})
    elif previous.get("api_secret_sealed"):
        out["api_secret_sealed"] = previous["api_secret_sealed"]
    return out


def get(tenant: str, channel_id: str) -> ChannelItem:
    item = store.get_channel(tenant, channel_id)
    if item is None:
        raise not_found("Channel")
    return item


def update(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, channel_id: str,
           changes: dict[str, Any]) -> ChannelItem:
    """A new low-balance threshold the balance is already on the other side of is announced in
    the same transaction."""
    item = get(tenant, channel_id)
    if "config" in changes:
        changes = {**changes, "config": _sealed(tenant, channel_id, changes["config"],
                                                json.loads(item.config))}
    for name, value in changes.items():
        setattr(item, name, json.dumps(value, sort_keys=True) if name == "config" else value)
    _save(uow, tenant, actor, now, item, "channel.updated", {"changed": sorted(changes)})
    if "low_balance_threshold" in changes:
        _balance_crossing(uow, tenant, item, balance(tenant, channel_id).available, now)
    return item


def _balance_crossing(uow: UnitOfWork, tenant: str, item: ChannelItem, available: int,
                      now: datetime) -> None:
    """Joins the crossing (if any) to an operator's request; a concurrent flip is a 409."""
    channel_health.add_balance_crossing(
        uow, tenant, item, available, health(tenant, item).balance_low, now,
        lost=lambda: conflict("The channel's balance changed concurrently; retry."))


def fund(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, channel_id: str,
         amount: int, reference: str) -> str:
    """Prefunding: debit the channel's cash, credit the tenant's funding (lending capital).
    A balance it lifts back over the low-balance threshold is announced in its transaction."""
    item = get(tenant, channel_id)
    if item.low_balance_threshold is not None:
        _balance_crossing(uow, tenant, item, balance(tenant, channel_id).available + amount, now)
    journal_id = f"fund:{channel_id}:{reference}"
    postings = (Posting(channel_cash_id(channel_id), Side.DEBIT, amount, item.currency),
                Posting(FUNDING, Side.CREDIT, amount, item.currency))
    uow.add_part(ledger().prepare_journal(tenant, JournalRequest(
        journal_id, postings, business_date(tenant, now), f"Prefunding of channel {channel_id}",
        domain_metadata(CHANNEL, channel_id=channel_id))))
    _save(uow, tenant, actor, now, item, "channel.funded",
          {"amount": amount, "journal_id": journal_id})
    return journal_id


def balance(tenant: str, channel_id: str) -> Balance:
    return ledger().balance(tenant, channel_cash_id(channel_id))


def breaker_config(item: ChannelItem) -> breaker.Config:
    return breaker.Config(item.breaker_threshold, item.breaker_cooldown_seconds)


def health(tenant: str, item: ChannelItem) -> store.ChannelState:
    """The channel's state item: its breaker and whether its balance is flagged low."""
    return store.get_state(tenant, item.channel_id)


def breaker_state(tenant: str, item: ChannelItem) -> breaker.State:
    return health(tenant, item).breaker


def balance_read(tenant: str, item: ChannelItem, available: int, low: bool,
                 now: datetime) -> None:
    """Routing read the channel's available balance and low flag (one batch): announces the
    crossing they show (a flag missed by a reservation's estimate, a reservation voided, a
    threshold changed). No read, and no write unless the flag is wrong."""
    channel_health.balance_seen(tenant, item, available, low, now)


def reserved(tenant: str, item: ChannelItem, available_before: int, amount: int) -> None:
    """After a reservation: announces the crossing it made, computed from the balance routing
    read (no read). A concurrent reservation makes that an over-estimate; the next routing
    read of the channel announces what it missed."""
    if health_rules.crossed_by(item.low_balance_threshold, available_before, amount):
        channel_health.balance_seen(tenant, item, available_before - amount, False, clock())


def used_today(tenant: str, channel_id: str, day: date) -> int:
    return store.used_on(tenant, channel_id, day)


def released(tenant: str, item: ChannelItem) -> None:
    """After a reservation is voided (a failed payout): a watched channel's balance read again
    (two reads, only for a channel with a threshold) and a crossing back over it announced."""
    if item.low_balance_threshold is None:
        return
    try:
        available = balance(tenant, item.channel_id).available
        low = health(tenant, item).balance_low
    except Exception:
        log.exception("channel %s/%s: balance after a release not read", tenant,
                      item.channel_id)
        return
    channel_health.balance_seen(tenant, item, available, low, clock())


# --- breaker transitions (outside money transactions; version-guarded, retried) ----------

def _transition(tenant: str, item: ChannelItem,
                step: Callable[[breaker.State], breaker.State | None]) -> bool:
    """A breaker that opens or closes commits its event with its new version (once)."""
    for _ in range(5):
        state, version = store.get_breaker(tenant, item.channel_id)
        new = step(state)
        if new is None:
            return False
        if new == state:
            return True
        crossing = health_rules.breaker_crossing(state, new)
        if crossing is not None:
            if channel_health.breaker_moved(tenant, item, crossing, new, version, clock()):
                return True
        elif store.save_breaker(tenant, item.channel_id, new, version):
            return True
    return False


def acquire(tenant: str, item: ChannelItem,
            seen: tuple[breaker.State, int] | None = None) -> bool:
    """May a payout go to this channel now? Open breakers let exactly one probe through.
    `seen`: the state and version routing read a moment ago (saves the read; a probe is still
    taken by a write conditional on that version)."""
    cfg, now = breaker_config(item), clock()

    def step(state: breaker.State) -> breaker.State | None:
        if not breaker.allows(state, cfg, now):
            return None
        return breaker.start_probe(state, cfg, now) if breaker.needs_probe(state) else state

    state, version = seen or store.get_breaker(tenant, item.channel_id)
    if not breaker.allows(state, cfg, now):
        return False
    if not breaker.needs_probe(state):
        return True
    return store.save_breaker(tenant, item.channel_id, step(state) or state, version)


def record(tenant: str, item: ChannelItem, success: bool,
           seen: breaker.State | None = None) -> None:
    """`seen`: the state this request read; a success on a breaker seen closed and clean
    changes nothing, so it is not read again (a failure recorded meanwhile by a concurrent
    payout counts as after this success)."""
    if success and seen is not None and breaker.on_success(seen) == seen:
        return
    cfg, now = breaker_config(item), clock()
    _transition(tenant, item, lambda s: breaker.on_success(s) if success
                else breaker.on_failure(s, cfg, now))
