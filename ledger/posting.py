"""Assembles the transaction part of a journal or of account changes (pure: no I/O).

Per journal: the journal Put, then per touched account one balance Update (exact: with the
open check and limit condition; sharded: on the shard picked by the journal id) and one entry
Put, plus the pending-state or reversal-marker item. Legs are netted per account first, so no
item appears twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from ledger import balances, items, keys
from ledger.errors import AccountNotFound, CurrencyMismatch
from ledger.model import AccountSpec, BalancePolicy, Journal, JournalKind, PendingStatus
from ledger.parts import (
    AccountPut,
    BalanceUpdate,
    JournalPut,
    LedgerPart,
    PendingResolution,
    ReversalMarker,
    Silent,
)
from ledger.two_phase import effects, touched

PART_ITEM_BUDGET = 60


def check_accounts(journal: Journal, specs: Mapping[str, AccountSpec]) -> None:
    for p in journal.postings:
        spec = specs.get(p.account_id)
        if spec is None:
            raise AccountNotFound(p.account_id)
        if spec.currency != p.currency:
            raise CurrencyMismatch(p.account_id, spec.currency, p.currency)


def shard_key(journal: Journal) -> str:
    """Post and void land on the shard their pending reserved on, so shard totals stay >= 0."""
    if journal.kind in (JournalKind.POST_PENDING, JournalKind.VOID_PENDING) and journal.ref:
        return journal.ref
    return journal.journal_id


def journal_part(
    tables: items.Tables,
    tenant: str,
    journal: Journal,
    specs: Mapping[str, AccountSpec],
    *,
    pending: Journal | None = None,
    now: datetime,
) -> LedgerPart:
    check_accounts(journal, specs)
    if pending is not None:
        check_accounts(pending, specs)
    effect = effects(journal, pending)
    part = LedgerPart(journal=journal)
    part.add(items.put_new(tables.journals, items.journal_item(tenant, journal)),
             JournalPut(journal))
    kind = journal.kind
    if kind is JournalKind.PENDING:
        # Mutable state lives beside the balances, so the journals table stays append-only.
        part.add(items.put_new(tables.accounts, items.pending_state_item(tenant, journal)),
                 Silent())
    elif kind in (JournalKind.POST_PENDING, JournalKind.VOID_PENDING):
        assert journal.ref is not None
        posting = kind is JournalKind.POST_PENDING
        status = PendingStatus.POSTED if posting else PendingStatus.VOIDED
        part.add(
            items.resolve_pending_update(
                tables.accounts, tenant, journal.ref, status, journal.journal_id,
                now if posting else None,
            ),
            PendingResolution(journal.ref, pending.expires_at if posting and pending else None),
        )
    elif kind is JournalKind.REVERSAL:
        assert journal.ref is not None
        part.add(
            items.reversal_marker_put(
                tables.journals, tenant, journal.ref, journal.journal_id, journal.created_at
            ),
            ReversalMarker(journal.ref),
        )
    require_open = kind is not JournalKind.VOID_PENDING  # releasing a reservation always works
    for account_id in touched(effect):
        spec, delta = specs[account_id], effect[account_id]
        normal = spec.normal_side
        d_low, d_high = balances.low(delta, normal), balances.high(delta, normal)
        if spec.policy is BalancePolicy.EXACT:
            shard = None
            min_low, max_high = balances.condition_bounds(spec, delta)
            update = items.exact_balance_update(
                tables.accounts, tenant, spec, delta, d_low, d_high, min_low, max_high,
                require_open=require_open,
            )
        else:
            shard = keys.shard_for(shard_key(journal), account_id, spec.shards)
            update = items.shard_balance_update(
                tables.accounts, tenant, spec, shard, delta, d_low, d_high,
                require_open=require_open,
            )
        part.add(update, BalanceUpdate(spec, delta))
        part.add(
            items.put_new(tables.entries, items.entry_item(tenant, journal, spec, shard, delta)),
            Silent(),
        )
    return part


def open_parts(
    tables: items.Tables, tenant: str, specs: Sequence[AccountSpec], created_at: datetime
) -> list[LedgerPart]:
    """Account definitions (+ the balance item of exact accounts), at most 60 items a part."""
    parts: list[LedgerPart] = []
    current = LedgerPart()
    for spec in specs:
        needed = 2 if spec.policy is BalancePolicy.EXACT else 1
        if len(current.items) + needed > PART_ITEM_BUDGET:
            parts.append(current)
            current = LedgerPart()
        current.add(items.put_new(tables.accounts,
                                  items.account_def_item(tenant, spec, created_at)),
                    AccountPut(spec))
        if spec.policy is BalancePolicy.EXACT:
            current.add(items.put_new(tables.accounts, items.account_bal_item(tenant, spec)),
                        Silent())
        current.accounts.append(spec)
    if current.items:
        parts.append(current)
    return parts


def close_part(tables: items.Tables, tenant: str, spec: AccountSpec) -> LedgerPart:
    """Closed on the definition and every balance item, atomically (shards + 1 items)."""
    part = LedgerPart(accounts=[spec])
    for item in items.close_updates(tables, tenant, spec):
        part.add(item, Silent())
    return part
