"""The report repository: turns stored loans and applications into the plain records the pure
aggregations take (chalicelib/lending/reports.py), and renders CSV.

Loans come from the loans index (gsi1 `<tenant>#loans`); outstanding principal and collections
come from the ledger as of the report date (the loan's exact accounts `loan:<id>:<component>`),
so they are true for past dates too. Days past due come from the loan's servicing item, which
close of business writes each business day; for past dates the figure is the latest one.
Reading per loan is O(loans): fine to a
few thousand loans per request; beyond that COB should write a daily portfolio snapshot that
this repository reads instead (same record shape).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.clock import business_date
from chalicelib.lending.money import format_amount
from chalicelib.lending.reports import ApplicationRecord, CurrencyBook, LoanRecord, Origination
from chalicelib.store import outbox as items
from chalicelib.store import servicing
from chalicelib.store.keys import key
from chalicelib.store.ledger import ledger
from ledger.chart import LOAN_COMPONENTS, loan_account_id
from ledger.errors import AccountNotFound

MAX_LOANS = 5_000
MAX_APPLICATIONS = 100_000
FINAL = {"approved": "approved", "accepted": "approved", "expired": "approved",
         "declined": "declined"}


def _dt(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _posted(tenant: str, account: str, as_of: date) -> tuple[int, int]:
    """(posted debits, posted credits) of an account at the end of `as_of`; (0, 0) if absent."""
    try:
        totals = ledger().balance(tenant, account, as_of).totals
    except AccountNotFound:
        return 0, 0
    return totals.posted_dr, totals.posted_cr


def loan_records(tenant: str, as_of: date) -> list[LoanRecord]:
    out = []
    for item in items.query_all(key(tenant, "loans"), index=True, cap=MAX_LOANS):
        created = _dt(items.s(item, "created_at"))
        disbursed = _dt(items.s(item, "disbursed_at"))
        created_on = business_date(tenant, created) if created else None
        if created_on is None or created_on > as_of:
            continue
        loan_id = items.s(item, "loan_id") or ""
        principal = items.n(item, "principal") or 0
        outstanding = collected = 0
        disbursed_on = business_date(tenant, disbursed) if disbursed else None
        if disbursed_on is not None and disbursed_on <= as_of:
            for component in LOAN_COMPONENTS:
                dr, cr = _posted(tenant, loan_account_id(loan_id, component), as_of)
                collected += cr
                if component == "principal":
                    outstanding = dr - cr
        out.append(LoanRecord(
            loan_id=loan_id, product_id=items.s(item, "product_id") or "",
            status=items.s(item, "status") or "", currency=items.s(item, "currency") or "",
            principal=principal, created_on=created_on, disbursed_on=disbursed_on,
            disbursed_amount=principal if disbursed_on else 0,
            outstanding_principal=outstanding, collected=collected,
            days_past_due=_days_past_due(tenant, loan_id)))
    return out


def _days_past_due(tenant: str, loan_id: str) -> int:
    """As of the loan's last close of business (kept on its servicing item)."""
    item = servicing.get_servicing(tenant, loan_id) if loan_id else None
    return int(item["days_past_due"]["N"]) if item and "days_past_due" in item else 0


def application_records(tenant: str) -> list[ApplicationRecord]:
    out = []
    for item in items.query_all(key(tenant, "applications"), index=True, cap=MAX_APPLICATIONS):
        created = _dt(items.s(item, "created_at"))
        if created is None:
            continue
        decision = json.loads(items.s(item, "decision") or "{}")
        history = json.loads(items.s(item, "history") or "[]")
        decided = next((_dt(h.get("at")) for h in history
                        if h.get("status") in ("approved", "declined")), None)
        status = items.s(item, "status") or ""
        out.append(ApplicationRecord(
            application_id=items.s(item, "application_id") or "",
            product_id=items.s(item, "product_id") or "", created_at=created,
            outcome=decision.get("outcome"), arm=decision.get("arm"), status=status,
            decided_at=decided, final=FINAL.get(status)))
    return out


# ---- CSV --------------------------------------------------------------------------------------

def _csv(rows: list[list[Any]]) -> str:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def portfolio_csv(books: dict[str, CurrencyBook]) -> str:
    """Long format: currency, dimension (total/status/product/metric), key, loans, amount,
    ratio - one row per figure, so spreadsheets can pivot it."""
    rows: list[list[Any]] = [["currency", "dimension", "key", "loans", "amount", "ratio"]]
    for cur, b in books.items():
        def money(v: int, c: str = cur) -> str:
            return format_amount(v, c)
        rows.append([cur, "total", "outstanding_principal", b.loans,
                     money(b.outstanding_principal), ""])
        for status, x in sorted(b.by_status.items()):
            rows.append([cur, "status", status, x.count, money(x.outstanding), ""])
        for product, x in sorted(b.by_product.items()):
            rows.append([cur, "product", product, x.count, money(x.outstanding), ""])
        rows.append([cur, "metric", "disbursed_volume", "", money(b.disbursed_volume), ""])
        rows.append([cur, "metric", "collections", "", money(b.collections), ""])
        for days in (1, 30, 90):
            rows.append([cur, "metric", f"par{days}", "", money(b.at_risk[days]),
                         str(b.par(days))])
        rows.append([cur, "metric", "npl_ratio", "", money(b.non_performing),
                     str(b.npl_ratio())])
    return _csv(rows)


def origination_csv(o: Origination) -> str:
    rows: list[list[Any]] = [["arm", "metric", "value"]]
    rows.append(["all", "applications", o.applications])
    for outcome in ("approve", "refer", "decline"):
        rows.append(["all", f"{outcome}_count", o.outcomes[outcome]])
        rows.append(["all", f"{outcome}_rate", str(o.rate(outcome))])
    for name, value in o.final.items():
        rows.append(["all", f"final_{name}", value])
    for name, value in o.time_to_decision().items():
        rows.append(["all", f"time_to_decision_{name}", "" if value is None else value])
    from chalicelib.lending.reports import ratio

    for arm, stats in o.arms.items():
        rows.append([arm, "applications", stats.applications])
        for outcome, count in stats.outcomes.items():
            rows.append([arm, f"{outcome}_count", count])
            rows.append([arm, f"{outcome}_rate", str(ratio(count, stats.applications))])
    return _csv(rows)
