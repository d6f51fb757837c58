"""The DynamoDB calls a journal posting costs through the API, and what the savings must keep.

Issue 9's throughput target is met by cutting calls, not guarantees: a verified API key is
remembered in-process (bounded by credentials.CACHE_TTL_SECONDS, forgotten at once on revoke),
the Idempotency-Key is taken by the commit itself on POST /v1/ledger/journals, and a new
journal's audit chain starts without a read. Each shortcut has a test that fails if it ever
weakens revocation, idempotency or the audit chain.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import botocore.client
import pytest

from chalicelib.services import credentials
from chalicelib.store import idempotency


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Every AWS call made by any botocore client (boto3's and pynamodb's), by operation."""
    seen: Counter[str] = Counter()
    original = botocore.client.BaseClient._make_api_call

    def counted(self: object, operation: str, params: object) -> object:
        seen[operation] += 1
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counted)
    credentials.forget_all()
    yield seen
    credentials.forget_all()


@pytest.fixture
def books(api):
    api.tenant("acme")
    return {role: api.key("acme", role) for role in ("admin", "operator")}


def _journal(jid: str, amount: str = "10.00") -> dict:
    money = {"amount": amount, "currency": "CNY"}
    return {"journal_id": jid, "effective_date": "2026-03-01", "postings": [
        {"account_id": "suspense", "side": "debit", "amount": money},
        {"account_id": "funding", "side": "credit", "amount": money}]}


def test_a_posting_costs_one_transaction_once_warm(api, books, calls):
    first = api.call("POST", "/v1/ledger/journals", _journal("j-0"), key=books["operator"])
    assert first.status == 201
    calls.clear()
    r = api.call("POST", "/v1/ledger/journals", _journal("j-1"), key=books["operator"])
    assert r.status == 201
    assert dict(calls) == {"TransactWriteItems": 1}  # no key, claim, journal or audit read
    trail = api.call("GET", "/v1/audit/journal/j-1", key=books["admin"]).json["data"]
    assert [(t["seq"], t["action"]) for t in trail] == [(1, "journal.posted")]
    assert api.call("POST", "/v1/audit/verify", key=books["admin"]).json["ok"]


def test_retry_under_the_same_key_replays_without_a_second_posting(api, books, calls):
    body = _journal("j-1")
    first = api.call("POST", "/v1/ledger/journals", body, key=books["operator"], idem="k-1")
    again = api.call("POST", "/v1/ledger/journals", body, key=books["operator"], idem="k-1")
    assert (first.status, again.status) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true" and again.body == first.body
    other = api.call("POST", "/v1/ledger/journals", _journal("j-2"), key=books["operator"],
                     idem="k-1")
    assert other.status == 422 and other.json["type"].endswith(":idempotency-key-reused")
    funding = api.call("GET", "/v1/ledger/accounts/funding", key=books["admin"]).json
    assert funding["balance"]["posted"] == "10.00"
    assert api.call("POST", "/v1/ledger/verify", key=books["operator"]).json["ok"]


def test_a_refused_retry_still_gets_the_stored_answer(api, books):
    """The first attempt committed; the retry's handler now refuses (the account closed in
    between): the stored response under the key wins over the handler's new opinion."""
    admin, operator = books["admin"], books["operator"]
    assert api.call("POST", "/v1/ledger/accounts", {
        "account_id": "bank:a", "name": "Cash", "type": "asset", "currency": "CNY"},
        key=admin).status == 201
    body = {**_journal("j-1"), "postings": [
        {"account_id": "bank:a", "side": "debit", "amount": {"amount": "5.00", "currency": "CNY"}},
        {"account_id": "funding", "side": "credit",
         "amount": {"amount": "5.00", "currency": "CNY"}}]}
    assert api.call("POST", "/v1/ledger/journals", body, key=operator, idem="k-1").status == 201
    close = {**_journal("j-close", "5.00"), "postings": [
        {"account_id": "funding", "side": "debit", "amount": {"amount": "5.00", "currency": "CNY"}},
        {"account_id": "bank:a", "side": "credit",
         "amount": {"amount": "5.00", "currency": "CNY"}}]}
    assert api.call("POST", "/v1/ledger/journals", close, key=operator).status == 201
    assert api.call("POST", "/v1/ledger/accounts/bank:a/close", key=admin).status == 200
    retry = api.call("POST", "/v1/ledger/journals", body, key=operator, idem="k-1")
    assert retry.status == 201 and retry.headers["idempotent-replayed"] == "true"


def test_a_claim_still_in_flight_blocks_the_commit(api, books):
    """A request of another process holds the key (claimed, lease running): ours is refused by
    the record's condition and answers 409, posting nothing."""
    from chalicelib.api.http import request_fingerprint
    from chalicelib.api.ledger import JournalIn

    body = _journal("j-1")
    dumped = JournalIn.model_validate(body).model_dump(mode="json")
    claim = idempotency.begin("acme", "k-1", request_fingerprint("POST", "/v1/ledger/journals",
                                                                 dumped))
    assert isinstance(claim, idempotency.Claim)
    r = api.call("POST", "/v1/ledger/journals", body, key=books["operator"], idem="k-1")
    assert r.status == 409 and r.json["type"].endswith(":idempotency-in-flight")
    assert api.call("GET", "/v1/ledger/journals/j-1", key=books["operator"]).status == 404


def test_revocation_is_immediate_in_the_revoking_process(api, books, calls):
    admin = books["admin"]
    assert api.call("GET", "/v1/audit/tenant/acme", key=admin).status == 200  # now cached
    key_id = admin.split("_")[2]
    assert api.call("DELETE", f"/v1/tenants/acme/api-keys/{key_id}",
                    key=api.platform_key).status == 200
    r = api.call("GET", "/v1/audit/tenant/acme", key=admin)
    assert r.status == 401 and r.json["type"].endswith(":unauthenticated")


def test_revocation_elsewhere_is_honoured_within_the_cache_ttl(api, books, aws, monkeypatch):
    """Another process (Lambda container) revoked the key: this one may still accept it for at
    most CACHE_TTL_SECONDS, never after."""
    admin = books["admin"]
    clock = [1_000.0]
    monkeypatch.setattr(credentials.time, "monotonic", lambda: clock[0])
    credentials.forget_all()
    assert api.call("GET", "/v1/audit/tenant/acme", key=admin).status == 200
    key_id = admin.split("_")[2]
    aws["dynamodb"].update_item(  # the revocation, as another process's commit leaves it
        TableName="test-main", Key={"pk": {"S": "acme#tenant"}, "sk": {"S": f"apikey#{key_id}"}},
        UpdateExpression="SET #s = :r", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":r": {"S": "revoked"}})
    clock[0] += credentials.CACHE_TTL_SECONDS - 1
    assert api.call("GET", "/v1/audit/tenant/acme", key=admin).status == 200  # the stated bound
    clock[0] += 1
    assert api.call("GET", "/v1/audit/tenant/acme", key=admin).status == 401


def test_a_cached_key_id_does_not_vouch_for_another_secret(api, books):
    admin = books["admin"]
    assert api.call("GET", "/v1/audit/tenant/acme", key=admin).status == 200
    forged = admin[:-4] + ("AAAA" if not admin.endswith("AAAA") else "BBBB")
    assert api.call("GET", "/v1/audit/tenant/acme", key=forged).status == 401
    assert api.call("GET", "/v1/audit/tenant/acme", key=admin).status == 200
