"""The largest inputs the API accepts fit DynamoDB's 400 KB item (issue 15), end to end.

The suite's DynamoDB refuses an item over 400 KB and a key over its limit as AWS does
(tests/dynamo_limits.py), so each 2xx here is one AWS would give too. A request can only grow
an item by what its body carries: a template's body (max_body 132 KB, however its characters
are encoded), a policy's rules (64 KB), an offer's schedule (the longest term); no item
accumulates a list that a tenant can extend without bound.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.api.http import ROUTES
from tests.dynamo_limits import ITEM_MAX, item_size
from tests.integration.origination.conftest import application, make_product

WIDE = "\U0001f4a9"  # 4 bytes in UTF-8
CJK = "\u4e2d"  # 3 bytes; a template may only hold what the shipped fonts draw (no emoji)


def _max_body(route: str) -> int:
    return next(r.max_body for r in ROUTES if f"{r.method} {r.path}" == route)


def _fill(body: dict[str, Any], route: str, place: Any, width: int = 4) -> dict[str, Any]:
    """`place(n)` puts n characters of `width` bytes in the body; the largest n that fits."""
    return place(body, (_max_body(route) - _size(place(body, 0))) // width)


def _size(body: Any) -> int:
    return len(_utf8(body))


def _utf8(body: Any) -> bytes:
    """The body as raw UTF-8 (4 bytes a character; JSON's \\u escapes would take 12)."""
    return json.dumps(body, ensure_ascii=False).encode()


def _largest_item(aws: dict[str, Any]) -> int:
    ddb = aws["dynamodb"]
    return max(item_size(item) for table in ddb.list_tables()["TableNames"]
               for page in ddb.get_paginator("scan").paginate(TableName=table)
               for item in page["Items"])


def test_a_template_of_max_body_in_cjk_is_stored_and_versioned(
        api: Any, aws: dict[str, Any], acme: dict[str, str]) -> None:
    route = "POST /v1/contract-templates"

    def place(body: dict[str, Any], n: int) -> dict[str, Any]:
        return {**body, "body": "# {{ contract_id }}\n" + CJK * n}

    body = _fill({"name": WIDE * 200}, route, place, 3)
    assert _size(body) > _max_body(route) - 3
    r = api.call("POST", "/v1/contract-templates", raw=_utf8(body), key=acme["admin"])
    assert r.status == 201, r.body[:300]
    template_id = r.json["id"]
    version = _fill({}, route, place, 3)
    r = api.call("POST", f"/v1/contract-templates/{template_id}/versions", raw=_utf8(version),
                 key=acme["admin"])
    assert r.status == 201, r.body[:300]
    r = api.call("GET", f"/v1/contract-templates/{template_id}?version=2", key=acme["admin"])
    assert r.status == 200 and r.json["body"] == version["body"]
    assert 130_000 < _largest_item(aws) < ITEM_MAX  # a version, or its replayable response
    over = {**version, "body": version["body"] + CJK}
    r = api.call("POST", f"/v1/contract-templates/{template_id}/versions", raw=_utf8(over),
                 key=acme["admin"])
    assert r.status == 413


@pytest.mark.parametrize("expression", [
    " && ".join(["applicant.age >= 18"] * 43),  # 50 rules of ~1,000 characters
    "applicant.age >= 18",  # room for 50 reason texts of 300 4-byte characters
], ids=["long-rules", "long-reasons"])
def test_a_policy_of_50_rules_at_max_body_is_stored(api: Any, aws: dict[str, Any],
                                                    acme: dict[str, str],
                                                    expression: str) -> None:
    """Stored as JSON with \\u escapes: a 4-byte character takes 12 bytes in the item."""
    route = "POST /v1/decision-policies"

    def place(body: dict[str, Any], n: int) -> dict[str, Any]:
        rules = [{"id": f"rule_{i}", "expression": expression, "reason_code": f"R{i}",
                  "reason_text": WIDE * min(300, 1 + n // 50)} for i in range(50)]
        return {**body, "config": {"score_bands": {"approve_from": 540, "decline_below": 500},
                                   "rules": rules}}

    body = _fill({"name": WIDE * 200}, route, place)
    texts = {len(rule["reason_text"]) for rule in body["config"]["rules"]}
    assert _size(body) > _max_body(route) - 50 * 4 or texts == {300}  # filled, or at max
    r = api.call("POST", "/v1/decision-policies", raw=_utf8(body), key=acme["admin"])
    assert r.status == 201, r.body[:300]
    r = api.call("GET", f"/v1/decision-policies/{r.json['id']}", key=acme["admin"])
    assert r.status == 200 and len(r.json["config"]["rules"]) == 50
    assert 60_000 < _largest_item(aws) < ITEM_MAX


def test_the_longest_term_quote_offer_and_loan_fit_their_items(
        api: Any, aws: dict[str, Any], acme: dict[str, str]) -> None:
    product = make_product(api, acme["admin"], term={"min": 3, "max": 1200},
                           amount={"min": "1000.00", "max": "9999999999999.99"},
                           pricing={"rate_percent": {"A": "10.2", "B": "12", "C": "14",
                                                     "D": "18", "E": "24"}})
    r = api.call("POST", "/v1/quotes", {
        "product_id": product["id"], "amount": {"amount": "9999999999999.99", "currency": "CNY"},
        "term": 1200, "grade": "A", "disbursement_date": "2026-01-15"}, key=acme["partner"])
    assert r.status == 201, r.body[:300]
    assert len(r.json["schedule"]["installments"]) == 1200
    r = api.call("POST", "/v1/applications", application(product["id"], term=1200),
                 key=acme["partner"])
    assert r.status == 201, r.body[:300]
    assert r.json["status"] == "approved", r.json["status"]
    r = api.call("POST", f"/v1/applications/{r.json['id']}/accept", key=acme["partner"])
    assert r.status == 201, r.body[:300]
    assert 150_000 < _largest_item(aws) < ITEM_MAX  # the offer's replayable response: ~220 KB
