"""One command = one DynamoDB transaction.

A request's state change, ledger items, audit record and idempotency record are gathered here
and committed once with TransactWriteItems. A cancelled transaction is turned back into the
precise error of the item that failed, and nothing is written.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError

from chalicelib.errors import DomainError, conflict
from chalicelib.store import dynamo

MAX_ITEMS = 100
CONFLICT_RETRIES = 4

Explain = Callable[[dict[str, Any]], Exception | None]


class TransactionPart(Protocol):
    """What other packages (the ledger) contribute: items plus a reader of their failures."""

    items: Sequence[dict[str, Any]]

    def explain(self, reasons: list[dict[str, Any]]) -> Exception | None: ...


@dataclass
class _ItemPart:
    items: list[dict[str, Any]]
    on_fail: Explain | None

    def explain(self, reasons: list[dict[str, Any]]) -> Exception | None:
        return self.on_fail(reasons[0]) if self.on_fail else None


@dataclass
class UnitOfWork:
    token_seed: str | None = None
    parts: list[TransactionPart] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def add(self, item: dict[str, Any], on_fail: Explain | None = None, *,
            first: bool = False) -> None:
        """Adds one TransactItems entry; on_fail explains its ConditionalCheckFailed. `first`
        puts it ahead of the others, so its explanation wins when several items fail."""
        self.parts.insert(0 if first else len(self.parts), _ItemPart([item], on_fail))

    def add_part(self, part: TransactionPart) -> None:
        self.parts.append(part)

    @property
    def items(self) -> list[dict[str, Any]]:
        return [item for part in self.parts for item in part.items]

    def commit(self) -> None:
        items = self.items
        if not items:
            return
        if len(items) > MAX_ITEMS:
            raise DomainError("transaction-too-large", f"{len(items)} items exceed {MAX_ITEMS}")
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                dynamo.client().transact_write_items(
                    TransactItems=items, ClientRequestToken=self._token(attempt)
                )
                break
            except ClientError as exc:
                if not self._retryable(exc) or attempt == CONFLICT_RETRIES:
                    raise self._translate(exc) from exc
                time.sleep(random.uniform(0, 0.02 * 2**attempt))
        for hook in self.after_commit:
            hook()

    def _token(self, attempt: int) -> str:
        # Same token for botocore's own retries of one attempt (the ambiguous-timeout case),
        # a fresh one for each of our attempts after a conflict.
        seed = self.token_seed or str(id(self))
        return hashlib.sha256(f"{seed}:{attempt}".encode()).hexdigest()[:36]

    @staticmethod
    def _retryable(exc: ClientError) -> bool:
        code = exc.response.get("Error", {}).get("Code")
        if code == "TransactionConflictException":
            return True
        if code != "TransactionCanceledException":
            return False
        reasons = exc.response.get("CancellationReasons") or []
        codes = {r.get("Code") for r in reasons}
        return "TransactionConflict" in codes and codes <= {"None", "TransactionConflict"}

    def _translate(self, exc: ClientError) -> Exception:
        code = exc.response.get("Error", {}).get("Code")
        if code == "TransactionCanceledException":
            reasons = exc.response.get("CancellationReasons") or []
            return self._explain(reasons) or conflict(
                "The resource was changed by another request; retry."
            )
        if code in ("TransactionConflictException", "TransactionInProgressException"):
            return conflict("A concurrent request is changing the same resource; retry.")
        if code == "IdempotentParameterMismatchException":
            return conflict("The same request token was used for a different transaction.")
        return exc

    def _explain(self, reasons: list[dict[str, Any]]) -> Exception | None:
        offset = 0
        for part in self.parts:
            mine = reasons[offset : offset + len(part.items)]
            offset += len(part.items)
            if any(r.get("Code") not in (None, "None") for r in mine):
                error = part.explain(mine)
                if error is not None:
                    return error
        return None


def put(table: str, item: dict[str, Any], condition: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, Any] | None = None) -> dict[str, Any]:
    """A low-level Put entry, optionally conditional."""
    body: dict[str, Any] = {"TableName": dynamo.table(table), "Item": item}
    if condition:
        body["ConditionExpression"] = condition
        body["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    if names:
        body["ExpressionAttributeNames"] = names
    if values:
        body["ExpressionAttributeValues"] = values
    return {"Put": body}


def put_aggregate(item: Any, expected_version: int | None) -> dict[str, Any]:
    """Puts a pynamodb aggregate guarded by its version (None = must not exist yet)."""
    if expected_version is None:
        return put("main", item.serialize(), "attribute_not_exists(pk)")
    return put(
        "main", item.serialize(), "#v = :v",
        names={"#v": "version"}, values={":v": {"N": str(expected_version)}},
    )


def check_failed(reason: dict[str, Any]) -> bool:
    return reason.get("Code") == "ConditionalCheckFailed"


def check_version(item: Any) -> dict[str, Any]:
    """A ConditionCheck that an aggregate we read is still at the version we read."""
    return {"ConditionCheck": {
        "TableName": dynamo.table("main"),
        "Key": {"pk": {"S": item.pk}, "sk": {"S": item.sk}},
        "ConditionExpression": "#v = :v",
        "ExpressionAttributeNames": {"#v": "version"},
        "ExpressionAttributeValues": {":v": {"N": str(item.version)}},
    }}
