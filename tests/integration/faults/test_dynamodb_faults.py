"""Faults injected at the DynamoDB client: retries with the same Idempotency-Key never
double-post, never lose a posting, and always leave verifiable books.

Faults are raised by the stand-in DynamoDB itself (moto's request stubber, wrapped), so the
SDK's own retry logic runs exactly as it would against AWS, and a faulted attempt never
executes; the ambiguous case raises from botocore's after-call event once the write is done:
- throttle: DynamoDB answers ThrottlingException (botocore retries, then gives up);
- conflict: the transaction is cancelled with TransactionConflict (our unit of work retries);
- timeout-before: the request never reaches DynamoDB (read timeout; botocore retries);
- timeout-after: the transaction COMMITS but the caller sees a read timeout (the ambiguous case).
"""

from __future__ import annotations

import io
import json
import random
import uuid

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError
from moto.core.botocore_stubber import BotocoreStubber

from chalicelib.store import dynamo

OP = "dynamodb.TransactWriteItems"


class _Raw(io.BytesIO):
    def stream(self, **_: object):
        yield self.getvalue()


def _error(code: str, extra: dict | None = None) -> AWSResponse:
    body = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": code, **(extra or {})}
    return AWSResponse("https://dynamodb", 400, {"x-amzn-RequestId": "fault"},
                       _Raw(json.dumps(body).encode()))


class Faults:
    """Applies queued faults to successive TransactWriteItems attempts (one per SDK attempt)."""

    def __init__(self) -> None:
        self.queue: list[str] = []
        self.pending_timeout = False
        self.applied: list[str] = []

    def before_send(self, request: object) -> AWSResponse | None:
        """A fault response for this attempt, or None to let DynamoDB (moto) execute it."""
        if not self.queue:
            return None
        fault = self.queue.pop(0)
        self.applied.append(fault)
        if fault == "throttle":
            return _error("ThrottlingException")
        if fault == "conflict":
            items = json.loads(request.body)["TransactItems"]  # type: ignore[attr-defined]
            reasons = [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * (len(items) - 1)
            return _error("TransactionCanceledException", {"CancellationReasons": reasons})
        if fault == "timeout-before":
            raise ReadTimeoutError(endpoint_url="https://dynamodb")
        if fault == "timeout-after":
            self.pending_timeout = True
        return None

    def after_call(self, **_: object) -> None:
        if self.pending_timeout:
            self.pending_timeout = False
            raise ReadTimeoutError(endpoint_url="https://dynamodb")


@pytest.fixture
def faults(api, monkeypatch):
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount",
                        lambda self, context: 0.001)  # keep the SDK's retries, not its sleeps
    injector = Faults()
    serve = BotocoreStubber.__call__

    def faulty_dynamodb(self, event_name, request, **kwargs):
        if event_name.endswith(OP):
            response = injector.before_send(request)
            if response is not None:
                return response
        return serve(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", faulty_dynamodb)
    events = dynamo.client().meta.events
    events.register(f"after-call.{OP}", injector.after_call)
    yield injector
    events.unregister(f"after-call.{OP}", injector.after_call)


@pytest.fixture
def books(api):
    api.tenant("acme")
    keys = {role: api.key("acme", role) for role in ("admin", "operator")}
    r = api.call("POST", "/v1/ledger/accounts", {
        "account_id": "bank-a", "name": "Cash", "type": "asset", "currency": "CNY",
        "floor": "0.00"}, key=keys["admin"])
    assert r.status == 201
    return keys


def _journal(jid: str, amount: str) -> dict:
    money = {"amount": amount, "currency": "CNY"}
    return {"journal_id": jid, "effective_date": "2026-03-01", "postings": [
        {"account_id": "bank-a", "side": "debit", "amount": money},
        {"account_id": "funding", "side": "credit", "amount": money}]}


def _post(api, books, jid, amount, idem):
    return api.call("POST", "/v1/ledger/journals", _journal(jid, amount), key=books["operator"],
                    idem=idem)


def _cash(api, books) -> str:
    return api.call("GET", "/v1/ledger/accounts/bank-a", key=books["admin"]).json[
        "balance"]["posted"]


def _books_hold(api, books, aws) -> None:
    ledger = api.call("POST", "/v1/ledger/verify", key=books["operator"]).json
    assert ledger["ok"], ledger["discrepancies"]
    trail = api.call("POST", "/v1/audit/verify", key=books["admin"]).json
    assert trail["ok"], trail["breaks"]
    stuck = aws["dynamodb"].scan(
        ConsistentRead=True, TableName="test-idempotency", FilterExpression="#s = :f",
                                 ExpressionAttributeNames={"#s": "status"},
                                 ExpressionAttributeValues={":f": {"S": "in_flight"}})
    assert stuck["Count"] == 0, "an in-flight claim was left behind"


def test_transient_throttling_is_absorbed(api, books, faults, aws):
    faults.queue = ["throttle", "throttle"]
    r = _post(api, books, "j-1", "100.00", "k-1")
    assert r.status == 201 and faults.applied == ["throttle", "throttle"]
    assert _cash(api, books) == "100.00"
    _books_hold(api, books, aws)


def test_persistent_throttling_is_503_and_changes_nothing(api, books, faults, aws):
    faults.queue = ["throttle"] * 50  # more than the SDK's retries of one request
    r = _post(api, books, "j-1", "100.00", "k-1")
    assert r.status == 503 and r.json["type"].endswith(":service-unavailable")
    assert len(faults.applied) == 6  # the first attempt and botocore's 5 retries
    faults.queue = []
    assert _cash(api, books) == "0.00"
    assert api.call("GET", "/v1/ledger/journals/j-1", key=books["operator"]).status == 404
    retry = _post(api, books, "j-1", "100.00", "k-1")
    assert retry.status == 201 and "idempotent-replayed" not in retry.headers
    assert _cash(api, books) == "100.00"
    _books_hold(api, books, aws)


def test_transaction_conflict_is_retried_by_the_unit_of_work(api, books, faults, aws):
    faults.queue = ["conflict", "conflict"]
    r = _post(api, books, "j-1", "100.00", "k-1")
    assert r.status == 201 and faults.applied == ["conflict", "conflict"]
    assert _cash(api, books) == "100.00"
    _books_hold(api, books, aws)


def test_timeout_before_the_write_is_retried_by_the_sdk(api, books, faults, aws):
    faults.queue = ["timeout-before"]
    r = _post(api, books, "j-1", "100.00", "k-1")
    assert r.status == 201 and faults.applied == ["timeout-before"]
    assert _cash(api, books) == "100.00"
    _books_hold(api, books, aws)


def test_timeout_after_commit_then_retry_replays_without_double_posting(api, books, faults, aws):
    faults.queue = ["timeout-after"]
    first = _post(api, books, "j-1", "100.00", "k-1")
    assert first.status == 503  # the caller cannot know the write landed ...
    assert _cash(api, books) == "100.00"  # ... but it did, exactly once
    retry = _post(api, books, "j-1", "100.00", "k-1")
    assert retry.status == 201 and retry.headers["idempotent-replayed"] == "true"
    assert retry.json["id"] == "j-1"
    assert _cash(api, books) == "100.00"
    _books_hold(api, books, aws)


def test_process_dying_between_claim_and_commit(api, books, aws):
    """A request claims its key and its process dies: retries get 409 until the lease ends,
    then the request runs exactly once."""
    from chalicelib.store import idempotency

    body = _journal("j-1", "100.00")
    fingerprint = _fingerprint(body)
    claim = idempotency.begin("acme", "k-1", fingerprint)
    assert isinstance(claim, idempotency.Claim)  # ... and then the process is gone
    blocked = api.call("POST", "/v1/ledger/journals", body, key=books["operator"], idem="k-1")
    assert blocked.status == 409 and blocked.json["type"].endswith(":idempotency-in-flight")
    aws["dynamodb"].update_item(TableName="test-idempotency", Key={"pk": {"S": claim.pk}},
                                UpdateExpression="SET lock_until = :past",
                                ExpressionAttributeValues={":past": {"N": "1"}})
    r = api.call("POST", "/v1/ledger/journals", body, key=books["operator"], idem="k-1")
    assert r.status == 201
    again = api.call("POST", "/v1/ledger/journals", body, key=books["operator"], idem="k-1")
    assert again.status == 201 and again.headers["idempotent-replayed"] == "true"
    assert _cash(api, books) == "100.00"
    _books_hold(api, books, aws)


def _fingerprint(body: dict) -> str:
    from chalicelib.api.http import request_fingerprint
    from chalicelib.api.ledger import JournalIn

    dumped = JournalIn.model_validate(body).model_dump(mode="json")
    return request_fingerprint("POST", "/v1/ledger/journals", dumped)


FAULTS = ["throttle", "conflict", "timeout-before", "timeout-after"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_fault_campaign_conserves_money(api, books, faults, aws, seed):
    """A client posting 15 journals through random faults, retrying each with its key until it
    gets an answer, ends with every journal posted exactly once."""
    rng = random.Random(seed)
    expected = 0
    for n in range(15):
        amount = rng.randint(1, 50_000)
        key, jid = str(uuid.uuid4()), f"j-{seed}-{n}"
        faults.queue = [rng.choice(FAULTS) for _ in range(rng.randint(0, 6))]
        for _attempt in range(10):
            r = _post(api, books, jid, f"{amount // 100}.{amount % 100:02d}", key)
            if r.status in (200, 201):
                break
            assert r.status in (409, 503), r.json
        else:
            pytest.fail(f"journal {jid} never succeeded")
        expected += amount
        faults.queue = []
    assert _cash(api, books) == f"{expected // 100}.{expected % 100:02d}"
    _books_hold(api, books, aws)
