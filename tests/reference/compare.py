"""What the API shows against what the reference model says, to the minor unit."""

from __future__ import annotations

from datetime import date
from typing import Any

from tests.reference.driver import World, components, minor
from tests.reference.model import LoanModel


def servicing_diffs(world: World, loan_id: str, m: LoanModel) -> list[str]:
    """Status, DPD, bucket, through, outstanding, credit, installments and ledger balances."""
    got = world.servicing(loan_id)
    want = m.view()
    out: list[str] = []

    def check(name: str, g: Any, w: Any) -> None:
        if g != w:
            out.append(f"{name}: api {g} != model {w}")

    check("status", got["status"], want["status"])
    check("days_past_due", got["days_past_due"], want["dpd"])
    check("bucket", got["bucket"], want["bucket"])
    if want["status"] not in ("closed", "written_off"):  # COB leaves a stopped loan alone
        check("closed_through", got["closed_through"], want["through"].isoformat())
    ledger = components(world.loan_view(loan_id)["balances"])
    shown = components(got["outstanding"])
    if want["credit"] >= 0:
        check("credit", minor(got["credit"]), want["credit"])
        check("outstanding", shown, want["outstanding"])
        check("ledger balances", ledger, want["outstanding"])
    else:  # refunded money now owed: how it is shown is the engine's choice, the net is not
        net = sum(want["outstanding"].values()) - want["credit"]
        check("owed net of credit", sum(shown.values()) - minor(got["credit"]), net)
    shown_insts = [_inst(i) for i in got["installments"]]
    want_insts = [{**i, "due": i["due"].isoformat()} for i in want["installments"]]
    check("installments", shown_insts, want_insts)
    return out


def _inst(i: dict[str, Any]) -> dict[str, Any]:
    return {"number": i["number"], "due": i["due_date"], "principal": minor(i["principal"]),
            "interest": minor(i["interest"]), "fee": minor(i["fee"]),
            "penalty": minor(i["penalty"]), "paid": components(i["paid"])}


def quote_diffs(world: World, loan_id: str, m: LoanModel, on: date) -> tuple[list[str], int]:
    """The payoff quote for `on`; returns the differences and the API's total."""
    r = world.quote(loan_id, on)
    want = m.payoff_quote(on)
    if r.status != 200:
        return [f"quote {on}: api {r.status} {r.json.get('detail')} != model 200 "
                f"total {want['total']}"], -1
    got, out = r.json, []
    total = minor(got["total"])
    if total != want["total"]:
        out.append(f"quote {on} total: api {total} != model {want['total']}")
    if want["credit"] >= 0:
        if components(got["components"]) != want["components"]:
            out.append(f"quote {on} components: api {components(got['components'])} "
                       f"!= model {want['components']}")
        if minor(got["credit"]) != want["credit"]:
            out.append(f"quote {on} credit: api {minor(got['credit'])} != {want['credit']}")
    return out, total
