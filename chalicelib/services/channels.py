"""Disbursement channels as tenant configuration: create (with its prefunded cash account),
change limits and enablement, fund, and read with balance, today's usage and breaker state."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.channels import bank_http, breaker, protocol, webhooks
from chalicelib.channels import sandbox as _sandbox  # noqa: F401  (registers the sandbox type)
from chalicelib.clock import business_date
from chalicelib.errors import DomainError, FieldError, not_found
from chalicelib.store import aggregates
from chalicelib.store import channels as store
from chalicelib.store.audit import Actor
from chalicelib.store.channels import ChannelItem
from chalicelib.store.ledger import ledger
from chalicelib.store.uow import UnitOfWork, put
from ledger.chart import CHANNEL, FUNDING, channel_cash, channel_cash_id, domain_metadata
from ledger.model import Balance, JournalRequest, Posting, Side


def _utcnow() -> datetime:
    return datetime.now(UTC)


clock: Callable[[], datetime] = _utcnow  # tests move time for the breaker's cool-down


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


def _save(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, item: ChannelItem,
          action: str, data: dict[str, Any], new: bool = False) -> None:
    aggregates.save(uow, item, tenant=tenant, aggregate_type="channel",
                    aggregate_id=item.channel_id, action=action, actor=actor, at=now, data=data,
                    noun="channel", new=new)


def _summary(item: ChannelItem) -> dict[str, Any]:
    return {k: getattr(item, k) for k in (
        "type", "currency", "fixed_cost", "proportional_bps", "settlement_seconds", "max_payout",
        "daily_limit", "enabled", "breaker_threshold", "breaker_cooldown_seconds")}


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
                       breaker_cooldown_seconds=s.breaker_cooldown_seconds, version=1,
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
    item = get(tenant, channel_id)
    if "config" in changes:
        changes = {**changes, "config": _sealed(tenant, channel_id, changes["config"],
                                                json.loads(item.config))}
    for name, value in changes.items():
        setattr(item, name, json.dumps(value, sort_keys=True) if name == "config" else value)
    _save(uow, tenant, actor, now, item, "channel.updated", {"changed": sorted(changes)})
    return item


def fund(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, channel_id: str,
         amount: int, reference: str) -> str:
    """Prefunding: debit the channel's cash, credit the tenant's funding (lending capital)."""
    item = get(tenant, channel_id)
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


def breaker_state(tenant: str, item: ChannelItem) -> breaker.State:
    return store.get_breaker(tenant, item.channel_id)[0]


def used_today(tenant: str, channel_id: str, day: date) -> int:
    return store.used_on(tenant, channel_id, day)


# --- breaker transitions (outside money transactions; version-guarded, retried) ----------

def _transition(tenant: str, item: ChannelItem,
                step: Callable[[breaker.State], breaker.State | None]) -> bool:
    for _ in range(5):
        state, version = store.get_breaker(tenant, item.channel_id)
        new = step(state)
        if new is None:
            return False
        if new == state or store.save_breaker(tenant, item.channel_id, new, version):
            return True
    return False


def acquire(tenant: str, item: ChannelItem) -> bool:
    """May a payout go to this channel now? Open breakers let exactly one probe through."""
    cfg, now = breaker_config(item), clock()

    def step(state: breaker.State) -> breaker.State | None:
        if not breaker.allows(state, cfg, now):
            return None
        return breaker.start_probe(state, cfg, now) if breaker.needs_probe(state) else state

    state, version = store.get_breaker(tenant, item.channel_id)
    if not breaker.allows(state, cfg, now):
        return False
    if not breaker.needs_probe(state):
        return True
    return store.save_breaker(tenant, item.channel_id, step(state) or state, version)


def record(tenant: str, item: ChannelItem, success: bool) -> None:
    cfg, now = breaker_config(item), clock()
    _transition(tenant, item, lambda s: breaker.on_success(s) if success
                else breaker.on_failure(s, cfg, now))
