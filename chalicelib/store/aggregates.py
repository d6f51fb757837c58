"""The one way an audited aggregate is written: next version, next chain record, guarded put.

Every aggregate (tenant, product, application, loan, contract, ...) keeps its version and the
head of its audit chain on its own item. A change bumps the version, appends the chain record
and puts the item on the condition that nobody moved it since it was read, all in the caller's
transaction, so the record and the change commit together or not at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.errors import conflict
from chalicelib.store import audit
from chalicelib.store.audit import Actor, ChainHead
from chalicelib.store.uow import UnitOfWork, put_aggregate


def head_ref(item: Any) -> dict[str, str]:
    """Where the chain head lives, so the verifier can tell a removed tail from a short chain."""
    return {"table": "main", "pk": item.pk, "sk": item.sk}


def save(uow: UnitOfWork, item: Any, *, tenant: str, aggregate_type: str, aggregate_id: str,
         action: str, actor: Actor, at: datetime, data: dict[str, Any], noun: str,
         new: bool = False) -> None:
    """Adds the item's next version and its audit record to `uow`.

    `new`: the item is created (version 1, chain genesis, must not exist yet). Otherwise the
    item holds the version read, and a concurrent change makes the transaction fail with a
    conflict naming `noun`.
    """
    expected = None if new else item.version
    item.version = 1 if expected is None else expected + 1
    item.updated_at = at
    head = audit.append(uow, tenant=tenant, aggregate_type=aggregate_type,
                        aggregate_id=aggregate_id,
                        head=None if new else ChainHead(item.audit_seq, item.audit_head),
                        action=action, actor=actor, at=at, data=data, head_ref=head_ref(item))
    item.audit_seq, item.audit_head = head.seq, head.hash
    message = (f"{noun.capitalize()} id collision; retry." if new
               else f"The {noun} changed concurrently; retry.")
    uow.add(put_aggregate(item, expected), on_fail=lambda _r: conflict(message))
