"""The reads a disbursement and a payout callback make, batched (issue 17: <= 8 and <= 5
DynamoDB requests).

Why: read one by one, routing cost three requests per channel (breaker, cash definition, cash
balance) and settling re-read the disbursement, the loan, the product and the pending journal
each time. Here everything known by key at the same moment is asked for in one consistent
BatchGetItem, and what the driver itself just committed travels along in `Known` instead of
being read again. Nothing here weakens a guard: every write still carries its condition
(version, channel `unchanged`, the cash floor, the pending state), so a stale copy can only
turn into a refused transaction, after which the driver reads afresh.

Process caches hold only what never changes: a product version's terms (immutable), a channel's
tenant (fixed at creation) and the channel ids found through the listing index only (channels
older than the directory; every newer one is in the directory, read consistently each time).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from chalicelib.channels import breaker
from chalicelib.channels.router import Policy
from chalicelib.lending.product import ProductConfig
from chalicelib.services.products import load_terms
from chalicelib.store import batch, dynamo, products
from chalicelib.store import channels as channel_store
from chalicelib.store import disbursements as store
from chalicelib.store.channels import BreakerItem, ChannelItem
from chalicelib.store.disbursements import DisbursementItem
from chalicelib.store.ledger import ledger
from chalicelib.store.loans import LoanItem
from chalicelib.store.models import ProductVersionItem
from ledger import batch_reads
from ledger.chart import FEE_INCOME, channel_cash, channel_cash_id, loan_account_id
from ledger.model import JournalView

TERMS_CACHE = 512


@dataclass
class Known:
    """What this driver committed or read a moment ago, passed on instead of re-read."""

    item: DisbursementItem | None = None
    loan: LoanItem | None = None
    terms: ProductConfig | None = None
    pending: dict[str, JournalView] = field(default_factory=dict)  # journal id -> as written
    breakers: dict[str, tuple[breaker.State, int]] = field(default_factory=dict)
    channels: dict[str, ChannelItem] = field(default_factory=dict)  # as routing read them

    def used(self) -> bool:
        """Holds anything that can go stale (everything but the immutable terms)."""
        return bool(self.item or self.loan or self.pending or self.breakers or self.channels)

    def fresh(self) -> Known:
        """Only the immutable part: after a refused transaction everything else is re-read."""
        return Known(terms=self.terms)


@dataclass(frozen=True)
class ChannelState:
    breaker: breaker.State
    breaker_version: int
    used_today: int
    available: int
    balance_low: bool = False  # the channel's low-balance flag (services/channel_health)


# --- immutable things, cached per process -----------------------------------------------

_lock = threading.Lock()
_terms: OrderedDict[tuple[str, str, int], ProductConfig] = OrderedDict()
_tenants: dict[str, str] = {}
_legacy: dict[str, set[str]] = {}


def _forget() -> None:
    with _lock:
        _terms.clear()
        _tenants.clear()
        _legacy.clear()


dynamo.on_reset(_forget)


def _cached_terms(tenant: str, product_id: str, number: int) -> ProductConfig | None:
    with _lock:
        return _terms.get((tenant, product_id, number))


def _remember_terms(tenant: str, product_id: str, number: int, terms: ProductConfig) -> None:
    with _lock:
        _terms[(tenant, product_id, number)] = terms
        while len(_terms) > TERMS_CACHE:
            _terms.popitem(last=False)


def _version_wanted(tenant: str, loan: LoanItem) -> batch.Wanted:
    return batch.main_key(products.product_pk(tenant, loan.product_id),
                          products.version_sk(loan.product_version))


def _terms_from(tenant: str, loan: LoanItem, found: batch.Found) -> ProductConfig | None:
    table, wanted_key = _version_wanted(tenant, loan)
    row = found.get(batch.ref(table, wanted_key))
    if row is None:
        return None
    terms = load_terms(ProductVersionItem.from_raw_data(row))
    _remember_terms(tenant, loan.product_id, loan.product_version, terms)
    return terms


def loan_terms(tenant: str, loan: LoanItem) -> ProductConfig:
    """The terms of the product version the loan was accepted under (immutable: cached)."""
    cached = _cached_terms(tenant, loan.product_id, loan.product_version)
    if cached is not None:
        return cached
    from chalicelib.services.products import terms_of

    _, _, terms = terms_of(tenant, loan.product_id, loan.product_version)  # 404s as before
    _remember_terms(tenant, loan.product_id, loan.product_version, terms)
    return terms


def tenant_of_channel(channel_id: str) -> str | None:
    """A channel's tenant (fixed when it is created), read once per process."""
    with _lock:
        hit = _tenants.get(channel_id)
    if hit is not None:
        return hit
    tenant = channel_store.tenant_of_channel(channel_id)
    if tenant is not None:
        with _lock:
            _tenants[channel_id] = tenant
    return tenant


# --- a disbursement's start and routing ---------------------------------------------------

def start_reads(tenant: str, loan: LoanItem) -> tuple[Policy | None, ProductConfig | None]:
    """The product's routing policy and the loan's terms, in one request (terms: None when
    the version is missing; routing then answers 404 as it did)."""
    policy_key = store.policy_keys(tenant, loan.product_id)
    wanted = [(dynamo.table("main"), policy_key)]
    terms = _cached_terms(tenant, loan.product_id, loan.product_version)
    if terms is None:
        wanted.append(_version_wanted(tenant, loan))
    found = batch.get_many(wanted)
    row = found.get(batch.ref(dynamo.table("main"), policy_key))
    policy = store.policy_of(json.loads(row["policy"]["S"])) if row else None
    return policy, terms or _terms_from(tenant, loan, found)


def channel_ids(tenant: str, named: list[str] | None) -> set[str]:
    """The channels routing may consider: the product's named ones, else every channel of the
    tenant (the directory, read consistently, plus the legacy ids the index holds)."""
    if named:
        return set(named)
    directory = channel_store.directory_ids(tenant)
    with _lock:
        legacy = _legacy.get(tenant)
    if legacy is None:  # once per process and tenant: no channel is created without an entry
        legacy = channel_store.index_ids(tenant) - directory
        with _lock:
            _legacy[tenant] = legacy
    return directory | legacy


def routing_state(tenant: str, ids: set[str], day: date, loan_id: str,
                  with_fee: bool) -> tuple[list[ChannelItem], dict[str, ChannelState]]:
    """The channels as they are now, each with its breaker, today's usage and available cash,
    plus the definitions of the accounts the reservation will post to, in one request."""
    led = ledger()
    accounts = [loan_account_id(loan_id, "principal"), *([FEE_INCOME] if with_fee else [])]
    wanted: list[batch.Wanted] = []
    for cid in sorted(ids):
        wanted += [batch.main_key(channel_store.channel_pk(tenant, cid), channel_store.CHANNEL_SK),
                   batch.main_key(*channel_store.breaker_keys(tenant, cid)),
                   batch_reads.exact_balance_key(led, tenant, channel_cash_id(cid))]
        accounts.append(channel_cash_id(cid))
        usage = channel_store.usage_keys(tenant, cid, day)
        wanted.append((dynamo.table("main"), usage))
    wanted += batch_reads.definition_keys(led, tenant, accounts)
    found = batch.get_many(wanted)
    batch_reads.absorb_definitions(led, tenant, found)
    main = dynamo.table("main")
    channels_read: list[ChannelItem] = []
    states: dict[str, ChannelState] = {}
    for cid in sorted(ids):
        row = found.get((main, channel_store.channel_pk(tenant, cid), channel_store.CHANNEL_SK))
        if row is None:
            continue  # named but missing: left out, as get_channels does
        channel = ChannelItem.from_raw_data(row)
        channels_read.append(channel)
        state_row = found.get((main, *channel_store.breaker_keys(tenant, cid)))
        state, version = _breaker_from(state_row)
        usage = found.get(batch.ref(main, channel_store.usage_keys(tenant, cid, day)))
        low = bool((state_row or {}).get("balance_low", {}).get("BOOL", False))
        states[cid] = ChannelState(state, version, int(usage["used"]["N"]) if usage else 0,
                                   _available(tenant, channel, found), low)
    return channels_read, states


def _breaker_from(row: dict[str, Any] | None) -> tuple[breaker.State, int]:
    if row is None or "version" not in row:  # none yet, or only the low-balance flag
        return breaker.State(), 0
    item = BreakerItem.from_raw_data(row)
    return (breaker.State(item.state, item.failures, item.opened_at, item.probe_until),
            item.version)


def _available(tenant: str, channel: ChannelItem, found: batch.Found) -> int:
    led = ledger()
    account_id = channel_cash_id(channel.channel_id)
    spec = led.specs.get(tenant, account_id) or channel_cash(channel.channel_id,
                                                             channel.currency)
    table, wanted_key = batch_reads.exact_balance_key(led, tenant, account_id)
    balance = batch_reads.exact_balance(spec, found.get(batch.ref(table, wanted_key)))
    if balance is None:  # not the chart's exact account after all: the ledger's own read
        balance = led.balance(tenant, account_id)
    return balance.available


# --- a callback -----------------------------------------------------------------------------

@dataclass(frozen=True)
class CallbackReads:
    seen: bool
    item: DisbursementItem | None
    pending: JournalView | None


def channel_and_breaker(tenant: str, channel_id: str) -> tuple[ChannelItem | None,
                                                                tuple[breaker.State, int]]:
    """The channel a callback names and its breaker, in one request."""
    main = dynamo.table("main")
    wanted = [batch.main_key(channel_store.channel_pk(tenant, channel_id),
                             channel_store.CHANNEL_SK),
              batch.main_key(*channel_store.breaker_keys(tenant, channel_id))]
    found = batch.get_many(wanted)
    row = found.get((main, channel_store.channel_pk(tenant, channel_id), channel_store.CHANNEL_SK))
    breaker_row = found.get((main, *channel_store.breaker_keys(tenant, channel_id)))
    return (ChannelItem.from_raw_data(row) if row else None), _breaker_from(breaker_row)


def callback_reads(tenant: str, channel_id: str, msg_id: str, disbursement_id: str | None,
                   journal_id: str | None) -> CallbackReads:
    """Whether the webhook id was seen, the disbursement and its attempt's pending journal
    (all named by the signed payload), in one request."""
    main = dynamo.table("main")
    seen_key = channel_store.seen_keys(tenant, channel_id, msg_id)
    wanted: list[batch.Wanted] = [(main, seen_key)]
    if disbursement_id:
        wanted.append(batch.main_key(store.pk(tenant, disbursement_id), store.SK))
    if journal_id:
        wanted += batch_reads.pending_keys(ledger(), tenant, journal_id)
    found = batch.get_many(wanted)
    row = found.get((main, store.pk(tenant, disbursement_id), store.SK)) if disbursement_id \
        else None
    pending = batch_reads.pending_view(ledger(), tenant, journal_id, found) if journal_id \
        else None
    return CallbackReads(batch.ref(main, seen_key) in found,
                         DisbursementItem.from_raw_data(row) if row else None, pending)
