"""Item layouts of the three ledger tables, and the TransactItems that write them.

ledger-accounts
  <t>#acct#<id>        / def   definition + status; gsi1 <t>#accounts#NN / <id> (listing)
  <t>#acct#<id>        / bal   exact accounts: status, limits, totals, low/high (one item, so one
                               Update carries the "open" check and the limit condition)
  <t>#acct#<id>#SS     / bal   sharded accounts: shard SS's status and totals (created lazily)
  <t>#jrnl#<id>        / pending   a pending journal's state (open/posted/voided, resolved_by);
                               gsi1 <t>#pending#NN / <expires_at>#<id> while open (sweep). It
                               is the ledger's only mutable item besides balances, so it lives
                               here and the journals table stays strictly append-only.
ledger-journals
  <t>#jrnl#<id>        / journal   the immutable journal; gsi1 <t>#journals#NN / <id>
  <t>#jrnl#<id>        / reversed  put once by the reversal (reversed_by)
ledger-entries
  <t>#entries#<acct>[#SS] / <effective date>#<created at>#<journal id>   one entry per account
                               per journal with the four total deltas; gsi1 <t>#jentries#NN /
                               <journal id>#<acct> (all entries of a journal, for verify)

Journals and entries are written with conditional Puts only, never updated or deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from ledger import keys
from ledger.codec import decode_item, encode, encode_item
from ledger.model import (
    Account,
    AccountSpec,
    AccountStatus,
    AccountType,
    BalancePolicy,
    Entry,
    Journal,
    JournalKind,
    JournalView,
    PendingStatus,
    Posting,
    Side,
    Totals,
)

TOTAL_FIELDS = ("posted_dr", "posted_cr", "pending_dr", "pending_cr")
ALL_OLD = {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}


class Tables:
    """Names of the ledger tables for one deployment prefix (e.g. "test-")."""

    def __init__(self, prefix: str) -> None:
        self.accounts = f"{prefix}ledger-accounts"
        self.journals = f"{prefix}ledger-journals"
        self.entries = f"{prefix}ledger-entries"


# ---- accounts -------------------------------------------------------------------------------


def account_def_item(tenant: str, spec: AccountSpec, created_at: datetime) -> dict[str, Any]:
    return encode_item(
        {
            "pk": keys.account_pk(tenant, spec.account_id),
            "sk": keys.DEF_SK,
            "gsi1pk": keys.accounts_index_pk(tenant, spec.account_id),
            "gsi1sk": spec.account_id,
            "tenant": tenant,
            "account_id": spec.account_id,
            "name": spec.name,
            "type": spec.type.value,
            "currency": spec.currency,
            "policy": spec.policy.value,
            "shards": spec.shards,
            "floor": spec.floor,
            "ceiling": spec.ceiling,
            "metadata": dict(spec.metadata),
            "status": AccountStatus.OPEN.value,
            "created_at": keys.iso(created_at),
        }
    )


def account_bal_item(tenant: str, spec: AccountSpec) -> dict[str, Any]:
    return encode_item(
        {
            "pk": keys.account_pk(tenant, spec.account_id),
            "sk": keys.BAL_SK,
            "tenant": tenant,
            "account_id": spec.account_id,
            "currency": spec.currency,
            "normal": spec.normal_side.value,
            "floor": spec.floor,
            "ceiling": spec.ceiling,
            "status": AccountStatus.OPEN.value,
            **dict.fromkeys(TOTAL_FIELDS, 0),
            "low": 0,
            "high": 0,
        }
    )


def account_from_item(item: Mapping[str, Any]) -> Account:
    v = decode_item(item)
    spec = AccountSpec(
        account_id=v["account_id"],
        name=v["name"],
        type=AccountType(v["type"]),
        currency=v["currency"],
        policy=BalancePolicy(v["policy"]),
        shards=int(v["shards"]),
        floor=v.get("floor"),
        ceiling=v.get("ceiling"),
        metadata=v.get("metadata", {}),
    )
    return Account(spec, AccountStatus(v["status"]), keys.parse_iso(v["created_at"]))


def spec_differences(a: AccountSpec, b: AccountSpec) -> list[str]:
    names = ("name", "type", "currency", "policy", "shards", "floor", "ceiling", "metadata")
    return [n for n in names if getattr(a, n) != getattr(b, n)]


def totals_from(values: Mapping[str, Any]) -> Totals:
    return Totals(*(int(values.get(f, 0)) for f in TOTAL_FIELDS))


def shard_of_key(pk: str) -> int | None:
    """The shard number at the end of a shard item's pk (None for an exact account's item)."""
    tail = pk.rsplit("#", 1)[-1]
    return int(tail) if pk.count("#") == 3 else None


def balance_keys(tenant: str, spec: AccountSpec) -> list[dict[str, Any]]:
    """Keys of every balance item of an account (one, or one per shard)."""
    if spec.policy is BalancePolicy.EXACT:
        pks = [keys.account_pk(tenant, spec.account_id)]
    else:
        pks = [keys.shard_pk(tenant, spec.account_id, s) for s in range(spec.shards)]
    return [{"pk": {"S": pk}, "sk": {"S": keys.BAL_SK}} for pk in pks]


# ---- journals -------------------------------------------------------------------------------


def journal_item(tenant: str, j: Journal) -> dict[str, Any]:
    return encode_item(
        {
            "pk": keys.journal_pk(tenant, j.journal_id),
            "sk": keys.JOURNAL_SK,
            "gsi1pk": keys.journals_index_pk(tenant, j.journal_id),
            "gsi1sk": j.journal_id,
            "tenant": tenant,
            "journal_id": j.journal_id,
            "kind": j.kind.value,
            "ref": j.ref,
            "postings": [
                {"account": p.account_id, "side": p.side.value, "amount": p.amount,
                 "currency": p.currency}
                for p in j.postings
            ],
            "effective_date": j.effective_date.isoformat(),
            "created_at": keys.iso(j.created_at),
            "description": j.description,
            "metadata": dict(j.metadata),
            "expires_at": keys.iso(j.expires_at) if j.expires_at else None,
        }
    )


def journal_from_item(item: Mapping[str, Any]) -> Journal:
    v = decode_item(item)
    return Journal(
        journal_id=v["journal_id"],
        kind=JournalKind(v["kind"]),
        postings=tuple(
            Posting(p["account"], Side(p["side"]), int(p["amount"]), p["currency"])
            for p in v["postings"]
        ),
        effective_date=date.fromisoformat(v["effective_date"]),
        created_at=keys.parse_iso(v["created_at"]),
        description=v.get("description", ""),
        metadata=v.get("metadata", {}),
        ref=v.get("ref"),
        expires_at=keys.parse_iso(v["expires_at"]) if v.get("expires_at") else None,
    )


def pending_state_item(tenant: str, j: Journal) -> dict[str, Any]:
    values: dict[str, Any] = {
        "pk": keys.journal_pk(tenant, j.journal_id),
        "sk": keys.PENDING_SK,
        "tenant": tenant,
        "journal_id": j.journal_id,
        "status": PendingStatus.OPEN.value,
    }
    if j.expires_at is not None:
        values["expires_at"] = keys.iso(j.expires_at)
        values["gsi1pk"] = keys.pending_index_pk(tenant, j.journal_id)
        values["gsi1sk"] = keys.pending_index_sk(j.expires_at, j.journal_id)
    return encode_item(values)


def view_from_items(items: list[Mapping[str, Any]]) -> JournalView | None:
    """A journal and its side items: the reversal marker (journals table) and the pending state
    (accounts table), which share the journal's pk."""
    by_sk = {item["sk"]["S"]: item for item in items}
    if keys.JOURNAL_SK not in by_sk:
        return None
    pending = decode_item(by_sk[keys.PENDING_SK]) if keys.PENDING_SK in by_sk else None
    reversed_ = decode_item(by_sk[keys.REVERSED_SK]) if keys.REVERSED_SK in by_sk else None
    return JournalView(
        journal=journal_from_item(by_sk[keys.JOURNAL_SK]),
        pending_status=PendingStatus(pending["status"]) if pending else None,
        resolved_by=pending.get("resolved_by") if pending else None,
        reversed_by=reversed_["reversed_by"] if reversed_ else None,
    )


# ---- entries --------------------------------------------------------------------------------


def entry_item(
    tenant: str, j: Journal, spec: AccountSpec, shard: int | None, delta: Totals
) -> dict[str, Any]:
    return encode_item(
        {
            "pk": keys.entries_pk(tenant, spec.account_id, shard),
            "sk": keys.entry_sk(j.effective_date, j.created_at, j.journal_id),
            "gsi1pk": keys.entries_index_pk(tenant, j.journal_id),
            "gsi1sk": f"{j.journal_id}#{spec.account_id}",
            "tenant": tenant,
            "account_id": spec.account_id,
            "shard": shard,
            "journal_id": j.journal_id,
            "kind": j.kind.value,
            "effective_date": j.effective_date.isoformat(),
            "created_at": keys.iso(j.created_at),
            "currency": spec.currency,
            "description": j.description,
            **{f: getattr(delta, f) for f in TOTAL_FIELDS},
        }
    )


def entry_from_item(item: Mapping[str, Any]) -> Entry:
    v = decode_item(item)
    return Entry(
        account_id=v["account_id"],
        journal_id=v["journal_id"],
        kind=JournalKind(v["kind"]),
        effective_date=date.fromisoformat(v["effective_date"]),
        created_at=keys.parse_iso(v["created_at"]),
        currency=v["currency"],
        delta=totals_from(v),
        description=v.get("description", ""),
        shard=v.get("shard"),
        position=v["sk"],
    )


# ---- transaction items ----------------------------------------------------------------------


def put_new(table: str, item: dict[str, Any]) -> dict[str, Any]:
    """A Put that fails (returning the existing item) if the key is taken."""
    return {
        "Put": {
            "TableName": table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(pk)",
            **ALL_OLD,
        }
    }


def _add_totals(
    delta: Totals, d_low: int, d_high: int
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """ADD of the four totals and low/high; every name a placeholder (DynamoDB reserves many
    words, "shard" and "status" among them)."""
    fields = {**{f: getattr(delta, f) for f in TOTAL_FIELDS}, "low": d_low, "high": d_high}
    fields = {f: v for f, v in fields.items() if v} or {"posted_dr": 0}  # only what changes
    names = {f"#{f}": f for f in fields}
    values = {f":{f}": encode(v) for f, v in fields.items()}
    expr = "ADD " + ", ".join(f"#{f} :{f}" for f in fields)
    return expr, names, values


def exact_balance_update(
    table: str, tenant: str, spec: AccountSpec, delta: Totals, d_low: int, d_high: int,
    min_low: int | None, max_high: int | None, *, require_open: bool,
) -> dict[str, Any]:
    """One Update: the totals, the "open" check and the limit condition on the account's item."""
    expr, names, values = _add_totals(delta, d_low, d_high)
    conditions = ["attribute_exists(pk)"]
    if require_open:
        conditions.append("#st = :open")
        values[":open"] = encode(AccountStatus.OPEN.value)
    if min_low is not None:
        conditions.append("#low >= :min_low")
        values[":min_low"] = encode(min_low)
    if max_high is not None:
        conditions.append("#high <= :max_high")
        values[":max_high"] = encode(max_high)
    update: dict[str, Any] = {
        "TableName": table,
        "Key": {"pk": {"S": keys.account_pk(tenant, spec.account_id)}, "sk": {"S": keys.BAL_SK}},
        "UpdateExpression": expr,
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": {**names, "#st": "status"} if require_open else names,
        "ExpressionAttributeValues": values,
        **ALL_OLD,
    }
    return {"Update": update}


def shard_balance_update(
    table: str, tenant: str, spec: AccountSpec, shard: int, delta: Totals, d_low: int,
    d_high: int, *, require_open: bool,
) -> dict[str, Any]:
    """Shards are created by their first posting; closing an account marks every shard closed."""
    expr, names, values = _add_totals(delta, d_low, d_high)
    expr += " SET #st = if_not_exists(#st, :open)"
    values[":open"] = encode(AccountStatus.OPEN.value)
    update: dict[str, Any] = {
        "TableName": table,
        "Key": {
            "pk": {"S": keys.shard_pk(tenant, spec.account_id, shard)},
            "sk": {"S": keys.BAL_SK},
        },
        "UpdateExpression": expr,
        "ExpressionAttributeNames": {**names, "#st": "status"},
        "ExpressionAttributeValues": values,
        **ALL_OLD,
    }
    if require_open:
        update["ConditionExpression"] = "attribute_not_exists(#st) OR #st = :open"
    return {"Update": update}


def resolve_pending_update(
    table: str, tenant: str, pending_id: str, status: PendingStatus, by: str,
    now: datetime | None,
) -> dict[str, Any]:
    """Open -> posted/voided once; leaving the sparse expiry index. `now` refuses a late post."""
    values = {
        ":open": encode(PendingStatus.OPEN.value),
        ":new": encode(status.value),
        ":by": encode(by),
    }
    names = {"#st": "status", "#by": "resolved_by"}
    condition = "#st = :open"
    if now is not None:
        condition += " AND (attribute_not_exists(#exp) OR #exp > :now)"
        values[":now"] = encode(keys.iso(now))
        names["#exp"] = "expires_at"
    return {
        "Update": {
            "TableName": table,
            "Key": {
                "pk": {"S": keys.journal_pk(tenant, pending_id)},
                "sk": {"S": keys.PENDING_SK},
            },
            "UpdateExpression": "SET #st = :new, #by = :by REMOVE gsi1pk, gsi1sk",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            **ALL_OLD,
        }
    }


def reversal_marker_put(
    table: str, tenant: str, original_id: str, by: str, created_at: datetime
) -> dict[str, Any]:
    return put_new(
        table,
        encode_item(
            {
                "pk": keys.journal_pk(tenant, original_id),
                "sk": keys.REVERSED_SK,
                "tenant": tenant,
                "reversed_by": by,
                "created_at": keys.iso(created_at),
            }
        ),
    )


def close_updates(tables: Tables, tenant: str, spec: AccountSpec) -> list[dict[str, Any]]:
    """Status closed on the definition and on every balance item (each shard created if new)."""
    names = {"#st": "status"}
    closed = {":closed": encode(AccountStatus.CLOSED.value)}
    out: list[dict[str, Any]] = [
        {
            "Update": {
                "TableName": tables.accounts,
                "Key": {
                    "pk": {"S": keys.account_pk(tenant, spec.account_id)},
                    "sk": {"S": keys.DEF_SK},
                },
                "UpdateExpression": "SET #st = :closed",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": closed,
            }
        }
    ]
    if spec.policy is BalancePolicy.EXACT:
        out.append(
            {
                "Update": {
                    "TableName": tables.accounts,
                    "Key": balance_keys(tenant, spec)[0],
                    "UpdateExpression": "SET #st = :closed",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": closed,
                }
            }
        )
        return out
    for key in balance_keys(tenant, spec):
        out.append(
            {
                "Update": {
                    "TableName": tables.accounts,
                    "Key": key,
                    "UpdateExpression": "SET #st = :closed",
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": closed,
                }
            }
        )
    return out
