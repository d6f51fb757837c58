"""The sandbox clock of stages local and test: set a tenant's `now`, read it, return to real.

Setting stores an offset from real time, so the clock runs on from the instant set. Every
change is audited on the clock's own chain (its head on the clock item). In any other stage
every operation is a 404: there is no sandbox clock to read or change.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib import clock
from chalicelib.errors import DomainError, conflict
from chalicelib.store import audit, sandbox_clock
from chalicelib.store.audit import Actor, ChainHead
from chalicelib.store.uow import UnitOfWork


def _require_sandbox() -> None:
    if not clock.sandboxed():
        raise DomainError("not-found", "There is no sandbox clock in this stage (only in "
                          f"{', '.join(sorted(clock.SANDBOX_STAGES))}).")


def view(tenant: str, shift: timedelta | None = None) -> dict[str, Any]:
    """The tenant's clock as the API shows it; `shift` is a just-written offset (else read)."""
    _require_sandbox()
    if shift is None:
        shift = sandbox_clock.offset(sandbox_clock.get(tenant))
    now = clock.real_now() + shift
    return {"now": now, "today": clock.business_date(tenant, now),
            "time_zone": clock.zone(tenant).key, "sandbox": bool(shift)}


def set_clock(uow: UnitOfWork, tenant: str, actor: Actor, at: datetime,
              to: datetime | None) -> timedelta:
    """Sets the tenant's clock to `to` (None: the real clock); returns the new offset. `at` is
    the request's real instant (audit time); past and future instants are both allowed."""
    _require_sandbox()
    item = sandbox_clock.get(tenant)
    shift = clock.shift_to(to) if to is not None else timedelta(0)
    if item is None and to is None:
        return shift  # never set: already the real clock, nothing to record
    head = ChainHead(int(item["audit_seq"]["N"]), item["audit_head"]["S"]) if item else None
    data = {"now": to.isoformat(), "offset_seconds": shift.total_seconds()} if to else {}
    new = audit.append(uow, tenant=tenant, aggregate_type="sandbox_clock", aggregate_id=tenant,
                       head=head, action="sandbox_clock.set" if to else "sandbox_clock.reset",
                       actor=actor, at=at, data=data, head_ref=sandbox_clock.head_ref(tenant))
    version = int(item["version"]["N"]) if item else None
    uow.add(sandbox_clock.put_item(tenant, shift, at, version, new.seq, new.hash),
            on_fail=lambda _r: conflict("The sandbox clock changed concurrently; retry."))
    uow.after_commit.append(lambda: clock.forget(tenant))
    return shift
