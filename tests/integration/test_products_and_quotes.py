"""Products, versions, quotes and the APR calculator through the API."""

from __future__ import annotations

import copy

import pytest

TERMS = {
    "currency": "CNY",
    "amount": {"min": "1000.00", "max": "50000.00"},
    "term": {"min": 3, "max": 24},
    "amortization": "equal_installments",
    "day_count": "30/360",
    "pricing": {"rate_percent": {"A": "10.2", "B": "12", "C": "12", "D": "18", "E": "24"},
                "max_amount": {"E": "5000.00"}},
    "apr_cap_percent": "36",
}


@pytest.fixture
def acme(api):
    api.tenant("acme")
    return {role: api.key("acme", role) for role in ("admin", "partner", "reviewer", "operator")}


def _product(api, key, terms=TERMS, name="Microloan"):
    r = api.call("POST", "/v1/products", {"name": name, "terms": terms}, key=key)
    assert r.status == 201, r.json
    return r.json


def _quote(api, key, product_id, amount="10000.00", term=12, grade="B", **extra):
    body = {"product_id": product_id, "amount": {"amount": amount, "currency": "CNY"},
            "term": term, "grade": grade, "disbursement_date": "2026-01-15", **extra}
    return api.call("POST", "/v1/quotes", body, key=key)


def test_worked_example_equal_installments_through_the_api(api, acme):
    product = _product(api, acme["admin"])
    r = _quote(api, acme["partner"], product["id"])
    assert r.status == 201, r.json
    q = r.json
    payments = [i["total"] for i in q["schedule"]["installments"]]
    assert payments[:11] == ["888.49"] * 11 and payments[11] == "888.47"
    assert q["total_interest"] == "661.86"
    assert q["apr"]["apr"] == "12.00" and q["eligible"] and q["status"] == "valid"
    stored = api.call("GET", f"/v1/quotes/{q['id']}", key=acme["reviewer"])
    assert stored.status == 200 and stored.json == q


def test_product_validation_explains_every_problem(api, acme):
    bad = copy.deepcopy(TERMS)
    bad["amount"] = {"min": "5000.00", "max": "1000.00"}
    bad["pricing"]["rate_percent"] = {"A": "10", "Z": "12"}
    bad["apr_cap_percent"] = "5"
    r = api.call("POST", "/v1/products", {"name": "Bad", "terms": bad}, key=acme["admin"])
    assert r.status == 422
    pointers = {e["pointer"] for e in r.json["errors"]}
    assert "/body/terms/amount/min" in pointers
    assert any(p.startswith("/body/terms/pricing/rate_percent") for p in pointers)


def test_cap_below_cheapest_grade_is_refused(api, acme):
    bad = copy.deepcopy(TERMS)
    bad["apr_cap_percent"] = "5"
    r = api.call("POST", "/v1/products", {"name": "Capped", "terms": bad}, key=acme["admin"])
    assert r.status == 422
    assert any("cap" in e["detail"].lower() or "apr" in e["detail"].lower()
               for e in r.json["errors"])


def test_quote_outside_rules_and_cap_is_refused_with_figures(api, acme, aws):
    product = _product(api, acme["admin"])
    over_limit = _quote(api, acme["partner"], product["id"], amount="8000.00", grade="E")
    assert over_limit.status == 422 and over_limit.json["type"].endswith(":quote-refused")
    assert "5000.00" in str(over_limit.json["refusals"])
    # A flat fee makes small short loans dear: allowed at 24 months, above the cap at 3.
    capped = copy.deepcopy(TERMS)
    capped["fees"] = {"origination": {"flat": "100.00"}}
    tight = _product(api, acme["admin"], capped, "Tight")
    r = _quote(api, acme["partner"], tight["id"], amount="1000.00", term=3, grade="E")
    assert r.status == 422 and r.json["within_cap"] is False and r.json["within_rules"] is True
    assert float(r.json["apr"]["apr"]) > 36  # the figure behind the refusal is disclosed
    assert "exceeds the product's cap of 36%" in r.json["refusals"][0]["msg"]
    quotes = aws["dynamodb"].scan(ConsistentRead=True, TableName="test-main",
                                  FilterExpression="begins_with(pk, :p)",
                                  ExpressionAttributeValues={":p": {"S": "acme#quote#"}})
    assert quotes["Count"] == 0  # refused quotes are not stored
    assert _quote(api, acme["partner"], tight["id"], amount="5000.00", term=24,
                  grade="E").status == 201


def test_unknown_grade_and_currency_mismatch_are_422(api, acme):
    product = _product(api, acme["admin"])
    r = _quote(api, acme["partner"], product["id"], grade="Q")
    assert r.status == 422 and r.json["errors"][0]["pointer"] == "/body/grade"
    body = {"product_id": product["id"], "amount": {"amount": "10000.00", "currency": "USD"},
            "term": 12, "grade": "B", "disbursement_date": "2026-01-15"}
    r = api.call("POST", "/v1/quotes", body, key=acme["partner"])
    assert r.status == 422 and r.json["errors"][0]["pointer"] == "/body/amount/currency"


def test_money_as_json_number_is_refused(api, acme):
    product = _product(api, acme["admin"])
    body = {"product_id": product["id"], "amount": {"amount": 10000.0, "currency": "CNY"},
            "term": 12, "grade": "B", "disbursement_date": "2026-01-15"}
    r = api.call("POST", "/v1/quotes", body, key=acme["partner"])
    assert r.status == 422 and r.json["errors"][0]["pointer"] == "/body/amount/amount"


def test_versions_are_immutable_and_quotes_keep_theirs(api, acme):
    product = _product(api, acme["admin"])
    v1_quote = _quote(api, acme["partner"], product["id"]).json
    cheaper = copy.deepcopy(TERMS)
    cheaper["pricing"]["rate_percent"]["B"] = "9"
    r = api.call("POST", f"/v1/products/{product['id']}/versions", {"terms": cheaper},
                 key=acme["admin"])
    assert r.status == 201 and r.json["current_version"] == 2
    v1 = api.call("GET", f"/v1/products/{product['id']}?version=1", key=acme["partner"]).json
    assert v1["terms"]["pricing"]["rate_percent"]["B"] == "12"
    v2_quote = _quote(api, acme["partner"], product["id"]).json
    assert (v1_quote["product_version"], v2_quote["product_version"]) == (1, 2)
    assert v2_quote["apr"]["apr"] == "9.00"
    old = _quote(api, acme["partner"], product["id"], product_version=1).json
    assert old["apr"]["apr"] == "12.00"
    assert api.call("GET", f"/v1/products/{product['id']}?version=3",
                    key=acme["partner"]).status == 404


def test_retired_products_stop_quoting_and_listing_filters(api, acme):
    a = _product(api, acme["admin"], name="A")
    b = _product(api, acme["admin"], name="B")
    r = api.call("POST", f"/v1/products/{a['id']}/retire", key=acme["admin"])
    assert r.status == 200 and r.json["status"] == "retired"
    assert _quote(api, acme["partner"], a["id"]).status == 409
    active = api.call("GET", "/v1/products?status=active", key=acme["partner"]).json["data"]
    assert [p["id"] for p in active] == [b["id"]]
    every = api.call("GET", "/v1/products?limit=1", key=acme["partner"]).json
    assert len(every["data"]) == 1 and every["next_cursor"]
    trail = api.call("GET", f"/v1/audit/product/{a['id']}", key=acme["admin"]).json["data"]
    assert [t["action"] for t in trail] == ["product.created", "product.retired"]


def test_roles_and_tenants_for_products(api, acme):
    r = api.call("POST", "/v1/products", {"name": "X", "terms": TERMS}, key=acme["partner"])
    assert r.status == 403
    product = _product(api, acme["admin"])
    quote = _quote(api, acme["partner"], product["id"]).json
    api.tenant("acme-corp")
    other = api.key("acme-corp", "admin")
    for path in (f"/v1/products/{product['id']}", f"/v1/quotes/{quote['id']}"):
        assert api.call("GET", path, key=other).status == 404
    assert api.call("GET", "/v1/products", key=other).json["data"] == []
    assert _quote(api, other, product["id"]).status == 404
    assert api.call("POST", f"/v1/products/{product['id']}/versions", {"terms": TERMS},
                    key=other).status == 404


def test_apr_endpoint_flat_loan_and_errors(api, acme):
    # 10,000 flat 12% over 12 months: 1,200 interest, 12 payments of 933.33 (last 933.37).
    payments = [{"date": f"2026-{m:02d}-15", "amount": "933.33"} for m in range(2, 13)]
    payments.append({"date": "2027-01-15", "amount": "933.37"})
    body = {"method": "us_reg_z", "advances": [{"date": "2026-01-15", "amount": "10000.00"}],
            "payments": payments}
    r = api.call("POST", "/v1/apr", body, key=acme["reviewer"])
    assert r.status == 200 and r.json["apr"] == "21.46" and r.json["unit_period"] == "month"
    irr = api.call("POST", "/v1/apr", {**body, "method": "irr"}, key=acme["partner"])
    assert irr.status == 200 and float(irr.json["apr"]) > 21.46  # effective > nominal
    for bad, pointer in [
        ({**body, "method": "rule_of_78"}, "/body/method"),
        ({**body, "payments": [{"date": "2026-01-01", "amount": 933.33}]},
         "/body/payments/0/amount"),
        ({**body, "payments": [{"date": "2025-12-01", "amount": "1.00"}]}, "/body/payments/0/date"),
        ({**body, "payments": []}, "/body/payments"),
        ({**body, "payments": [payments[0]] * 1201}, "/body/payments"),
    ]:
        r = api.call("POST", "/v1/apr", bad, key=acme["partner"])
        assert r.status == 422, bad
        assert r.json["errors"][0]["pointer"] == pointer, r.json["errors"]


def test_quote_by_score_uses_the_grade_bands(api, acme):
    product = _product(api, acme["admin"])
    body = {"product_id": product["id"], "amount": {"amount": "10000.00", "currency": "CNY"},
            "term": 12, "score": 565, "disbursement_date": "2026-01-15"}
    r = api.call("POST", "/v1/quotes", body, key=acme["partner"])
    assert r.status == 201 and r.json["grade"] == "A" and r.json["annual_rate_percent"] == "10.2"
    both = api.call("POST", "/v1/quotes", {**body, "grade": "B"}, key=acme["partner"])
    neither = api.call("POST", "/v1/quotes", {k: v for k, v in body.items() if k != "score"},
                       key=acme["partner"])
    assert both.status == neither.status == 422


def test_a_product_and_its_new_version_quote_at_once_on_lagging_reads(api, acme):
    """Immutable items are read consistently: a version 2 s old on a lagging read is found."""
    from tests.lag import lag

    with lag(index_ms=2000, base_ms=2000):
        product = _product(api, acme["admin"])
        first = _quote(api, acme["partner"], product["id"])
        assert first.status == 201 and first.json["product_version"] == 1, first.json
        stored = api.call("GET", f"/v1/quotes/{first.json['id']}", key=acme["reviewer"])
        assert stored.status == 200 and stored.json == first.json
        cheaper = copy.deepcopy(TERMS)
        cheaper["pricing"]["rate_percent"]["B"] = "9"
        r = api.call("POST", f"/v1/products/{product['id']}/versions", {"terms": cheaper},
                     key=acme["admin"])
        assert r.status == 201, r.json
        second = _quote(api, acme["partner"], product["id"])
        assert second.status == 201 and second.json["product_version"] == 2, second.json
        assert second.json["apr"]["apr"] == "9.00"
