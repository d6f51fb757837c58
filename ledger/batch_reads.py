"""Ledger items a caller reads by key inside its own BatchGetItem, and how to decode them.

Why: through DynamoLedger's readers a channel's cash balance costs two requests (definition,
balance item), a journal's account definitions one more and a pending journal to settle two
(Query, GetItem). All of them are addressed by key, so an application that reads other items
at the same moment asks for these too and hands the raw items back here. Definitions read
this way go into the ledger's spec cache; balances and pending state are never cached.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger import balances, items, keys
from ledger.dynamodb import DynamoLedger
from ledger.model import AccountSpec, Balance, BalancePolicy, JournalView, Totals

Wanted = tuple[str, dict[str, Any]]  # (table, key)


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def definition_keys(ledger: DynamoLedger, tenant: str, account_ids: list[str]) -> list[Wanted]:
    """Definitions not in the spec cache yet (cached ones cost nothing)."""
    return [(ledger.tables.accounts, _key(keys.account_pk(tenant, a), keys.DEF_SK))
            for a in account_ids if ledger.specs.get(tenant, a) is None]


def absorb_definitions(ledger: DynamoLedger, tenant: str,
                       found: Mapping[Any, Mapping[str, Any]]) -> None:
    """Caches every account definition among the raw items read."""
    for row in found.values():
        if row.get("sk", {}).get("S") == keys.DEF_SK and "account_id" in row:
            ledger.specs.put(tenant, items.account_from_item(row).spec)


def exact_balance_key(ledger: DynamoLedger, tenant: str, account_id: str) -> Wanted:
    """The one balance item of an EXACT account (e.g. a channel's prefunded cash)."""
    return ledger.tables.accounts, _key(keys.account_pk(tenant, account_id), keys.BAL_SK)


def exact_balance(spec: AccountSpec, row: Mapping[str, Any] | None) -> Balance | None:
    """The balance from its item; None when it cannot be told from this one item (not an
    EXACT account, or no item): the caller asks the ledger itself."""
    if spec.policy is not BalancePolicy.EXACT or row is None:
        return None
    totals: Totals = items.totals_from(
        {k: int(v["N"]) if "N" in v else v.get("S") for k, v in row.items()})
    return balances.balance_of(spec.account_id, spec.currency, spec.normal_side, totals,
                               spec.floor, None)


def pending_keys(ledger: DynamoLedger, tenant: str, journal_id: str) -> list[Wanted]:
    """A pending journal's item and its state item (what settling or voiding it reads)."""
    pk = keys.journal_pk(tenant, journal_id)
    return [(ledger.tables.journals, _key(pk, keys.JOURNAL_SK)),
            (ledger.tables.accounts, _key(pk, keys.PENDING_SK))]


def pending_view(ledger: DynamoLedger, tenant: str, journal_id: str,
                 found: Mapping[tuple[str, str, str], Mapping[str, Any]]) -> JournalView | None:
    """The pending journal as `get_journal` would see it (a pending journal is never
    reversed, so the reversal marker its Query also returns does not matter)."""
    pk = keys.journal_pk(tenant, journal_id)
    rows = [row for row in (found.get((ledger.tables.journals, pk, keys.JOURNAL_SK)),
                            found.get((ledger.tables.accounts, pk, keys.PENDING_SK))) if row]
    return items.view_from_items(rows)
