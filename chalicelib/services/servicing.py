"""The shared machinery of every servicing command: load a loan's servicing state, move it,
and post the ledger difference in the same unit of work as the new state.

Journals are the difference of two states' totals (lending/loan_state.Totals):
  Δ charged interest/fee/penalty   Dr loan:<id>:<c>          Cr interest|fee|penalty-income
  Δ paid <c>                        Dr channel-clearing       Cr loan:<id>:<c>
  Δ overpayment (credit in)         Dr channel-clearing       Cr borrower-credit
  Δ refunded                        Dr borrower-credit        Cr channel-clearing
  Δ written off <c>                 Dr write-off-expense      Cr loan:<id>:<c>
  Δ negative credit written off     Dr write-off-expense      Cr borrower-credit
A negative difference swaps the sides; legs are netted per account. Money received through a
channel sits in `channel-clearing` (collections in transit) until the channel settles it to
`cash:<channel>` (reconciliation's step), so a charged-back payment can always be reversed.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.errors import conflict
from chalicelib.lending.delinquency import DEFAULT_SETTINGS, DelinquencySettings
from chalicelib.lending.loan_state import (
    COMPONENTS,
    Event,
    LoanState,
    Notice,
    Policy,
    Totals,
    initial,
)
from chalicelib.lending.money import money_json, parse_amount
from chalicelib.lending.product import ProductConfig
from chalicelib.lending.state_codec import event_from, event_json, state_from, state_json
from chalicelib.services import loan_lifecycle, outbox
from chalicelib.services.products import terms_of
from chalicelib.store import loans
from chalicelib.store import servicing as store
from chalicelib.store.audit import Actor
from chalicelib.store.ledger import ledger
from chalicelib.store.loans import LoanItem
from chalicelib.store.uow import UnitOfWork, check_version, put
from ledger.chart import (
    BORROWER_CREDIT,
    CHANNEL_CLEARING,
    FEE_INCOME,
    INTEREST_INCOME,
    LOAN,
    PENALTY_INCOME,
    WRITE_OFF_EXPENSE,
    domain_metadata,
    journal_id_owner,
    loan_account_id,
)
from ledger.model import JournalRequest, Posting, Side

SERVICED = (loans.ACTIVE, loans.DELINQUENT, loans.DEFAULTED, loans.CLOSED, loans.WRITTEN_OFF)
INCOME = {"interest": INTEREST_INCOME, "fee": FEE_INCOME, "penalty": PENALTY_INCOME}


@dataclass
class Loaded:
    loan: LoanItem
    policy: Policy
    base: LoanState
    state: LoanState
    events: list[Event]
    version: int | None  # of the servicing item; None before the first servicing command


def delinquency_settings(tenant: str) -> DelinquencySettings:
    stored = store.get_delinquency(tenant)
    return DelinquencySettings.model_validate(stored) if stored else DEFAULT_SETTINGS


def policy_of(terms: ProductConfig, loan: LoanItem, settings: DelinquencySettings) -> Policy:
    return Policy(Decimal(loan.annual_rate_percent), terms.day_count, terms.rounding.mode,
                  parse_amount(terms.fees.late, loan.currency),
                  Decimal(terms.fees.penalty_rate_percent), terms.prepayment.value,
                  tuple(terms.allocation), settings)


def base_state(loan: LoanItem) -> LoanState:
    """The fold's start from the loan's disclosed schedule; a row's `earned` segments (the
    periods of deferred grace interest it collects) come along, so that interest accrues over
    its own periods. A schedule stored without them earns each row's interest over its row."""
    sched = json.loads(loan.schedule)
    cur = loan.currency
    rows = [{"number": r["number"], "due_date": date.fromisoformat(r["due_date"]),
             "principal": parse_amount(r["principal"], cur),
             "interest": parse_amount(r["interest"], cur), "fee": parse_amount(r["fee"], cur),
             "earned": [(date.fromisoformat(a), date.fromisoformat(b), parse_amount(v, cur))
                        for a, b, v in r.get("earned", ())]}
            for r in sched["installments"]]
    return initial(parse_amount(sched["financed"], cur),
                   date.fromisoformat(sched["disbursement_date"]), rows)


def load(tenant: str, loan_id: str, settings: DelinquencySettings | None = None,
         loan: LoanItem | None = None, item: dict[str, Any] | None = None,
         products: dict[tuple[str, int], ProductConfig] | None = None) -> Loaded:
    """`loan`, `item` (the servicing item, {} when known to be absent) and the `products`
    cache let a COB page skip reads it has already made."""
    loan = loan or loan_lifecycle.load(tenant, loan_id)
    if loan.status not in SERVICED:
        raise conflict("Only a disbursed loan is serviced.", loan_status=loan.status)
    cache = products if products is not None else {}
    ref = (loan.product_id, loan.product_version)
    if ref not in cache:
        cache[ref] = terms_of(tenant, loan.product_id, loan.product_version)[2]
    terms = cache[ref]
    policy = policy_of(terms, loan, settings or delinquency_settings(tenant))
    base = base_state(loan)
    item = item if item is not None else store.get_servicing(tenant, loan_id)
    if not item:
        return Loaded(loan, policy, base, copy.deepcopy(base), [], None)
    return Loaded(loan, policy, base, state_from(json.loads(item["state"]["S"])),
                  [event_from(e) for e in json.loads(item["events"]["S"])],
                  int(item["version"]["N"]))


# --- the ledger difference ---------------------------------------------------------------

def flat(t: Totals) -> dict[str, int]:
    out = {f"charged.{k}": v for k, v in t.charged.items()}
    out |= {f"paid.{k}": v for k, v in t.paid.items()}
    out |= {f"wo.{k}": v for k, v in t.written_off.items()}
    return out | {"credit_in": t.credit_in, "refunded": t.refunded}


def diff(new: dict[str, int], old: dict[str, int]) -> dict[str, int]:
    return {k: new[k] - old.get(k, 0) for k in new}


def postings(loan_id: str, currency: str, d: dict[str, int]) -> tuple[Posting, ...]:
    """Net debit per account (positive = debit) from a totals difference, as postings."""
    net: dict[str, int] = {}

    def add(account: str, amount: int) -> None:
        net[account] = net.get(account, 0) + amount

    for c in COMPONENTS:
        rec = loan_account_id(loan_id, c)
        add(rec, d[f"charged.{c}"] - d[f"paid.{c}"] - d[f"wo.{c}"])
        if c in INCOME:
            add(INCOME[c], -d[f"charged.{c}"])
        add(CHANNEL_CLEARING, d[f"paid.{c}"])
        add(WRITE_OFF_EXPENSE, d[f"wo.{c}"])
    add(CHANNEL_CLEARING, d["credit_in"] - d["refunded"])
    add(BORROWER_CREDIT, d["refunded"] - d["credit_in"] - d.get("wo.credit", 0))
    add(WRITE_OFF_EXPENSE, d.get("wo.credit", 0))
    return tuple(Posting(a, Side.DEBIT if v > 0 else Side.CREDIT, abs(v), currency)
                 for a, v in sorted(net.items()) if v)


def add_journal(uow: UnitOfWork, tenant: str, journal_id: str, loan: LoanItem, on: date,
                d: dict[str, int], description: str, meta: dict[str, str]) -> bool:
    legs = postings(loan.loan_id, loan.currency, d)
    if not legs:
        return False
    uow.add_part(ledger().prepare_journal(tenant, JournalRequest(
        journal_id, legs, on, description,
        domain_metadata(journal_id_owner(journal_id) or LOAN,
                        **{"loan_id": loan.loan_id, **meta}))))
    return True


def notify(uow: UnitOfWork, tenant: str, loan: LoanItem, n: Notice, now: datetime) -> None:
    """A close-of-business notice (reminder before a due date, overdue after a miss) in the
    outbox of the transaction that closed its day."""
    outbox.emit(uow, tenant, n.kind, {
        "loan_id": loan.loan_id, "installment": n.installment, "due_date": n.due.isoformat(),
        "owed": money_json(n.owed, loan.currency)}, now=now)


# --- saving ------------------------------------------------------------------------------

def save_state(uow: UnitOfWork, tenant: str, loaded: Loaded, state: LoanState,
               events: list[Event]) -> None:
    """The servicing item's next version, guarded by the one we read. Its failure is
    explained first: a stale read also makes the journal breach a receivable's floor, and the
    client must hear "retry" (409), not that its payment is invalid (422)."""
    version = (loaded.version or 0) + 1
    item = store.servicing_item(tenant, loaded.loan.loan_id, state_json(state),
                                [event_json(e) for e in events], version, state.status)
    if loaded.version is None:
        uow.add(put("main", item, "attribute_not_exists(pk)"),
                on_fail=lambda _r: conflict("The loan changed concurrently; retry."), first=True)
    else:
        uow.add(put("main", item, "#v = :v", names={"#v": "version"},
                    values={":v": {"N": str(loaded.version)}}),
                on_fail=lambda _r: conflict("The loan changed concurrently; retry."), first=True)


def commit_change(uow: UnitOfWork, tenant: str, actor: Actor, now: datetime, loaded: Loaded,
                  state: LoanState, events: list[Event], action: str | None,
                  data: dict[str, Any], *, guard_loan: bool = False) -> None:
    """New servicing state + the loan's status (and audit record) when `action` is given or
    the status moved. `guard_loan`: when the loan item is not written, a ConditionCheck that
    it is still at the version read (close of business: the status it compared against is
    then the live one, so loan and servicing state cannot disagree)."""
    save_state(uow, tenant, loaded, state, events)
    moved = state.status != loaded.loan.status
    if guard_loan and action is None and not moved:
        uow.add(check_version(loaded.loan),
                on_fail=lambda _r: conflict("The loan changed concurrently; retry."))
    if action is not None or moved:
        status = state.status if moved else None
        name = action if action is not None else f"loan.{state.status}"
        if moved and state.status == loans.CLOSED:
            name, data = "loan.closed", {**data, "closed_on": str(state.stopped_on)}
        loan_lifecycle.move(uow, tenant, actor, now, loaded.loan, status, name, data)
