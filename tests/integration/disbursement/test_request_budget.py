"""DynamoDB requests per disbursement and per payout callback (issue 17: <= 8 and <= 5).

Counted at botocore's `_make_api_call`, so every client's requests are in (boto3's, pynamodb's
and the ledger's). Measured as a warm process sees it: the API key verified, the tenant's zone
known, one disbursement routed before (the product version's terms and the channel index's
legacy ids are cached per process; both never change). The first routing of a tenant in a
process costs one more request (the index Query); a cold callback two more (the channel's
route, the product version).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import botocore.client
import pytest

from tests.integration.disbursement.conftest import callback, channel, disburse, signed_loan

DISBURSEMENT_BUDGET = 8
CALLBACK_BUDGET = 5


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    seen: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call

    def counted(self: Any, operation: str, params: Any) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            seen[operation] += 1
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted)
    yield seen


def _get(api: Any, key: str, path: str) -> dict[str, Any]:
    r = api.call("GET", path, key=key)
    assert r.status == 200, r.json
    return r.json


def test_a_disbursement_through_the_sandbox_costs_at_most_8_requests(api, acme, product, aws,
                                                                     clock, calls):
    channel(api, acme, "cheap", fixed_cost="1.00")
    channel(api, acme, "dear", fixed_cost="2.00", daily_limit="50000.00")
    warm, measured = (signed_loan(api, acme, aws, product["id"]) for _ in range(2))
    assert disburse(api, acme["partner"], warm).status == 202
    calls.clear()
    r = disburse(api, acme["partner"], measured)
    assert r.status == 202, r.json
    spent = dict(calls)
    assert sum(spent.values()) <= DISBURSEMENT_BUDGET, spent
    assert spent["TransactWriteItems"] == 3  # start, reserve, settle: nothing merged away
    d = _get(api, acme["admin"], f"/v1/disbursements/{r.json['id']}")
    assert d["status"] == "settled"
    assert _get(api, acme["admin"], f"/v1/loans/{measured}")["status"] == "active"
    assert api.call("POST", "/v1/ledger/verify", key=acme["admin"]).json["ok"]


def test_a_settling_callback_costs_at_most_5_requests(api, acme, product, aws, clock, calls):
    ch = channel(api, acme, "async", sandbox={"settle": "callback"})
    warm = disburse(api, acme["partner"], signed_loan(api, acme, aws, product["id"])).json
    d = disburse(api, acme["partner"], signed_loan(api, acme, aws, product["id"])).json
    payouts = [_get(api, acme["admin"], f"/v1/disbursements/{x['id']}")["attempts"][0][
        "payout_id"] for x in (warm, d)]
    assert callback(api, ch, {"type": "payout.settled", "payout_id": payouts[0]}).status == 200
    calls.clear()
    r = callback(api, ch, {"type": "payout.settled", "payout_id": payouts[1],
                           "provider_ref": "bank-1"})
    assert r.status == 200 and r.json["outcome"] == "processed", r.json
    spent = dict(calls)
    assert sum(spent.values()) <= CALLBACK_BUDGET, spent
    assert _get(api, acme["admin"], f"/v1/disbursements/{d['id']}")["status"] == "settled"
    again = callback(api, ch, {"type": "payout.settled", "payout_id": payouts[1]})
    assert again.json["outcome"] == "ignored"
    assert api.call("POST", "/v1/ledger/verify", key=acme["admin"]).json["ok"]


def test_a_loan_changed_while_the_bank_pays_is_read_again_and_paid_once(api, acme, product,
                                                                        aws, clock,
                                                                        monkeypatch):
    """The driver settles with the loan as it committed it at the start; another writer moved
    the loan meanwhile (its version only), so that copy is stale: the settlement is refused by
    the loan's version guard and applied again on fresh reads, once."""
    from chalicelib.channels import sandbox
    from chalicelib.store.loans import LOAN_SK, loan_pk

    only = channel(api, acme, "only")
    loan_id = signed_loan(api, acme, aws, product["id"])
    real, sent = sandbox.SandboxChannel.submit, []

    def meanwhile(self: Any, payout: Any) -> Any:
        sent.append(payout.payout_id)
        aws["dynamodb"].update_item(
            TableName="test-main", Key={"pk": {"S": loan_pk("acme", loan_id)},
                                        "sk": {"S": LOAN_SK}},
            UpdateExpression="ADD version :one", ExpressionAttributeValues={":one": {"N": "1"}})
        return real(self, payout)

    monkeypatch.setattr(sandbox.SandboxChannel, "submit", meanwhile)
    r = disburse(api, acme["partner"], loan_id)
    assert r.status == 202, r.json
    d = _get(api, acme["admin"], f"/v1/disbursements/{r.json['id']}")
    assert d["status"] == "settled" and len(d["attempts"]) == 1 and len(sent) == 1, d
    assert _get(api, acme["admin"], f"/v1/loans/{loan_id}")["status"] == "active"
    assert _get(api, acme["admin"], f"/v1/channels/{only['id']}")["available"][
        "amount"] == "90200.00"  # 100,000.00 less one payout of 9,800.00
    assert api.call("POST", "/v1/ledger/verify", key=acme["admin"]).json["ok"]
