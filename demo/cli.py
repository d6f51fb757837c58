"""`python -m demo` (`make demo`): start the local stack, seed, run LOANS loans, summarise.

Exit status 1 when the ledger or the audit trail does not verify, when any request met a
server error (5xx; a 503 that a retry got past does not count), or when a loan's step failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from demo import books, report, stack
from demo.borrowers import generate
from demo.client import Api
from demo.lifecycle import Outcome, loan_state, run_one
from demo.seed import model_categories, setup

T = TypeVar("T")
R = TypeVar("R")
#: Business days closed after today: the weekly loans' first due date (+7) is passed, so a
#: weekly loan with its first installment unpaid is late by the last one (+15).
COB_OFFSETS = (1, 7, 8, 15)


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    p.add_argument("--loans", type=int, default=int(os.environ.get("LOANS", 1000)))
    p.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", 8)))
    p.add_argument("--seed", type=int, default=int(os.environ.get("SEED", 7)))
    p.add_argument("--base-url", default=os.environ.get("DEMO_BASE_URL"),
                   help="use a running stack (`make run`) instead of starting one")
    p.add_argument("--admin-key", default=os.environ.get("PLATFORM_ADMIN_KEY"),
                   help="its platform admin key (with --base-url)")
    p.add_argument("--summary-json", type=Path, help="also write the summary here as JSON")
    return p.parse_args(argv)


def _pooled(progress: Progress, label: str, workers: int, fn: Callable[[T], R],
            items: Iterable[T]) -> list[R]:
    items = list(items)
    task = progress.add_task(label, total=len(items))
    with ThreadPoolExecutor(workers) as pool:
        futures = {pool.submit(fn, x): i for i, x in enumerate(items)}
        results: list[Any] = [None] * len(items)
        for f in as_completed(futures):
            results[futures[f]] = f.result()
            progress.advance(task)
    return results


def run(args: argparse.Namespace, base: str, admin_key: str, console: Console) -> dict[str, Any]:
    api = Api(base)
    started = time.monotonic()
    phases: dict[str, float] = {}  # seconds per phase: the synchronous checks' cost shows

    def timed(name: str, fn: Callable[..., R], *a: Any) -> R:
        t0 = time.monotonic()
        try:
            return fn(*a)
        finally:
            phases[name] = round(time.monotonic() - t0, 1)

    with Progress(TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        seeding = progress.add_task("seed tenant, model, products", total=1)
        tenant = setup(api, admin_key, args.loans)
        progress.advance(seeding)
        borrowers = generate(args.loans, args.seed, model_categories())
        outcomes: list[Outcome] = timed("lifecycle", _pooled, progress,
                                        "apply → sign → disburse → repay", args.workers,
                                        lambda b: run_one(api, tenant, b), borrowers)
        today = books.today(api, tenant)  # the tenant's business date (its zone, its clock)
        days = [today + timedelta(days=k) for k in COB_OFFSETS]
        closing = progress.add_task("close of business", total=len(days))
        cob = []
        for day in days:
            cob.append(timed(f"close of business {day.isoformat()}",
                             books.close_business_day, api, tenant, day))
            progress.advance(closing)
        checks = progress.add_task("reconcile, verify ledger and audit", total=1)
        recon = timed("reconciliation runs", books.reconcile, api, tenant, outcomes, today)
        ledger = timed("ledger verify", books.verify_ledger, api, tenant)
        audit = timed("audit verify", books.verify_audit, api, tenant)
        progress.advance(checks)
        loan_ids = [o.loan_id for o in outcomes if o.loan_id and o.disbursed]
        states = _pooled(progress, "loan states", args.workers,
                         lambda i: loan_state(api, tenant, i), loan_ids)
        books.real_clock(api, tenant)  # the tenant's clock back to real time
    summary = report.summarise(outcomes, states, cob, recon, ledger, audit, api.stats,
                               time.monotonic() - started)
    summary.update({"tenant": tenant.id, "loans_requested": args.loans,
                    "workers": args.workers, "first_day": today.isoformat(),
                    "phase_seconds": phases,
                    "ledger_problems": _problems(ledger), "audit_problems": _problems(audit)})
    return summary


def _problems(verdict: dict[str, Any]) -> list[Any]:
    return [v for k, v in verdict.items() if k not in ("ok",) and isinstance(v, list) and v][:3]


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    console = Console()
    running = None
    if args.base_url:
        if not args.admin_key:
            console.print("--base-url needs --admin-key (or PLATFORM_ADMIN_KEY)")
            return 2
        base, admin_key = args.base_url, args.admin_key
    else:
        console.print("starting the local stack (moto + chalice local) ...")
        running = stack.start()
        base, admin_key = running.base, running.admin_key
    try:
        summary = run(args, base, admin_key, console)
    finally:
        if running is not None:
            stack.stop(running)
    report.render(summary, console)
    if args.summary_json:
        args.summary_json.write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    ok = report.passed(summary)
    console.print("[green]demo passed[/]" if ok else "[red]demo FAILED[/]")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
