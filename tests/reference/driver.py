"""Drives the real API in-process (Chalice's test client over moto) for the differential test,
and reads back what the model is compared with: the servicing view, the payoff quote and the
loan's ledger balances.

The business day is the tenant's sandbox clock (stage `test`): `World.set_today` moves it.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date
from functools import partial
from typing import Any

from chalicelib.lending.money import format_amount, parse_amount
from tests.integration.contracts.helpers import tenant_keys
from tests.integration.servicing_core import loans as loan_helpers
from tests.integration.servicing_core.test_cob import Queue

CURRENCY = "CNY"


def money(minor: int) -> dict[str, str]:
    return {"amount": format_amount(minor, CURRENCY), "currency": CURRENCY}


def minor(m: dict[str, str]) -> int:
    return parse_amount(m["amount"], m["currency"], allow_negative=True)


def components(d: dict[str, Any]) -> dict[str, int]:
    return {c: minor(d[c]) for c in ("principal", "interest", "fee", "penalty")}


class World:
    """One tenant with a key per role, talking to the app like its partner and operator."""

    def __init__(self, api: Any, tenant: str = "refm") -> None:
        self.api = api
        self.tenant = tenant
        self.keys = tenant_keys(api, tenant)
        self.today: date | None = None
        self.refs = 0

    def call(self, method: str, path: str, body: Any = None, role: str = "admin",
             **kw: Any) -> Any:
        return self.api.call(method, path, body, key=self.keys[role], **kw)

    def set_today(self, day: date) -> None:
        """The tenant's business day: the API's sandbox clock (stage test) moves to noon
        (UTC, the tenant's zone here) of that day."""
        self.today = day
        r = self.call("PUT", "/v1/sandbox/clock", {"now": f"{day.isoformat()}T12:00:00+00:00"})
        assert r.status == 200, r.json

    # --- setup --------------------------------------------------------------------------

    def product(self, terms: dict[str, Any]) -> tuple[int, Any]:
        r = self.call("POST", "/v1/products", {"name": "Reference", "terms": terms})
        return r.status, r.json

    def loan(self, product_id: str, disbursed: date, principal: int, term: int,
             first_due: date | None) -> str:
        """An active loan (servicing_core's fast path), with a chosen first due date."""
        with _first_due(first_due):
            return loan_helpers.active_loan(self.tenant, product_id, disbursed, principal, term,
                                            grade="A")

    def loan_view(self, loan_id: str) -> dict[str, Any]:
        r = self.call("GET", f"/v1/loans/{loan_id}", role="reviewer")
        assert r.status == 200, r.json
        return r.json

    # --- commands -------------------------------------------------------------------------

    def repay(self, loan_id: str, amount: int, on: date, reference: str | None = None) -> Any:
        """A repayment report (a new reference unless one is given)."""
        self.refs += 1
        body = {"amount": money(amount), "paid_at": f"{on.isoformat()}T10:00:00+00:00",
                "channel": "alipay",
                "external_reference": reference or f"ref-{loan_id}-{self.refs}"}
        return self.call("POST", f"/v1/loans/{loan_id}/repayments", body, role="partner")

    def reverse(self, repayment_id: str) -> Any:
        return self.call("POST", f"/v1/repayments/{repayment_id}/reverse",
                         {"reason": "charge-back"}, role="operator")

    def refund(self, loan_id: str, amount: int) -> Any:
        self.refs += 1
        return self.call("POST", f"/v1/loans/{loan_id}/refunds",
                         {"amount": money(amount), "channel": "alipay",
                          "external_reference": f"rfd-{loan_id}-{self.refs}"}, role="operator")

    def write_off(self, loan_id: str) -> Any:
        return self.call("POST", f"/v1/loans/{loan_id}/write-off", {"reason": "uncollectable"},
                         role="operator")

    def close_business(self, day: date) -> dict[str, Any]:
        r = self.call("POST", "/v1/cob/runs", {"business_date": day.isoformat()},
                      role="operator")
        assert r.status == 202, r.json
        Queue(self.api).drain()
        run = self.call("GET", f"/v1/cob/runs/{r.json['id']}", role="reviewer").json
        assert run["status"] == "completed", run
        return run

    # --- reads ----------------------------------------------------------------------------

    def servicing(self, loan_id: str) -> dict[str, Any]:
        r = self.call("GET", f"/v1/loans/{loan_id}/servicing", role="reviewer")
        assert r.status == 200, r.json
        return r.json

    def quote(self, loan_id: str, on: date) -> Any:
        return self.call("GET", f"/v1/loans/{loan_id}/payoff-quote?date={on.isoformat()}",
                         role="partner")

    def verify(self) -> None:
        for path in ("/v1/ledger/verify", "/v1/audit/verify"):
            r = self.call("POST", path)
            assert r.status == 200 and r.json["ok"], (path, r.json)


@contextmanager
def _first_due(first_due: date | None) -> Any:
    """active_loan prices with `quote(terms, principal, term, grade, disbursed)`; a chosen
    first due date is passed through by wrapping that one call."""
    original = loan_helpers.quote
    if first_due is not None:
        loan_helpers.quote = partial(original, first_due_date=first_due)
    try:
        yield
    finally:
        loan_helpers.quote = original
