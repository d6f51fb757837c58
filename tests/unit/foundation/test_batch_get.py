"""store.batch.get_many: one BatchGetItem per 100 keys across tables, unprocessed keys asked
for again, duplicates read once, consistent always."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.errors import DomainError
from chalicelib.store import batch


class FakeClient:
    """Answers from `rows`; leaves the first key of the first request unprocessed once."""

    def __init__(self, rows: dict[tuple[str, str, str], dict[str, Any]]) -> None:
        self.rows, self.requests = rows, []
        self.throttled = False

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(RequestItems)
        responses: dict[str, list[dict[str, Any]]] = {}
        unprocessed: dict[str, Any] = {}
        for table, body in RequestItems.items():
            assert body["ConsistentRead"] is True and len(body["Keys"]) <= batch.MAX_KEYS
            for k in body["Keys"]:
                if not self.throttled:
                    self.throttled = True
                    unprocessed.setdefault(table, {"Keys": [], "ConsistentRead": True})[
                        "Keys"].append(k)
                    continue
                row = self.rows.get(batch.ref(table, k))
                if row is not None:
                    responses.setdefault(table, []).append(row)
        return {"Responses": responses, "UnprocessedKeys": unprocessed}


def _key(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": "s"}}


def test_reads_across_tables_in_batches_and_retries_the_unprocessed(monkeypatch):
    rows = {("a", f"p{i}", "s"): {**_key(f"p{i}"), "v": {"N": str(i)}} for i in range(150)}
    rows[("b", "q", "s")] = {**_key("q"), "v": {"N": "-1"}}
    fake = FakeClient(rows)
    monkeypatch.setattr(batch.dynamo, "client", lambda: fake)
    monkeypatch.setattr(batch.time, "sleep", lambda _s: None)
    wanted = [("a", _key(f"p{i}")) for i in range(150)] + [("b", _key("q")), ("b", _key("q")),
                                                           ("a", _key("missing"))]
    found = batch.get_many(wanted)
    assert set(found) == set(rows)  # the missing key is simply absent
    assert len(fake.requests) == 3  # 100 keys, their unprocessed one again, the other 52


def test_gives_up_loudly_when_dynamodb_keeps_throttling(monkeypatch):
    class Throttled:
        def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            return {"Responses": {}, "UnprocessedKeys": RequestItems}

    monkeypatch.setattr(batch.dynamo, "client", lambda: Throttled())
    monkeypatch.setattr(batch.time, "sleep", lambda _s: None)
    with pytest.raises(DomainError) as refused:
        batch.get_many([("a", _key("p"))])
    assert refused.value.kind == "service-unavailable"  # a 503, never a 500
