"""The demo's figures: gathered into one JSON-able summary, and shown as a table."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from demo.books import CobRun
from demo.client import Stats
from demo.lifecycle import Outcome
from demo.money import grouped, minor, text


def summarise(outcomes: list[Outcome], states: list[dict[str, Any]], cob: list[CobRun],
              recon: dict[str, Any], ledger: dict[str, Any], audit: dict[str, Any],
              stats: Stats, wall: float) -> dict[str, Any]:
    loans = [o for o in outcomes if o.loan_id]
    disbursed = [o for o in loans if o.disbursed]
    errors = [o.error for o in outcomes if o.error]
    return {
        "applications": sum(bool(o.decision) for o in outcomes),
        "decisions": dict(Counter(o.decision for o in outcomes if o.decision)),
        "reviews": {"approved": sum(o.reviews > 0 and o.final == "approved" for o in outcomes),
                    "declined": sum(o.reviews > 0 and o.final == "declined" for o in outcomes),
                    "four_eyes": sum(o.reviews > 1 for o in outcomes)},
        "approved": sum(o.final == "approved" for o in outcomes),
        "declined": sum(o.final == "declined" for o in outcomes),
        "contracts_signed": sum(o.signed for o in outcomes),
        "render_retries": sum(o.render_retries for o in outcomes),
        "disbursed": {"count": len(disbursed), "amount": text(sum(o.disbursed for o in loans)),
                      "failovers": sum(o.failed_attempts > 0 for o in loans),
                      "callbacks": sum(o.callbacks for o in loans),
                      "duplicate_callbacks": sum(o.duplicate_callbacks for o in loans)},
        "repayment_behaviour": dict(Counter(o.borrower.behaviour for o in disbursed)),
        "repaid": text(sum(o.repaid for o in loans)),
        "refunded": text(sum(o.refunded for o in loans)),
        "cob": [{"business_date": r.business_date.isoformat(), "calls": r.calls,
                 **{k: r.view[k] for k in ("stepped", "skipped", "conflicts")}} for r in cob],
        "loans_by_status": dict(Counter(s["status"] for s in states)),
        "buckets": dict(Counter(s["bucket"] for s in states if s["bucket"])),
        "reconciliation": {name: {"matched": r["counts"].get("matched", 0),
                                  "exceptions": sum(v for k, v in r["counts"].items()
                                                    if k != "matched")}
                           for name, r in recon.items()},
        "ledger_verified": bool(ledger.get("ok")),
        "audit_verified": bool(audit.get("ok")),
        "audit": {"chains": audit.get("chains"), "records": audit.get("records")},
        "wall_seconds": round(wall, 1),
        "requests": stats.requests,
        "requests_per_second": round(stats.requests / wall, 1) if wall else 0.0,
        "retries": stats.retries,
        "server_errors": len(stats.server_errors),
        "errors": len(errors),
        "first_errors": errors[:5] + stats.server_errors[:5],
    }


def passed(s: dict[str, Any]) -> bool:
    return (s["ledger_verified"] and s["audit_verified"] and not s["server_errors"]
            and not s["errors"])


def _counts(d: dict[str, int], order: tuple[str, ...] = ()) -> str:
    keys = [k for k in order if k in d] + sorted(k for k in d if k not in order)
    return ", ".join(f"{k} {d[k]:,}" for k in keys) or "-"


def render(s: dict[str, Any], console: Console) -> None:
    t = Table(title="make demo: summary", show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    yes = {True: "[green]yes[/]", False: "[red]NO[/]"}
    d, r = s["disbursed"], s["reviews"]
    rows = [
        ("Applications", f"{s['applications']:,}"),
        ("Decisions", _counts(s["decisions"], ("approve", "refer", "decline"))),
        ("Reviewed (referred)", f"approved {r['approved']:,}, declined {r['declined']:,} "
                                f"({r['four_eyes']:,} by four eyes)"),
        ("Approved / declined", f"{s['approved']:,} / {s['declined']:,}"),
        ("Contracts signed", f"{s['contracts_signed']:,} ({s['render_retries']:,} acceptances "
                             "retried after a contract render timeout)"),
        ("Disbursed", f"{d['count']:,} loans, CNY {grouped(minor(d['amount']))}"),
        ("Payouts", f"{d['failovers']:,} re-routed after a refusal, {d['callbacks']:,} "
                    f"callbacks ({d['duplicate_callbacks']:,} duplicates ignored)"),
        ("Repayment behaviour", _counts(s["repayment_behaviour"],
                                        ("payoff", "prepay", "partial", "missed"))),
        ("Repaid", f"CNY {grouped(minor(s['repaid']))} "
                   f"(refunded CNY {grouped(minor(s['refunded']))})"),
        ("Close of business", "; ".join(f"{c['business_date']}: {c['stepped']:,} stepped"
                                        for c in s["cob"]) or "-"),
        ("Loans by status", _counts(s["loans_by_status"], ("active", "delinquent", "closed"))),
        ("Delinquency buckets", _counts(s["buckets"])),
        ("Reconciliation", "; ".join(f"{name}: {v['matched']:,} matched, {v['exceptions']:,} "
                                     "exceptions" for name, v in s["reconciliation"].items())),
        ("Ledger verified", yes[s["ledger_verified"]]),
        ("Audit verified", f"{yes[s['audit_verified']]} ({s['audit']['chains']:,} chains, "
                           f"{s['audit']['records']:,} records)"),
        ("Wall time", f"{s['wall_seconds']:,} s ("
                      + ", ".join(f"{k} {v:,} s" for k, v in s.get("phase_seconds", {}).items())
                      + ")"),
        ("Requests", f"{s['requests']:,} ({s['requests_per_second']} /s, {s['retries']:,} "
                     f"retried, {s['server_errors']} server errors)"),
    ]
    if s["errors"] or s["server_errors"]:
        rows.append(("[red]Failures[/]", "\n".join(s["first_errors"])))
    for row in rows:
        t.add_row(*row)
    console.print(t)

