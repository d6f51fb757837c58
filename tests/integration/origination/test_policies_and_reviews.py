"""Decision policies (validation, versions, champion/challenger) and the review queue."""

from __future__ import annotations

from tests.integration.origination.conftest import (
    GOOD,
    MID,
    application,
    make_policy,
    make_product,
)

BANDS = {"approve_from": 540, "decline_below": 500}


def test_policy_problems_are_all_reported_with_pointers(api, acme):
    config = {
        "score_bands": {"approve_from": 500, "decline_below": 540},
        "rules": [
            {"id": "ok", "expression": "applicant.age >= 18", "reason_code": "AGE",
             "reason_text": "Too young."},
            {"id": "typo", "expression": "applicant.agee >= 18", "reason_code": "AGE",
             "reason_text": "x"},
            {"id": "syntax", "expression": "score.pd <", "reason_code": "PD", "reason_text": "x"},
            {"id": "regex", "expression": "applicant.region.matches('(a+)+$')",
             "reason_code": "RX", "reason_text": "x"},
            {"id": "number", "expression": "score.score", "reason_code": "N", "reason_text": "x"},
        ],
    }
    r = api.call("POST", "/v1/decision-policies", {"name": "p", "config": config},
                 key=acme["admin"])
    assert r.status == 422  # the bands are a shape problem: reported before the rules
    assert {e["pointer"] for e in r.json["errors"]} == {
        "/body/config/score_bands/decline_below"}
    config["score_bands"] = BANDS
    config["challenger"] = {"policy_id": "pol_0000000000000000", "share_percent": "10"}
    r = api.call("POST", "/v1/decision-policies", {"name": "p", "config": config},
                 key=acme["admin"])
    assert r.status == 422
    got = {e["pointer"]: e["detail"] for e in r.json["errors"]}
    assert set(got) == {f"/body/config/rules/{i}/expression" for i in (1, 2, 3, 4)} | {
        "/body/config/challenger/policy_id"}
    assert "agee" in got["/body/config/rules/1/expression"]
    assert "syntax error" in got["/body/config/rules/2/expression"]
    assert "matches()" in got["/body/config/rules/3/expression"]
    assert "not a boolean" in got["/body/config/rules/4/expression"]
    long = {"score_bands": BANDS, "rules": [{"id": "long", "expression": "true" + " && true" * 200,
                                            "reason_code": "L", "reason_text": "x"}]}
    r = api.call("POST", "/v1/decision-policies", {"name": "p", "config": long},
                 key=acme["admin"])
    assert r.status == 422 and r.json["errors"][0]["pointer"] == \
        "/body/config/rules/0/expression"


def test_versions_and_currency_consistency(api, acme):
    policy = make_policy(api, acme["admin"])
    r = api.call("POST", f"/v1/decision-policies/{policy['id']}/versions", {"config": {
        "score_bands": {"approve_from": 600, "decline_below": 500},
        "max_auto_approve": {"amount": "100.00", "currency": "USD"}}}, key=acme["admin"])
    assert r.status == 201 and r.json["current_version"] == 2
    first = api.call("GET", f"/v1/decision-policies/{policy['id']}?version=1",
                     key=acme["reviewer"]).json
    assert first["config"]["score_bands"]["approve_from"] == 540
    self_challenge = api.call("POST", f"/v1/decision-policies/{policy['id']}/versions", {
        "config": {"score_bands": BANDS, "challenger": {"policy_id": policy["id"],
                                                         "share_percent": "5"}}},
        key=acme["admin"])
    assert self_challenge.status == 422
    product = make_product(api, acme["admin"], references={"decision_policy_id": policy["id"]})
    r = api.call("POST", "/v1/applications", application(product["id"]), key=acme["partner"])
    assert r.status == 409 and "USD" in r.json["detail"]


def test_champion_challenger_records_both_outcomes_and_is_stable(api, acme):
    strict = make_policy(api, acme["admin"],
                         score_bands={"approve_from": 700, "decline_below": 650})
    champion = make_policy(api, acme["admin"], challenger={"policy_id": strict["id"],
                                                           "share_percent": "50"})
    product = make_product(api, acme["admin"],
                           references={"decision_policy_id": champion["id"]})
    arms = {}
    for n in range(8):
        r = api.call("POST", "/v1/applications", application(product["id"], serial=f"{n:03d}"),
                     key=acme["partner"])
        d = r.json["decision"]
        arms.setdefault(d["arm"], []).append(r.json)
        assert d["alternate"]["arm"] != d["arm"]
        from chalicelib.lending.decision import bucket
        assert d["assignment"]["bucket"] == bucket(r.json["id"])
        assert (d["arm"] == "challenger") == (d["assignment"]["bucket"] < 5000)
    for app in arms.get("challenger", []):
        d = app["decision"]
        assert d["policy"]["id"] == strict["id"] and d["outcome"] == "decline"
        assert d["alternate"]["policy"]["id"] == champion["id"]
        assert d["alternate"]["outcome"] == "approve"
    for app in arms.get("champion", []):
        assert app["decision"]["alternate"]["outcome"] == "decline"
        assert app["status"] == "approved"
    assert arms  # with 8 ids, both arms appear unless the hash is badly skewed


def test_referral_and_four_eyes_review(api, acme):
    policy = make_policy(api, acme["admin"],
                         max_auto_approve={"amount": "20000.00", "currency": "CNY"},
                         review={"four_eyes_above": {"amount": "30000.00", "currency": "CNY"}})
    product = make_product(api, acme["admin"], references={"decision_policy_id": policy["id"]})
    big = api.call("POST", "/v1/applications", application(product["id"], amount="40000.00"),
                   key=acme["partner"]).json
    assert big["status"] == "referred", big["decision"]
    assert big["decision"]["required_approvals"] == 2 and big["offer"] is None
    assert "automatic approval limit" in big["decision"]["notes"][0]
    queue = api.call("GET", "/v1/reviews", key=acme["reviewer"]).json["data"]
    assert [a["id"] for a in queue] == [big["id"]] and queue[0]["required_approvals"] == 2

    path = f"/v1/applications/{big['id']}/review"
    first = api.call("POST", path, {"decision": "approve", "comment": "income verified"},
                     key=acme["reviewer"])
    assert first.status == 200 and first.json["status"] == "referred"
    same = api.call("POST", path, {"decision": "approve", "comment": "again"},
                    key=acme["reviewer"])
    assert same.status == 409 and same.json["required_approvals"] == 2
    second = api.call("POST", path, {"decision": "approve", "comment": "agreed"},
                      key=acme["reviewer2"])
    assert second.status == 200 and second.json["status"] == "approved"
    assert [r["verdict"] for r in second.json["reviews"]] == ["approve", "approve"]
    assert second.json["offer"]["amount"]["amount"] == "40000.00"
    assert api.call("GET", "/v1/reviews", key=acme["reviewer"]).json["data"] == []
    late = api.call("POST", path, {"decision": "decline", "comment": "late"},
                    key=acme["admin"])
    assert late.status == 409

    # one approval is enough at or below the four-eyes amount
    mid = api.call("POST", "/v1/applications", application(product["id"], amount="25000.00",
                                                           serial="222"),
                   key=acme["partner"]).json
    assert mid["status"] == "referred" and mid["decision"]["required_approvals"] == 1
    ok = api.call("POST", f"/v1/applications/{mid['id']}/review",
                  {"decision": "approve", "comment": "fine"}, key=acme["reviewer2"])
    assert ok.json["status"] == "approved"


def test_reviewers_never_review_their_own_and_declines_carry_reasons(api, acme):
    product = make_product(api, acme["admin"])
    body = application(product["id"], characteristics=MID, amount="2000.00")
    own = api.call("POST", "/v1/applications", body, key=acme["admin"]).json
    assert own["status"] == "referred" and own["submitted_by"]
    r = api.call("POST", f"/v1/applications/{own['id']}/review",
                 {"decision": "approve", "comment": "mine"}, key=acme["admin"])
    assert r.status == 403
    declined = api.call("POST", f"/v1/applications/{own['id']}/review",
                        {"decision": "decline", "comment": "thin file"}, key=acme["reviewer"])
    assert declined.status == 200 and declined.json["status"] == "declined"
    reasons = declined.json["decision"]["reasons"]
    assert reasons[0]["code"] == "MANUAL_REVIEW" and any(x["source"] == "score"
                                                          for x in reasons)
    approved = api.call("POST", "/v1/applications", application(
        product["id"], characteristics=GOOD, serial="999"), key=acme["partner"]).json
    r = api.call("POST", f"/v1/applications/{approved['id']}/review",
                 {"decision": "approve", "comment": "x"}, key=acme["reviewer"])
    assert r.status == 409  # only referred applications are reviewed
    bad = api.call("POST", f"/v1/applications/{approved['id']}/review",
                   {"decision": "maybe", "comment": ""}, key=acme["reviewer"])
    assert bad.status == 422 and len(bad.json["errors"]) == 2


def test_a_rule_that_fails_at_runtime_refers(api, acme):
    policy = make_policy(api, acme["admin"], rules=[{
        "id": "housing", "expression": "applicant.characteristics.housing == 'own' || "
        "applicant.characteristics.nothing == 1", "reason_code": "H", "reason_text": "x"}])
    product = make_product(api, acme["admin"], references={"decision_policy_id": policy["id"]})
    renter = application(product["id"], characteristics={**GOOD, "housing": "rent"})
    r = api.call("POST", "/v1/applications", renter, key=acme["partner"])
    assert r.status == 201 and r.json["status"] == "referred"
    rule = r.json["decision"]["rules"][0]
    assert rule["passed"] is None and "nothing" in rule["error"]
