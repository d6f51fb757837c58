"""JSON for a loan's servicing state and events (stored on the loan's servicing item)."""

from __future__ import annotations

from datetime import date
from typing import Any

from .loan_state import COMPONENTS, Event, Inst, LoanState


def _d(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def state_json(s: LoanState) -> dict[str, Any]:
    return {
        "financed": s.financed, "disbursed_on": s.disbursed_on.isoformat(),
        "through": s.through.isoformat(), "prepaid_principal": s.prepaid_principal,
        "credit_in": s.credit_in, "refunded": s.refunded, "penalty_units": s.penalty_units,
        "penalty_total": s.penalty_total,
        "stopped_on": s.stopped_on.isoformat() if s.stopped_on else None,
        "status": s.status, "dpd": s.dpd, "written_off": s.written_off,
        "installments": [{
            "n": i.n, "start": i.start.isoformat(), "due": i.due.isoformat(),
            "principal": i.principal, "fee": i.fee, "late_fee": i.late_fee,
            "penalty": i.penalty, "paid": i.paid,
            "segs": [[a.isoformat(), b.isoformat(), v] for a, b, v in i.segs]}
            for i in s.installments],
    }


def state_from(data: dict[str, Any]) -> LoanState:
    insts = [Inst(r["n"], date.fromisoformat(r["start"]), date.fromisoformat(r["due"]),
                  r["principal"], r["fee"],
                  [(date.fromisoformat(a), date.fromisoformat(b), v) for a, b, v in r["segs"]],
                  r["late_fee"], r["penalty"], {k: r["paid"][k] for k in COMPONENTS})
             for r in data["installments"]]
    return LoanState(data["financed"], date.fromisoformat(data["disbursed_on"]),
                     date.fromisoformat(data["through"]), insts, data["prepaid_principal"],
                     data["credit_in"], data["refunded"], data["penalty_units"],
                     data["penalty_total"], _d(data["stopped_on"]), data["status"], data["dpd"],
                     dict(data["written_off"]))


def event_json(e: Event) -> list[Any]:
    return [e.id, e.kind, e.on.isoformat(), e.amount, e.seq, e.reversed]


def event_from(row: list[Any]) -> Event:
    return Event(row[0], row[1], date.fromisoformat(row[2]), row[3], row[4], row[5])
