"""Applications through the API: decisions, offers, acceptance, validation, listing, access."""

from __future__ import annotations

import copy
import json
from datetime import date

from chalicelib.store.origination import get_application
from tests.integration.origination.conftest import (
    BAD,
    MID,
    application,
    make_policy,
    make_product,
    resident_id,
)


def submit(api, key, body, **kw):
    return api.call("POST", "/v1/applications", body, key=key, **kw)


def pointers(r):
    return {e["pointer"]: e["code"] for e in r.json["errors"]}


def test_approved_application_gets_an_offer_that_accepting_turns_into_a_loan(api, acme, product,
                                                                             aws):
    r = submit(api, acme["partner"], application(product["id"]))
    assert r.status == 201, r.json
    app = r.json
    assert app["status"] == "approved" and r.headers["location"].endswith(app["id"])
    assert [h["status"] for h in app["history"]] == ["submitted", "scored", "approved"]
    d = app["decision"]
    assert d["policy"] == {"id": "default", "version": 1} and d["model"]["id"] == "shipped"
    assert d["score"]["grade"] == app["offer"]["grade"] and len(d["score"]["reasons"]) == 4
    offer = app["offer"]
    assert offer["apr"]["apr"] and offer["schedule"]["installments"][-1]["outstanding_after"] \
        == "0.00" and offer["valid_until"] > d["decided_at"]
    assert app["applicant"]["national_id"]["number"].startswith("**************")

    accepted = api.call("POST", f"/v1/applications/{app['id']}/accept", key=acme["partner"])
    assert accepted.status == 201, accepted.json
    loan = accepted.json["loan"]
    assert loan["status"] == "pending_contract" and loan["principal"] == offer["amount"]
    assert accepted.json["application"]["status"] == "accepted"
    assert accepted.json["application"]["loan_id"] == loan["id"]
    raw = aws["dynamodb"].get_item(ConsistentRead=True, TableName="test-main", Key={
        "pk": {"S": f"acme#loan#{loan['id']}"}, "sk": {"S": "loan"}})["Item"]
    assert raw["principal"] == {"N": "1000000"} and raw["status"]["S"] == "pending_contract"
    assert json.loads(raw["schedule"]["S"]) == offer["schedule"]
    # accepted is final: no withdraw, no second loan
    again = api.call("POST", f"/v1/applications/{app['id']}/withdraw", key=acme["partner"])
    assert again.status == 409
    # the audit chain of the application and the loan verify
    v = api.call("POST", "/v1/audit/verify", key=acme["admin"])
    assert v.status == 200 and v.json["ok"], v.json


def test_declines_carry_principal_reasons(api, acme, product):
    r = submit(api, acme["partner"], application(product["id"], characteristics=BAD))
    assert r.status == 201 and r.json["status"] == "declined"
    reasons = r.json["decision"]["reasons"]
    assert 1 <= len(reasons) <= 4 and all(x["source"] == "score" and x["text"] for x in reasons)
    assert r.json["offer"] is None
    accept = api.call("POST", f"/v1/applications/{r.json['id']}/accept", key=acme["partner"])
    assert accept.status == 409


def test_every_format_problem_at_once(api, acme, product):
    body = application(product["id"])
    body["applicant"]["national_id"]["number"] = resident_id(date(1985, 6, 15))[:17] + (
        "0" if resident_id(date(1985, 6, 15))[17] != "0" else "1")
    body["applicant"]["phone"] = "12345678901"
    body["applicant"]["name"] = " "
    body["amount"] = {"amount": "10.001", "currency": "CNY"}
    body["consents"] = {"credit_check": False, "data_processing": True}
    body["purpose"] = "Not A Code"
    body["channel"] = {"type": "carrier-pigeon"}
    body["applicant"]["address"] = {"region": "beijing"}
    body["role"] = "admin"
    r = submit(api, acme["partner"], body)
    assert r.status == 422
    got = pointers(r)
    for expected in ("/body/applicant/national_id/number", "/body/applicant/phone",
                     "/body/applicant/name", "/body/amount/amount",
                     "/body/consents/credit_check", "/body/purpose", "/body/channel/type",
                     "/body/applicant/address/region", "/body/role"):
        assert expected in got, (expected, got)
    assert got["/body/applicant/national_id/number"] == "check_digit"
    assert "1985" not in r.body.decode() and "13812345678" not in r.body.decode()


def test_birth_date_must_agree_with_the_id_and_ids_are_checked(api, acme, product):
    body = application(product["id"])
    body["applicant"]["date_of_birth"] = "1985-06-16"
    r = submit(api, acme["partner"], body)
    assert pointers(r) == {"/body/applicant/date_of_birth": "birth_date_mismatch"}
    for number, code in (("110105198502300012", "invalid_birth_date"),
                         ("110105850615123", "legacy_id"), ("ABC", "invalid_format")):
        body = application(product["id"])
        body["applicant"]["national_id"]["number"] = number
        r = submit(api, acme["partner"], body)
        assert pointers(r)["/body/applicant/national_id/number"] == code, (number, r.json)
    passport = application(product["id"])
    passport["applicant"]["national_id"] = {"type": "passport", "number": "E12345678"}
    assert submit(api, acme["partner"], passport).status == 201


def test_every_business_problem_at_once(api, acme, product):
    body = application(product["id"], amount="60000.00", term=36, born=date(2010, 1, 1),
                       characteristics={**BAD, "housing": "castle", "savings": 5})
    r = submit(api, acme["partner"], body)
    assert r.status == 422, r.json
    got = pointers(r)
    assert got["/body/amount"] == "amount_out_of_range"
    assert got["/body/term"] == "term_out_of_range"
    assert got["/body/applicant/date_of_birth"] == "age_below_min"
    assert "/body/applicant/characteristics/housing" in got
    assert "/body/applicant/characteristics/savings" in got
    missing = {k: v for k, v in BAD.items() if k != "checking_account"}
    r = submit(api, acme["partner"], application(product["id"], characteristics=missing))
    assert pointers(r) == {"/body/applicant/characteristics/checking_account": "missing"}
    old = application(product["id"], born=date(1940, 1, 1))
    assert pointers(submit(api, acme["partner"], old)) == {
        "/body/applicant/date_of_birth": "age_above_max"}
    usd = application(product["id"])
    usd["amount"] = {"amount": "100.00", "currency": "USD"}
    assert "/body/amount/currency" in pointers(submit(api, acme["partner"], usd))
    # a derived input outside the model's range is clamped, never refused: 50,000 is fine
    assert submit(api, acme["partner"], application(product["id"], amount="50000.00")).status \
        == 201


def test_unknown_or_retired_product_and_broken_references(api, acme, product):
    r = submit(api, acme["partner"], application("prod_0000000000000000"))
    assert r.status == 404
    assert api.call("POST", f"/v1/products/{product['id']}/retire", key=acme["admin"]).status \
        == 200
    assert submit(api, acme["partner"], application(product["id"])).status == 409
    dangling = make_product(api, acme["admin"], references={
        "decision_policy_id": "pol_0000000000000000"})
    r = submit(api, acme["partner"], application(dangling["id"]))
    assert r.status == 409 and "pol_0000000000000000" in r.json["detail"]
    no_model = make_product(api, acme["admin"], references={
        "scoring_model_id": "mdl_0000000000000000"})
    r = submit(api, acme["partner"], application(no_model["id"]))
    assert r.status == 409 and "mdl_0000000000000000" in r.json["detail"]


def test_duplicates_feed_the_rules_within_the_tenant_only(api, acme, product):
    policy = make_policy(api, acme["admin"], rules=[{
        "id": "one_at_a_time", "expression": "duplicates.open_applications == 0 && "
        "duplicates.active_loans == 0", "reason_code": "DUPLICATE",
        "reason_text": "You already have an application or loan with us."}])
    guarded = make_product(api, acme["admin"],
                           references={"decision_policy_id": policy["id"]})
    first = submit(api, acme["partner"], application(guarded["id"]))
    assert first.json["status"] == "approved", first.json
    assert first.json["decision"]["facts"]["duplicates"]["open_applications"] == 0
    recorded = get_application("acme", first.json["id"])
    assert recorded is not None  # the typed facts drop nothing the decision recorded
    assert first.json["decision"]["facts"] == json.loads(recorded.decision or "{}")["facts"]
    # the same person, ID written differently, is found by the blind index
    body = application(guarded["id"])
    number = body["applicant"]["national_id"]["number"]
    body["applicant"]["national_id"]["number"] = f"{number[:6]} {number[6:14]} {number[14:]}"
    second = submit(api, acme["partner"], body)
    assert second.json["status"] == "declined"
    assert second.json["decision"]["facts"]["duplicates"]["open_applications"] == 1
    assert second.json["decision"]["reasons"][0]["code"] == "DUPLICATE"
    # withdrawn no longer counts; an accepted offer counts as an active loan
    assert api.call("POST", f"/v1/applications/{first.json['id']}/withdraw",
                    key=acme["partner"]).json["status"] == "withdrawn"
    third = submit(api, acme["partner"], application(guarded["id"]))
    assert third.json["status"] == "approved"
    api.call("POST", f"/v1/applications/{third.json['id']}/accept", key=acme["partner"])
    fourth = submit(api, acme["partner"], application(guarded["id"]))
    assert fourth.json["decision"]["facts"]["duplicates"] == {
        "open_applications": 0, "active_loans": 1, "applications_30d": 3, "declined_30d": 1}
    # another tenant's borrower index is separate
    api.tenant("globex")
    admin, partner = api.key("globex", "admin"), api.key("globex", "partner")
    other = make_product(api, admin)
    there = submit(api, partner, application(other["id"]))
    assert there.json["decision"]["facts"]["duplicates"]["applications_30d"] == 0


def test_two_simultaneous_applications_of_one_borrower_cannot_both_miss_each_other(
        api, acme, product, monkeypatch):
    """The interleaving of a race: the second submission read the borrower's index before the
    first committed. The fence makes it a 409 that changes nothing; retried, it sees the first."""
    from chalicelib.store import origination

    first = submit(api, acme["partner"], application(product["id"]))
    assert first.status == 201
    real = origination.borrower_links
    monkeypatch.setattr(origination, "borrower_links", lambda t, b: ([], 0))  # the stale read
    before = api.call("GET", "/v1/applications", key=acme["operator"]).json["data"]
    raced = submit(api, acme["partner"], application(product["id"]))
    assert raced.status == 409 and "same borrower" in raced.json["detail"], raced.json
    assert api.call("GET", "/v1/applications", key=acme["operator"]).json["data"] == before
    monkeypatch.setattr(origination, "borrower_links", real)
    retried = submit(api, acme["partner"], application(product["id"]))
    assert retried.status == 201
    assert retried.json["decision"]["facts"]["duplicates"]["open_applications"] == 1


def test_listing_by_status_with_pages_and_withdrawal(api, acme, product):
    ids = {}
    for n, (profile, serial) in enumerate(((None, "101"), (BAD, "102"), (MID, "103"),
                                           (None, "104"), (None, "105"))):
        r = submit(api, acme["partner"], application(product["id"], serial=serial,
                                                     characteristics=profile))
        ids.setdefault(r.json["status"], []).append(r.json["id"])
        assert r.status == 201, (n, r.json)
    assert len(ids["approved"]) == 3
    seen, cursor = [], None
    while True:
        q = "/v1/applications?status=approved&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.call("GET", q, key=acme["operator"])
        assert page.status == 200
        seen += [a["id"] for a in page.json["data"]]
        cursor = page.json["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids["approved"])
    everything = api.call("GET", "/v1/applications?limit=100", key=acme["reviewer"]).json
    assert len(everything["data"]) == 5
    bad = api.call("GET", "/v1/applications?status=approved&cursor=" + "x" * 20,
                   key=acme["partner"])
    assert bad.status == 400
    assert api.call("GET", "/v1/applications?status=bogus", key=acme["partner"]).status == 422
    withdrawn = api.call("POST", f"/v1/applications/{ids['approved'][0]}/withdraw",
                         key=acme["partner"])
    assert withdrawn.status == 200 and withdrawn.json["status"] == "withdrawn"
    listed = api.call("GET", "/v1/applications?status=withdrawn", key=acme["partner"]).json
    assert [a["id"] for a in listed["data"]] == [ids["approved"][0]]
    declined = ids["declined"][0] if "declined" in ids else None
    if declined:
        assert api.call("POST", f"/v1/applications/{declined}/withdraw",
                        key=acme["partner"]).status == 409


def test_idempotent_submission_replays_and_never_double_creates(api, acme, product):
    body = application(product["id"])
    first = submit(api, acme["partner"], body, idem="same-key")
    again = submit(api, acme["partner"], body, idem="same-key")
    assert again.status == 201 and again.headers.get("idempotent-replayed") == "true"
    assert again.json["id"] == first.json["id"]
    changed = copy.deepcopy(body)
    changed["term"] = 6
    assert submit(api, acme["partner"], changed, idem="same-key").status == 422
    listed = api.call("GET", "/v1/applications", key=acme["partner"]).json["data"]
    assert len(listed) == 1


def test_roles(api, acme, product):
    body = application(product["id"])
    for role in ("reviewer", "operator"):
        assert submit(api, acme[role], body).status == 403
    r = submit(api, acme["partner"], body)
    app_id = r.json["id"]
    for role in ("reviewer", "operator"):
        assert api.call("POST", f"/v1/applications/{app_id}/accept", key=acme[role]).status \
            == 403
        assert api.call("POST", f"/v1/applications/{app_id}/withdraw",
                        key=acme[role]).status == 403
    assert api.call("POST", f"/v1/applications/{app_id}/review",
                    {"decision": "approve", "comment": "ok"}, key=acme["partner"]).status == 403
    assert api.call("GET", "/v1/reviews", key=acme["partner"]).status == 403
    assert api.call("POST", "/v1/decision-policies", {"name": "x", "config": {
        "score_bands": {"approve_from": 1, "decline_below": 0}}}, key=acme["partner"]).status \
        == 403
    assert api.call("POST", "/v1/models", {"name": "x", "card": {}, "model_base64": "AAAA"},
                    key=acme["partner"]).status == 403
    assert api.call("POST", "/v1/score", {"features": {}}, key=acme["operator"]).status == 403
    assert api.call("GET", f"/v1/applications/{app_id}").status == 401


def test_every_id_taking_endpoint_is_a_404_for_another_tenant(api, acme, product):
    app_id = submit(api, acme["partner"], application(product["id"],
                                                      characteristics=MID)).json["id"]
    policy = make_policy(api, acme["admin"])
    from tests.integration.origination.test_models import upload
    model = upload(api, acme["admin"]).json
    api.tenant("globex")
    g = {role: api.key("globex", role) for role in ("admin", "partner", "reviewer")}
    calls = [
        ("GET", f"/v1/applications/{app_id}", None, "partner"),
        ("POST", f"/v1/applications/{app_id}/withdraw", None, "partner"),
        ("POST", f"/v1/applications/{app_id}/accept", None, "partner"),
        ("POST", f"/v1/applications/{app_id}/review", {"decision": "approve",
                                                       "comment": "x"}, "reviewer"),
        ("GET", f"/v1/decision-policies/{policy['id']}", None, "admin"),
        ("POST", f"/v1/decision-policies/{policy['id']}/versions", {"config": {
            "score_bands": {"approve_from": 1, "decline_below": 0}}}, "admin"),
        ("GET", f"/v1/models/{model['id']}", None, "admin"),
        ("POST", f"/v1/models/{model['id']}/versions/1/activate", None, "admin"),
        ("POST", "/v1/score", {"model_id": model["id"], "version": "1",
                               "features": {}}, "partner"),
    ]
    for method, path, body, role in calls:
        r = api.call(method, path, body, key=g[role])
        assert r.status == 404, (method, path, r.json)
        assert r.json["detail"].endswith("not found")
    assert api.call("GET", "/v1/applications", key=g["partner"]).json["data"] == []
    assert api.call("GET", "/v1/reviews", key=g["reviewer"]).json["data"] == []
    assert [m["id"] for m in api.call("GET", "/v1/models", key=g["admin"]).json["data"]] == [
        "shipped"]
    assert api.call("GET", "/v1/decision-policies", key=g["admin"]).json["data"] == []


def test_a_lapsed_offer_is_expired_and_cannot_be_accepted(api, acme, product, aws):
    app_id = submit(api, acme["partner"], application(product["id"])).json["id"]
    live = submit(api, acme["partner"], application(product["id"], serial="777")).json["id"]
    aws["dynamodb"].update_item(
        TableName="test-main",
        Key={"pk": {"S": f"acme#application#{app_id}"}, "sk": {"S": "application"}},
        UpdateExpression="SET offer_valid_until = :t",
        ExpressionAttributeValues={":t": {"S": "2020-01-01T00:00:00.000000+0000"}})
    assert api.call("GET", f"/v1/applications/{app_id}",
                    key=acme["partner"]).json["status"] == "expired"
    r = api.call("POST", f"/v1/applications/{app_id}/accept", key=acme["partner"])
    assert r.status == 409 and r.json["type"].endswith("offer-expired")
    expired = api.call("GET", "/v1/applications?status=expired", key=acme["partner"]).json
    approved = api.call("GET", "/v1/applications?status=approved", key=acme["partner"]).json
    assert [a["id"] for a in expired["data"]] == [app_id]
    assert [a["id"] for a in approved["data"]] == [live]


def test_format_and_product_problems_arrive_in_one_answer(api, acme, product):
    """A bad check digit does not hide the amount, term and age problems behind it."""
    young = date(2015, 1, 1)
    body = application(product["id"], amount="9999999.00", term=999, born=young)
    good = resident_id(young)
    body["applicant"]["national_id"]["number"] = good[:17] + ("0" if good[17] != "0" else "1")
    r = submit(api, acme["partner"], body)
    assert r.status == 422
    got = pointers(r)
    assert got["/body/applicant/national_id/number"] == "check_digit"
    assert got["/body/amount"] == "amount_out_of_range"
    assert got["/body/term"] == "term_out_of_range"
    assert got["/body/applicant/date_of_birth"] == "age_below_min"
