"""Issue 14: the books the domain commands own are out of the ledger API's reach for EVERY role
(admin, partner, reviewer, operator, the platform key): a role the route allows gets a 403
`domain-owned` problem naming the command to use, the others the route's 403 `forbidden`;
nothing is written either way (every item and object compared)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.security import matrix
from tests.security.conftest import Env, changed, snapshot
from tests.security.world import problem

pytestmark = pytest.mark.xdist_group("security")  # one shared world, one worker

ROLES = ("admin", "partner", "reviewer", "operator", "platform")
TODAY = date.today().isoformat()


def _money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "CNY"}


def _journal(jid: str, account: str, **extra: Any) -> dict[str, Any]:
    return {"journal_id": jid, "effective_date": TODAY, "postings": [
        {"account_id": "suspense", "side": "debit", "amount": _money("1.00")},
        {"account_id": account, "side": "credit", "amount": _money("1.00")}], **extra}


def _cases(ids: dict[str, str]) -> list[tuple[str, str, dict[str, Any] | None, str]]:
    """(route, path, body, owner): every way the ledger API could write a domain's books."""
    loan, ch, d = ids["loan_id"], ids["channel_id"], ids["disbursement_id"]
    resolve = {"journal_id": "sec-resolve", "effective_date": TODAY}
    journals = "POST /v1/ledger/journals"
    return [
        (journals, "/v1/ledger/journals", _journal("sec-a", f"loan:{loan}:principal"), "loan"),
        (journals, "/v1/ledger/journals", _journal("sec-b", f"cash:{ch}"), "channel"),
        (journals, "/v1/ledger/journals", _journal("sec-c", "channel-clearing"), "repayment"),
        (journals, "/v1/ledger/journals", _journal("sec-d", "borrower-credit"), "refund"),
        (journals, "/v1/ledger/journals", _journal("rpy:sec-e", "funding"), "repayment"),
        (journals, "/v1/ledger/journals",
         _journal("sec-f", "funding", metadata={"domain": "disbursement"}), "disbursement"),
        (journals, "/v1/ledger/journals",
         _journal("sec-g", f"loan:{loan}:interest", pending=True), "loan"),
        *[("POST /v1/ledger/journals/{journal_id}/reverse",
           f"/v1/ledger/journals/{jid}/reverse", resolve, owner)
          for jid, owner in ((f"rpy:{ids['repayment_id']}", "repayment"),
                             (f"fund:{ch}:initial", "channel"),
                             (f"disb:{d}:1:post", "disbursement"))],
        *[(f"POST /v1/ledger/journals/{{journal_id}}/{verb}",
           f"/v1/ledger/journals/disb:{d}:1/{verb}", resolve, "disbursement")
          for verb in ("post", "void")],
        ("POST /v1/ledger/accounts", "/v1/ledger/accounts",
         {"account_id": "loan:sec:principal", "name": "x", "type": "asset", "currency": "CNY"},
         "loan"),
        ("POST /v1/ledger/accounts", "/v1/ledger/accounts",
         {"account_id": "cash:sec", "name": "x", "type": "asset", "currency": "CNY"},
         "channel"),
        ("POST /v1/ledger/accounts/{account_id}/close", f"/v1/ledger/accounts/cash:{ch}/close",
         None, "channel"),
        ("POST /v1/ledger/accounts/{account_id}/close",
         f"/v1/ledger/accounts/loan:{loan}:principal/close", None, "loan"),
    ]


def test_every_role_is_refused_the_domains_books_and_nothing_changes(env: Env) -> None:
    before = snapshot(env.aws)
    wrong: list[str] = []
    for route, path, body, owner in _cases(env.acme.ids):
        method = route.split(" ", 1)[0]
        allowed = matrix.ROLE_TABLE[route] or frozenset()
        for role in ROLES:
            key = env.api.platform_key if role == "platform" else env.acme.keys[role]
            r = env.api.call(method, path, body, key=key)
            kind = "domain-owned" if role in allowed else "forbidden"
            got = problem(r) if r.status == 403 else {"type": str(r.status)}
            if not got["type"].endswith(f":{kind}") or (
                    kind == "domain-owned" and (got["owner"] != owner or not got["use"])):
                wrong.append(f"{path} as {role}: {r.status} {r.body[:200]!r}")
    assert wrong == []
    assert changed(before, snapshot(env.aws)) == []
