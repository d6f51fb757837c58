"""Issue 15 through the API: costly CEL rules are refused at policy creation, and a stored one
that got past the check refers the application within its budget instead of hanging."""

from __future__ import annotations

import time

from chalicelib.lending.decision import FACT_SHAPES
from chalicelib.lending.rules import MAX_POLICY_COST, MAX_RULE_COST, estimated_cost
from chalicelib.services import decision_policies
from tests.cel_attacks import FOUR_LEVELS, THREE_LEVELS, nested_all
from tests.integration.origination.conftest import GOOD, application, make_product

BANDS = {"approve_from": 500, "decline_below": 400}
MARGIN_S = 2.0  # CPU seconds for the request's own work on a slow 2-core CI machine


def _rule(i: int, expression: str) -> dict[str, str]:
    return {"id": f"r{i}", "expression": expression, "reason_code": "R", "reason_text": "r"}


def _policies(api, key) -> list[dict]:
    r = api.call("GET", "/v1/decision-policies", key=key)
    assert r.status == 200
    return r.json["data"]


def test_the_issues_attacks_are_refused_naming_the_bound_and_their_cost(api, acme):
    rules = [_rule(0, "applicant.age >= 18"), _rule(1, FOUR_LEVELS), _rule(2, THREE_LEVELS)]
    start = time.process_time()
    r = api.call("POST", "/v1/decision-policies",
                 {"name": "p", "config": {"score_bands": BANDS, "rules": rules}},
                 key=acme["admin"])
    assert time.process_time() - start < MARGIN_S  # refused without running them
    assert r.status == 422, r.json
    got = {e["pointer"]: e for e in r.json["errors"]}
    assert set(got) == {"/body/config/rules/1/expression", "/body/config/rules/2/expression"}
    for i, attack in ((1, FOUR_LEVELS), (2, THREE_LEVELS)):
        error = got[f"/body/config/rules/{i}/expression"]
        assert error["code"] == "rule_too_costly"
        assert (f"estimated cost {estimated_cost(attack, FACT_SHAPES):,} exceeds the bound of "
                f"{MAX_RULE_COST:,} evaluation steps") in error["detail"]
    assert _policies(api, acme["reviewer"]) == []  # nothing written


def test_a_new_version_with_an_attack_is_refused_too(api, acme):
    created = api.call("POST", "/v1/decision-policies",
                       {"name": "p", "config": {"score_bands": BANDS}}, key=acme["admin"])
    assert created.status == 201
    r = api.call("POST", f"/v1/decision-policies/{created.json['id']}/versions",
                 {"config": {"score_bands": BANDS, "rules": [_rule(0, FOUR_LEVELS)]}},
                 key=acme["admin"])
    assert r.status == 422 and r.json["errors"][0]["code"] == "rule_too_costly"
    policy = api.call("GET", f"/v1/decision-policies/{created.json['id']}", key=acme["reviewer"])
    assert policy.json["current_version"] == 1


def test_many_rules_each_within_the_bound_cannot_add_up_past_the_policys(api, acme):
    heavy = nested_all(1, "[" + ",".join(["1"] * 60) + "]", "a + a + a + a > 0")
    each = estimated_cost(heavy, FACT_SHAPES)
    assert each <= MAX_RULE_COST and 50 * each > MAX_POLICY_COST
    rules = [_rule(i, heavy) for i in range(50)]
    r = api.call("POST", "/v1/decision-policies",
                 {"name": "p", "config": {"score_bands": BANDS, "rules": rules}},
                 key=acme["admin"])
    assert r.status == 422, r.json
    assert [(e["pointer"], e["code"]) for e in r.json["errors"]] == [
        ("/body/config/rules", "policy_too_costly")]
    assert f"estimated cost {50 * each:,} in total exceeds the policy's bound of " \
           f"{MAX_POLICY_COST:,} evaluation steps" in r.json["errors"][0]["detail"]
    assert _policies(api, acme["reviewer"]) == []
    fits = MAX_POLICY_COST // each
    r = api.call("POST", "/v1/decision-policies",
                 {"name": "p", "config": {"score_bands": BANDS, "rules": rules[:fits]}},
                 key=acme["admin"])
    assert r.status == 201, r.json


def test_a_stored_rule_past_the_check_refers_the_application_within_its_budget(
        api, acme, monkeypatch):
    # A rule stored before the bound existed: the creation check is bypassed for this policy.
    monkeypatch.setattr(decision_policies, "check", lambda *args: None)
    r = api.call("POST", "/v1/decision-policies", {"name": "old", "config": {
        "score_bands": BANDS, "rules": [_rule(0, "applicant.age >= 18"),
                                        _rule(1, THREE_LEVELS)]}}, key=acme["admin"])
    assert r.status == 201, r.json
    monkeypatch.undo()
    product = make_product(api, acme["admin"], references={"decision_policy_id": r.json["id"]})
    start = time.process_time()
    submitted = api.call("POST", "/v1/applications",
                         application(product["id"], characteristics=GOOD), key=acme["partner"])
    assert time.process_time() - start < MARGIN_S + 0.5  # the rule's CPU budget and margin
    assert submitted.status == 201, submitted.json
    decision = submitted.json["decision"]
    assert submitted.json["status"] == "referred" and decision["outcome"] == "refer"
    assert "rule r1 could not be evaluated: exceeded its evaluation budget (10,000 steps / " \
           "500 ms)" in decision["notes"]
