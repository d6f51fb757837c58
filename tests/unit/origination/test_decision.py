"""Decisions (rules, bands, auto-approval cap) and the champion/challenger split."""

from __future__ import annotations

import copy

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.lending import application_states as states
from chalicelib.lending.decision import (
    SAMPLE_FACTS,
    Challenger,
    PolicyConfig,
    bucket,
    decide,
    uses_challenger,
)

REASONS = [{"code": "CHK", "text": "Your checking account"},
           {"code": "SAV", "text": "Your savings"}]


def policy(**extra):
    return PolicyConfig.model_validate(
        {"score_bands": {"approve_from": 540, "decline_below": 500}, **extra})


def facts(score=560, **applicant):
    f = copy.deepcopy(SAMPLE_FACTS)
    f["score"]["score"] = score
    f["applicant"].update(applicant)
    return f


RULE = {"id": "adult", "expression": "applicant.age >= 21", "reason_code": "AGE",
        "reason_text": "You must be 21 or older."}


def test_bands():
    p = policy()
    assert decide(p, facts(540), 100, REASONS).outcome == "approve"
    assert decide(p, facts(539), 100, REASONS).outcome == "refer"
    assert decide(p, facts(500), 100, REASONS).outcome == "refer"
    declined = decide(p, facts(499), 100, REASONS)
    assert declined.outcome == "decline"
    assert [r.code for r in declined.reasons] == ["CHK", "SAV"]


def test_failed_rule_declines_with_its_reason_first_and_the_score_reasons():
    d = decide(policy(rules=[RULE]), facts(600, age=20), 100, REASONS)
    assert d.outcome == "decline"
    assert [r.code for r in d.reasons] == ["AGE", "CHK", "SAV"]
    assert d.as_dict()["rules"] == [{"id": "adult", "expression": "applicant.age >= 21",
                                     "passed": False, "error": None}]


def test_rule_that_cannot_be_evaluated_refers_and_says_why():
    broken = {**RULE, "id": "broken", "expression": "applicant.nothing > 1"}
    d = decide(policy(rules=[RULE, broken]), facts(600), 100, REASONS)
    assert d.outcome == "refer" and "broken" in d.notes[0]
    assert [x["passed"] for x in d.as_dict()["rules"]] == [True, None]


def test_a_failed_rule_outweighs_an_unevaluable_one():
    broken = {**RULE, "id": "broken", "expression": "applicant.nothing > 1"}
    d = decide(policy(rules=[RULE, broken]), facts(600, age=19), 100, REASONS)
    assert d.outcome == "decline"


def test_auto_approval_limit_refers_larger_amounts():
    p = policy(max_auto_approve={"amount": "20000.00", "currency": "CNY"})
    assert decide(p, facts(600), 2_000_000, REASONS).outcome == "approve"
    referred = decide(p, facts(600), 2_000_001, REASONS)
    assert referred.outcome == "refer" and "automatic approval limit" in referred.notes[0]


def test_bucket_is_stable_and_in_range():
    assert bucket("app_0123456789abcdef") == bucket("app_0123456789abcdef")
    assert all(0 <= bucket(f"app_{i:016x}") < 10_000 for i in range(1000))


def test_challenger_share_over_ten_thousand_ids_is_close_to_the_configured_share():
    for share in ("10", "25.5", "50"):
        units = Challenger(policy_id="pol_0123456789abcdef", share_percent=share).share_units
        chosen = sum(uses_challenger(f"app_{i:016x}", units) for i in range(10_000))
        assert abs(chosen - units) < 300, (share, chosen)  # ~3 standard deviations at 50%


@given(st.text(min_size=1, max_size=40), st.integers(0, 10_000), st.integers(0, 10_000))
def test_raising_the_share_never_moves_an_application_back_to_the_champion(app_id, a, b):
    lo, hi = min(a, b), max(a, b)
    assert not (uses_challenger(app_id, lo) and not uses_challenger(app_id, hi))


def test_share_parsing_and_extremes():
    def units(s):
        return Challenger(policy_id="pol_0123456789abcdef", share_percent=s).share_units
    assert (units("0"), units("12.5"), units("12.05"), units("100")) == (0, 1250, 1205, 10_000)
    assert not any(uses_challenger(f"a{i}", 0) for i in range(100))
    assert all(uses_challenger(f"a{i}", 10_000) for i in range(100))


def test_state_machine():
    assert states.can_move("referred", "approved")
    assert not states.can_move("declined", "approved")
    assert not states.can_move("accepted", "withdrawn")
    from datetime import UTC, datetime, timedelta
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert states.effective_status("approved", now - timedelta(seconds=1), now) == "expired"
    assert states.effective_status("approved", now, now) == "approved"
    assert states.is_open("referred", None, now) and not states.is_open("declined", None, now)
