"""A catch-up of many days: sliced into transactions under DynamoDB's 100 items, exactly once.

A weekly loan ~50 weeks behind raises ~100 notices (a reminder and an overdue notice per
installment), each an outbox item: in one transaction (the code before slicing) it exceeds
100 items and TransactWriteItems is refused.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.lending.loan_state import COMPONENTS, ONE_DAY, close_day
from chalicelib.lending.money import money_json
from chalicelib.lending.state_codec import state_json
from chalicelib.services import cob, loan_lifecycle, servicing
from chalicelib.store import dynamo
from chalicelib.store import servicing as store
from chalicelib.store.audit import Actor
from chalicelib.store.ledger import ledger
from chalicelib.store.uow import UnitOfWork
from tests.integration.contracts.helpers import make_product
from tests.integration.servicing_core.loans import active_loan, balances
from tests.integration.servicing_core.test_cob import run_day

DISBURSED = date(2023, 1, 2)
DAY = date(2023, 12, 20)  # 352 days later: ~50 installments fallen due
NOW = datetime(2024, 6, 1, tzinfo=UTC)


class Killed(BaseException):
    """A Lambda dying mid-catch-up (not an error close of business could quarantine)."""


@pytest.fixture
def weekly(api: Any, acme: dict[str, str]) -> str:
    fees = {"late": "5.00", "penalty_rate_percent": "18"}
    return make_product(api, acme["admin"], fees=fees, term={"min": 3, "max": 60},
                        frequency={"unit": "week", "every": 1})["id"]


@pytest.fixture
def sizes(monkeypatch: Any) -> list[int]:
    """The item count of every transaction committed."""
    seen: list[int] = []
    real = UnitOfWork.commit

    def counting(self: UnitOfWork) -> None:
        seen.append(len(self.items))
        real(self)

    monkeypatch.setattr(UnitOfWork, "commit", counting)
    return seen


def day_by_day(loan_id: str, through: date) -> None:
    """The twin: closed one business day at a time (each day its own small transaction)."""
    day = DISBURSED
    while day < through:
        day += timedelta(days=1)
        ctx = cob.Context("acme", day, Actor("cob", "system", f"twin-{day}"), NOW,
                          servicing.delinquency_settings("acme"), {})
        loan = loan_lifecycle.load("acme", loan_id)
        assert cob.close_loan(ctx, loan, store.get_servicing("acme", loan_id) or {}) == \
            "stepped"


def books(loan_id: str) -> tuple[str, dict[str, int], str, Counter[tuple[Any, ...]]]:
    """The loan's state, its receivables, its status and the notices sent for it."""
    loaded = servicing.load("acme", loan_id)
    rows = dynamo.client().scan(ConsistentRead=True, TableName=dynamo.table("main"))["Items"]
    notices = Counter()
    for r in rows:
        if r["sk"]["S"] == "event" and r["type"]["S"].startswith("installment."):
            data = json.loads(r["body"]["S"])["data"]
            if data["loan_id"] == loan_id:
                notices[(r["type"]["S"], data["installment"], data["due_date"],
                         data["owed"]["amount"])] += 1
    return (json.dumps(state_json(loaded.state), sort_keys=True), balances("acme", loan_id),
            loaded.loan.status, notices)


def cob_journals(loan_id: str) -> list[str]:
    rows = dynamo.client().scan(
        ConsistentRead=True, TableName=dynamo.table("ledger-journals"))["Items"]
    return sorted({r["journal_id"]["S"] for r in rows
                   if r.get("journal_id", {}).get("S", "").startswith(f"cob:{loan_id}:")})


def test_a_long_catch_up_is_sliced_and_equals_day_by_day(api: Any, acme: dict[str, str],
                                                         weekly: str, sizes: list[int]) -> None:
    behind = active_loan("acme", weekly, DISBURSED, principal=1_000_000, term=52)
    twin = active_loan("acme", weekly, DISBURSED, principal=1_000_000, term=52)
    sizes.clear()
    day_by_day(twin, DAY)
    assert len(sizes) == (DAY - DISBURSED).days  # the one-day step: one transaction a day
    sizes.clear()
    run = run_day("acme", DAY)
    assert run["status"] == "completed", run
    assert (run["stepped"], run["skipped"], run["quarantined"]) == (1, 1, 0)
    mine, reference = books(behind), books(twin)
    assert mine == reference
    assert sum(reference[3].values()) > 90  # the notices alone overflow one transaction
    assert reference[2] == "defaulted"
    slices = cob_journals(behind)
    assert len(slices) > 1 and slices[-1] == f"cob:{behind}:{DAY.isoformat()}"
    assert max(sizes) <= 100 - cob.ITEM_MARGIN, sizes
    assert ledger().verify("acme").ok

    before = books(behind)  # a duplicate run (another attempt of the date) changes nothing
    again = run_day("acme", DAY)
    assert (again["attempt"], again["stepped"], again["skipped"]) == (2, 0, 2)
    assert books(behind) == before and cob_journals(behind) == slices


def fold(loan_id: str, through: date) -> tuple[str, dict[str, int], Counter[tuple[Any, ...]]]:
    """The pure fold from the schedule, day by day: the state, its receivables, its notices."""
    loaded = servicing.load("acme", loan_id)
    s, notices = servicing.base_state(loaded.loan), Counter()
    while s.through < through:
        for n in close_day(s, s.through + ONE_DAY, loaded.policy):
            notices[(n.kind, n.installment, n.due.isoformat(),
                      money_json(n.owed, loaded.loan.currency)["amount"])] += 1
    t = s.totals(loaded.policy.day_count)
    return (json.dumps(state_json(s), sort_keys=True),
            {c: t.receivable(c) for c in COMPONENTS}, notices)


def test_a_catch_up_killed_between_slices_resumes_from_its_marker(
        api: Any, acme: dict[str, str], weekly: str, monkeypatch: Any) -> None:
    behind = active_loan("acme", weekly, DISBURSED, principal=1_000_000, term=52)
    real, steps = cob._close_once, []

    def dies_after_the_first_slice(*a: Any) -> str:
        outcome = real(*a)
        steps.append(outcome)
        if outcome == "partial":
            raise Killed  # committed, then the Lambda died before the next slice
        return outcome

    monkeypatch.setattr(cob, "_close_once", dies_after_the_first_slice)
    with pytest.raises(Killed):
        run_day("acme", DAY)
    monkeypatch.setattr(cob, "_close_once", real)
    through = servicing.load("acme", behind).state.through
    assert DISBURSED < through < DAY  # the first slice stands, marker at its end
    first = cob_journals(behind)
    assert first == [f"cob:{behind}:{through.isoformat()}"]
    resumed = run_day("acme", DAY)  # the same run, resumed
    assert resumed["status"] == "completed" and resumed["attempt"] == 1
    state, receivable, _status, notices = books(behind)
    assert (state, receivable, notices) == fold(behind, DAY)  # no day, no notice twice
    assert cob_journals(behind)[0] == first[0] and ledger().verify("acme").ok
