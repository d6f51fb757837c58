"""Idempotency-Key records, scoped to the tenant.

A request first claims its key (an in-flight lock with a lease); its effect then commits in the
same transaction as the completion of that record, holding the response. A retry with the same
key and request gets the stored response; a different request under the key is refused; a retry
while the first is still running gets a 409. A failed request releases its claim: nothing
happened, so the client may retry under the same key.

Routes whose every effect is in their transaction may skip the separate claim
(`unclaimed` + `completion_put`): the record is created by the commit itself, conditioned on the
key being free (or its lease expired), so a request makes one write fewer. Two concurrent first
attempts then both run the handler and exactly one commits; the other is refused by the
record's condition and answers like a retry (the stored response, or 422 if the request
differs, or 409 while a claimed request is still in flight).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.errors import DomainError
from chalicelib.store import dynamo
from chalicelib.store.keys import key

RETENTION_SECONDS = 48 * 3600  # "at least 24 hours", with room for clock skew and TTL lag
LEASE_SECONDS = 60  # longer than the API's 29 s integration timeout


@dataclass(frozen=True)
class Claim:
    pk: str
    token: str
    fingerprint: str


@dataclass(frozen=True)
class Replay:
    status: int
    body: str
    headers: dict[str, str]


def _pk(tenant: str, idempotency_key: str) -> str:
    return key(tenant, "idem", idempotency_key)


def begin(tenant: str, idempotency_key: str, fingerprint: str) -> Claim | Replay:
    now = int(time.time())
    claim = Claim(_pk(tenant, idempotency_key), secrets.token_hex(16), fingerprint)
    try:
        dynamo.client().put_item(
            TableName=dynamo.table("idempotency"),
            Item={
                "pk": {"S": claim.pk},
                "status": {"S": "in_flight"},
                "token": {"S": claim.token},
                "fingerprint": {"S": fingerprint},
                "lock_until": {"N": str(now + LEASE_SECONDS)},
                "expires_at": {"N": str(now + RETENTION_SECONDS)},
            },
            ConditionExpression="attribute_not_exists(pk) OR (#s = :f AND lock_until < :now)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":f": {"S": "in_flight"}, ":now": {"N": str(now)}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return claim
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        existing = exc.response.get("Item") or _get(claim.pk)
    return _existing(existing, fingerprint)


def unclaimed(tenant: str, idempotency_key: str, fingerprint: str) -> Claim:
    """A claim that the commit itself takes (`completion_put`); nothing is written now."""
    return Claim(_pk(tenant, idempotency_key), secrets.token_hex(16), fingerprint)


class KeyTaken(Exception):
    """The commit was refused because the key already holds a record (carried, if returned)."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        super().__init__("idempotency key taken")
        self.item = item


def completion_put(claim: Claim, status: int, body: str,
                   headers: dict[str, str]) -> dict[str, Any]:
    """The completed record as a conditional Put joining the effect's transaction: it succeeds
    only if the key is free or holds an in-flight claim whose lease has run out."""
    now = int(time.time())
    return {
        "Put": {
            "TableName": dynamo.table("idempotency"),
            "Item": {
                "pk": {"S": claim.pk},
                "status": {"S": "completed"},
                "token": {"S": claim.token},
                "fingerprint": {"S": claim.fingerprint},
                "expires_at": {"N": str(now + RETENTION_SECONDS)},
                "response_status": {"N": str(status)},
                "response_body": {"S": body},
                "response_headers": {"S": json.dumps(headers, sort_keys=True)},
            },
            "ConditionExpression": "attribute_not_exists(pk) OR "
                                   "(#s = :f AND lock_until < :now)",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":f": {"S": "in_flight"}, ":now": {"N": str(now)}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def key_taken(reason: dict[str, Any]) -> KeyTaken | None:
    if reason.get("Code") != "ConditionalCheckFailed":
        return None  # a conflict: the unit of work retries or reports it
    return KeyTaken(reason.get("Item"))


def settle(claim: Claim, item: dict[str, Any] | None) -> Replay:
    """What a request whose commit found the key taken answers: the stored response, or the
    precise refusal (422 other request, 409 in flight)."""
    return _existing(item if item is not None else _get(claim.pk), claim.fingerprint)


def lookup(claim: Claim) -> Replay | None:
    """After a handler refused: the answer already stored under the key, if any (a retry of a
    request that succeeded must get its response, whatever the handler now thinks)."""
    item = dynamo.client().get_item(
        TableName=dynamo.table("idempotency"), Key={"pk": {"S": claim.pk}}, ConsistentRead=True
    ).get("Item")
    if item is None:
        return None
    if item["status"]["S"] != "completed" and int(item["lock_until"]["N"]) < int(time.time()):
        return None  # an abandoned claim: the key is free
    return _existing(item, claim.fingerprint)


def _get(pk: str) -> dict[str, Any]:
    item = dynamo.client().get_item(
        TableName=dynamo.table("idempotency"), Key={"pk": {"S": pk}}, ConsistentRead=True
    ).get("Item")
    if item is None:  # released between our put and this read: ask the client to retry
        raise DomainError("idempotency-in-flight", "The request under this key just finished "
                          "without effect; retry.")
    return item


def _existing(item: dict[str, Any], fingerprint: str) -> Replay:
    if item["fingerprint"]["S"] != fingerprint:
        raise DomainError(
            "idempotency-key-reused",
            "This Idempotency-Key was used with a different request.",
        )
    if item["status"]["S"] != "completed":
        raise DomainError(
            "idempotency-in-flight",
            "A request with this Idempotency-Key is still being processed.",
        )
    return Replay(
        int(item["response_status"]["N"]),
        item["response_body"]["S"],
        json.loads(item["response_headers"]["S"]),
    )


def complete_item(claim: Claim, status: int, body: str, headers: dict[str, str]) -> dict[str, Any]:
    """The Update that completes the claim; it joins the effect's transaction."""
    return {
        "Update": {
            "TableName": dynamo.table("idempotency"),
            "Key": {"pk": {"S": claim.pk}},
            "UpdateExpression": "SET #s = :c, response_status = :st, response_body = :b, "
            "response_headers = :h REMOVE lock_until",
            "ConditionExpression": "#s = :f AND #t = :t",
            "ExpressionAttributeNames": {"#s": "status", "#t": "token"},
            "ExpressionAttributeValues": {
                ":c": {"S": "completed"},
                ":f": {"S": "in_flight"},
                ":t": {"S": claim.token},
                ":st": {"N": str(status)},
                ":b": {"S": body},
                ":h": {"S": json.dumps(headers, sort_keys=True)},
            },
        }
    }


def lease_lost(_reason: dict[str, Any]) -> DomainError:
    return DomainError(
        "idempotency-in-flight",
        "This request outlived its Idempotency-Key lease and another attempt took over.",
    )


def release(claim: Claim) -> None:
    """Drops our in-flight claim after a failure so the client may retry (best effort)."""
    with contextlib.suppress(ClientError):  # the lease expires on its own
        dynamo.client().delete_item(
            TableName=dynamo.table("idempotency"),
            Key={"pk": {"S": claim.pk}},
            ConditionExpression="#s = :f AND #t = :t",
            ExpressionAttributeNames={"#s": "status", "#t": "token"},
            ExpressionAttributeValues={":f": {"S": "in_flight"}, ":t": {"S": claim.token}},
        )
