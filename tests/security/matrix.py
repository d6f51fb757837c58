"""The security suite's view of every route: who may call it (written out here, so a change of
roles is a reviewed change of this table, not an accident), real path ids from a fixture world,
a query that reaches the handler, and a valid sample body.

`test_matrix_covers_every_route` fails when a route in `chalicelib.api.http.ROUTES` is missing
here (or this table names a route that no longer exists), so new endpoints join every check.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.integration.origination.conftest import application, payout_account

ALL = frozenset({"admin", "operator", "partner", "reviewer"})
PUBLIC = None
A, O, P, R = "admin", "operator", "partner", "reviewer"  # noqa: E741


def _r(*roles: str) -> frozenset[str]:
    return frozenset(roles)


# Route -> roles allowed (None: public, no API key). Reviewed for least privilege (see
# chalicelib/api/roles.py and docs/security.md's role table): the platform key only administers
# tenants; admins configure and read but never move money or change a loan's servicing state;
# money and its corrections (fundings, repayment reversals, refunds, write-offs, journals),
# close of business and its exceptions, reconciliation and webhook replays are operators';
# partners originate, start payouts and record repayments; reviewers read and review.
ROLE_TABLE: dict[str, frozenset[str] | None] = {
    "GET /v1/audit/{aggregate_type}/{aggregate_id}": _r(A, O),
    "POST /v1/audit/verify": _r(A, O),
    "GET /v1/health": PUBLIC,
    "GET /v1/openapi.yaml": PUBLIC,
    "GET /docs": PUBLIC,  # the API reference page (Redoc) and its bundle
    "GET /docs/redoc.standalone.js": PUBLIC,
    "GET /v1/ledger/accounts": _r(A, O),
    "POST /v1/ledger/accounts": _r(A),
    "GET /v1/ledger/accounts/{account_id}": _r(A, O),
    "POST /v1/ledger/accounts/{account_id}/close": _r(A),
    "GET /v1/ledger/accounts/{account_id}/entries": _r(A, O),
    "POST /v1/ledger/journals": _r(O),
    "GET /v1/ledger/journals/{journal_id}": _r(A, O),
    "POST /v1/ledger/journals/{journal_id}/reverse": _r(O),
    "POST /v1/ledger/journals/{journal_id}/post": _r(O),
    "POST /v1/ledger/journals/{journal_id}/void": _r(O),
    "GET /v1/ledger/trial-balance": _r(A, O),
    "POST /v1/ledger/verify": _r(A, O),
    "POST /v1/quotes": _r(A, P),
    "GET /v1/quotes/{quote_id}": ALL,
    "POST /v1/apr": ALL,
    "POST /v1/products": _r(A),
    "GET /v1/products": ALL,
    "GET /v1/products/{product_id}": ALL,
    "POST /v1/products/{product_id}/versions": _r(A),
    "POST /v1/products/{product_id}/retire": _r(A),
    "POST /v1/tenants": _r("platform"),
    "POST /v1/tenants/{tenant_id}/api-keys": _r("platform"),
    "DELETE /v1/tenants/{tenant_id}/api-keys/{key_id}": _r("platform"),
    "GET /v1/tenants/{tenant_id}/api-keys/{key_id}": _r("platform"),
    "GET /v1/tenants/{tenant_id}": _r("platform", A, O, P, R),  # a tenant: its own only
    "PUT /v1/tenants/{tenant_id}/time-zone": _r("platform", A),  # an admin: its own tenant
    "GET /v1/sandbox/clock": ALL,
    "PUT /v1/sandbox/clock": _r(A),
    "DELETE /v1/sandbox/clock": _r(A),
    "POST /v1/applications": _r(A, P),
    "GET /v1/applications": ALL,
    "GET /v1/applications/{application_id}": ALL,
    "POST /v1/applications/{application_id}/withdraw": _r(A, P),
    "POST /v1/applications/{application_id}/accept": _r(A, P),
    "PUT /v1/applications/{application_id}/beneficiary": _r(A, P),
    "PUT /v1/loans/{loan_id}/beneficiary": _r(A, P),
    "POST /v1/loans/{loan_id}/beneficiary/review": _r(A, R),
    "POST /v1/channels": _r(A),
    "GET /v1/channels": ALL,
    "GET /v1/channels/{channel_id}": ALL,
    "PATCH /v1/channels/{channel_id}": _r(A),
    "POST /v1/channels/{channel_id}/fundings": _r(O),
    "POST /v1/channel-callbacks/{channel_id}": PUBLIC,  # authenticated by its signature
    "POST /v1/cob/runs": _r(O),
    "GET /v1/cob/runs/{run_id}": ALL,
    "GET /v1/cob/exceptions": _r(A, O),
    "POST /v1/cob/exceptions/{loan_id}/resolve": _r(O),
    "PUT /v1/settings/delinquency": _r(A),
    "GET /v1/settings/delinquency": ALL,
    "POST /v1/contract-templates": _r(A),
    "GET /v1/contract-templates": ALL,
    "GET /v1/contract-templates/{template_id}": ALL,
    "POST /v1/contract-templates/{template_id}/versions": _r(A),
    "GET /v1/contracts/{contract_id}": ALL,
    "GET /v1/contracts/{contract_id}/document": _r(A, O, P),
    "POST /v1/contracts/{contract_id}/signing-code": _r(P),
    "POST /v1/contracts/{contract_id}/sign": _r(P),
    "POST /v1/contracts/{contract_id}/verify": ALL,
    "POST /v1/decision-policies": _r(A),
    "GET /v1/decision-policies": ALL,
    "GET /v1/decision-policies/{policy_id}": ALL,
    "POST /v1/decision-policies/{policy_id}/versions": _r(A),
    "POST /v1/loans/{loan_id}/disbursements": _r(O, P),
    "GET /v1/disbursements/{disbursement_id}": ALL,
    "POST /v1/disbursements/{disbursement_id}/attempts/{n}/resolve": _r(O),
    "POST /v1/disbursements/{disbursement_id}/attempts/{n}/resolve/confirm": _r(O),
    "POST /v1/disbursements/{disbursement_id}/attempts/{n}/resolve/reject": _r(O),
    "GET /v1/disbursements": _r(A, O),
    "PUT /v1/settings/payouts": _r(A),
    "GET /v1/settings/payouts": ALL,
    "GET /v1/loans/{loan_id}": ALL,
    "PUT /v1/products/{product_id}/routing-policy": _r(A),
    "GET /v1/products/{product_id}/routing-policy": ALL,
    "PUT /v1/channels/{channel_id}/statement-format": _r(A),
    "GET /v1/channels/{channel_id}/statement-format": _r(A, O),
    "POST /v1/models": _r(A),
    "POST /v1/models/{model_id}/versions": _r(A),
    "POST /v1/models/{model_id}/versions/{version}/activate": _r(A),
    "GET /v1/models": ALL,
    "GET /v1/models/{model_id}": ALL,
    "GET /v1/models/{model_id}/inputs": ALL,
    "POST /v1/score": _r(A, P, R),
    "POST /v1/reconciliation/runs": _r(O),
    "GET /v1/reconciliation/runs": _r(A, O),
    "GET /v1/reconciliation/runs/{recon_run_id}": _r(A, O),
    "GET /v1/reconciliation/exceptions": _r(A, O),
    "POST /v1/reconciliation/exceptions/{exception_id}/resolve": _r(O),
    "GET /v1/reconciliation/checkpoints": _r(A, O),
    "POST /v1/reconciliation/checkpoints/verify": _r(A, O),
    "GET /v1/reconciliation/verifications": _r(A, O),
    "POST /v1/reconciliation/verifications": _r(O),
    "POST /v1/loans/{loan_id}/repayments": _r(O, P),
    "GET /v1/loans/{loan_id}/repayments": ALL,
    "GET /v1/repayments/{repayment_id}": ALL,
    "POST /v1/repayments/{repayment_id}/reverse": _r(O),
    "POST /v1/loans/{loan_id}/refunds": _r(O),
    "GET /v1/loans/{loan_id}/payoff-quote": ALL,
    "POST /v1/loans/{loan_id}/write-off": _r(O),
    "GET /v1/loans/{loan_id}/servicing": ALL,
    "GET /v1/reports/portfolio": _r(A, O, R),
    "GET /v1/reports/portfolio.csv": _r(A, O, R),
    "GET /v1/reports/origination": _r(A, O, R),
    "GET /v1/reports/origination.csv": _r(A, O, R),
    "GET /v1/reviews": _r(A, R),
    "POST /v1/applications/{application_id}/review": _r(A, R),
    "POST /v1/webhooks": _r(A),
    "GET /v1/webhooks": _r(A, O),
    "DELETE /v1/webhooks/{webhook_id}": _r(A),
    "GET /v1/webhooks/{webhook_id}": _r(A, O),
    "GET /v1/webhooks/{webhook_id}/deliveries": _r(A, O),
    "GET /v1/webhooks/dead-letters": _r(A, O),
    "POST /v1/webhooks/dead-letters/{delivery_id}/replay": _r(O),
}

# Query strings that make a GET reach its handler (required parameters).
QUERIES: dict[str, str] = {
    "GET /v1/reports/origination": "from={d0}&to={d1}",
    "GET /v1/reports/origination.csv": "from={d0}&to={d1}",
    "GET /v1/loans/{loan_id}/payoff-quote": "date={d1}",
}

PARAM = re.compile(r"{(\w+)}")


def path_of(route: str, ids: dict[str, str]) -> str:
    """The route's path with the world's ids in it (and its needed query)."""
    _method, template = route.split(" ", 1)
    path = PARAM.sub(lambda m: ids[m.group(1)], template)
    query = QUERIES.get(route)
    if query:
        today = date.today()
        path += "?" + query.format(d0=(today - timedelta(days=30)).isoformat(),
                                   d1=today.isoformat())
    return path


def id_params(route: str) -> list[str]:
    return PARAM.findall(route.split(" ", 1)[1])


def _money(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "CNY"}


def sample_bodies(ids: dict[str, str], extra: dict[str, Any]) -> dict[str, Any]:
    """A valid body for every route that takes one (valid as to its shape: the call may still
    be refused by the state of the world), so that a refused call would have written something
    had the refusal not happened, and a mass-assignment 422 names only the extra field."""
    today = date.today().isoformat()
    postings = [{"account_id": ids["account_id"], "side": "debit", "amount": _money("1.00")},
                {"account_id": "funding", "side": "credit", "amount": _money("1.00")}]
    policy = {"score_bands": {"approve_from": 540, "decline_below": 500}}
    return {
        "POST /v1/ledger/accounts": {"account_id": "bank:wechat", "name": "Cash",
                                     "type": "asset", "currency": "CNY"},
        "POST /v1/ledger/journals": {"journal_id": "sec-j-1", "effective_date": today,
                                     "postings": postings},
        "POST /v1/ledger/journals/{journal_id}/reverse": {"journal_id": "sec-rev-1",
                                                          "effective_date": today},
        "POST /v1/ledger/journals/{journal_id}/post": {"journal_id": "sec-post-1",
                                                       "effective_date": today},
        "POST /v1/ledger/journals/{journal_id}/void": {"journal_id": "sec-void-1",
                                                       "effective_date": today},
        "POST /v1/quotes": {"product_id": ids["product_id"], "amount": _money("5000.00"),
                            "term": 6, "grade": "B", "disbursement_date": today},
        "POST /v1/apr": {"method": "irr", "advances": [{"date": "2026-01-01", "amount": "100"}],
                         "payments": [{"date": "2027-01-01", "amount": "110"}]},
        "POST /v1/products": {"name": "Second", "terms": extra["terms"]},
        "POST /v1/products/{product_id}/versions": {"terms": extra["terms"]},
        "POST /v1/tenants": {"tenant_id": "sec-new", "name": "New", "time_zone": "UTC"},
        "POST /v1/tenants/{tenant_id}/api-keys": {"role": "admin", "name": "k"},
        "PUT /v1/tenants/{tenant_id}/time-zone": {"time_zone": "UTC"},
        "PUT /v1/sandbox/clock": {"now": datetime.now(UTC).isoformat()},
        "POST /v1/applications": application(ids["product_id"], serial="777"),
        "PUT /v1/applications/{application_id}/beneficiary": {"beneficiary": payout_account()},
        "PUT /v1/loans/{loan_id}/beneficiary": {"beneficiary": payout_account()},
        "POST /v1/loans/{loan_id}/beneficiary/review": {"decision": "decline",
                                                        "comment": "not confirmed"},
        "POST /v1/channels": {"name": "second", "type": "sandbox", "currency": "CNY",
                            "settlement_seconds": 60},
        "PATCH /v1/channels/{channel_id}": {"name": "renamed"},
        "POST /v1/channels/{channel_id}/fundings": {"amount": "10.00", "reference": "sec-f"},
        "POST /v1/channel-callbacks/{channel_id}": {"type": "payout.settled",
                                                    "payout_id": "x.1"},
        "POST /v1/cob/runs": {"business_date": today},
        "POST /v1/disbursements/{disbursement_id}/attempts/{n}/resolve": {
            "outcome": "failed", "note": "the channel's statement shows no such payout"},
        "POST /v1/disbursements/{disbursement_id}/attempts/{n}/resolve/confirm": {
            "note": "checked the statement"},
        "POST /v1/disbursements/{disbursement_id}/attempts/{n}/resolve/reject": {
            "note": "not on the statement"},
        "PUT /v1/settings/payouts": {"resolution_four_eyes_above": {"amount": "5000.00",
                                                                    "currency": "CNY"}},
        "POST /v1/cob/exceptions/{loan_id}/resolve": {"note": "repaired"},
        "PUT /v1/settings/delinquency": {"ranges": [{"name": "late", "min_days": 1}]},
        "POST /v1/contract-templates": {"name": "T", "body": "# {{ contract_id }}\n"},
        "POST /v1/contract-templates/{template_id}/versions": {"body": "# {{ contract_id }}\n"},
        "POST /v1/contracts/{contract_id}/sign": {"code": "123456", "signer": {
            "name": "王小明", "national_id": extra["national_id"]}},
        "POST /v1/decision-policies": {"name": "P2", "config": policy},
        "POST /v1/decision-policies/{policy_id}/versions": {"config": policy},
        "PUT /v1/products/{product_id}/routing-policy": {"strategy": "fastest"},
        "PUT /v1/channels/{channel_id}/statement-format": {"format": "camt053",
                                                           "account": "6222021234567890"},
        "POST /v1/models": {"name": "M", **extra["model"]},
        "POST /v1/models/{model_id}/versions": extra["model"],
        "POST /v1/score": {"features": extra["features"]},
        "POST /v1/reconciliation/runs": {"channel": "alipay", "csv": extra["csv"]},
        "POST /v1/reconciliation/exceptions/{exception_id}/resolve": {"note": "checked"},
        "POST /v1/reconciliation/verifications": {"day": today},
        "POST /v1/loans/{loan_id}/repayments": {"amount": _money("1.00"),
                                                "paid_at": f"{today}T08:00:00+00:00",
                                                "channel": "alipay",
                                                "external_reference": "sec-rep"},
        "POST /v1/repayments/{repayment_id}/reverse": {"reason": "bounced"},
        "POST /v1/loans/{loan_id}/refunds": {"amount": _money("1.00"), "channel": "alipay",
                                             "external_reference": "sec-ref"},
        "POST /v1/loans/{loan_id}/write-off": {"reason": "uncollectable"},
        "POST /v1/applications/{application_id}/review": {"decision": "approve",
                                                          "comment": "ok"},
        "POST /v1/webhooks": {"url": "https://hooks.example.com/2",
                              "event_types": ["loan.closed"]},
    }
