"""Principal reasons: ranked by points lost against each characteristic's best attribute."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from chalicelib.scoring import Scorer
from chalicelib.scoring.reasons import MAX_REASONS, points_lost, principal_reasons
from chalicelib.scoring.scale import DEFAULT_SCALE
from tests.unit.scoring.conftest import RISKY, SAFE


def best_applicant(scorer: Scorer) -> dict[str, Any]:
    """Each characteristic at its best attribute, built from the card (not hard-coded)."""
    row: dict[str, Any] = {}
    for ch in scorer.card.scorecard:
        best = min(ch.attributes, key=lambda a: a.coefficient)
        if best.category is not None:
            row[ch.name] = best.category
        else:
            spec = scorer.card.input(ch.name)
            assert spec is not None and spec.minimum is not None and spec.maximum is not None
            row[ch.name] = int(max(best.lower or spec.minimum, spec.minimum))
    return row


def test_high_pd_applicant_gets_four_ranked_reasons(scorer: Scorer) -> None:
    r = scorer.score(RISKY)
    assert r.pd > 0.5 and len(r.reasons) == MAX_REASONS
    lost = [x.points_lost for x in r.reasons]
    assert lost == sorted(lost, reverse=True) and lost[-1] > 0
    # They are the four biggest losses, computed independently from the card's points column.
    row = scorer.validate(RISKY)
    by_points = []
    for ch in scorer.card.scorecard:
        mine = next(a for a in ch.attributes if a.matches(row[ch.name]))
        by_points.append((max(a.points for a in ch.attributes) - mine.points, ch.reason_code))
    expected = [code for _, code in sorted(by_points, reverse=True)[:4]]
    assert [x.code for x in r.reasons] == expected
    for reason, (pts, _) in zip(r.reasons, sorted(by_points, reverse=True), strict=False):
        assert abs(reason.points_lost - pts) < 0.02


def test_reason_text_and_attributes_are_readable(scorer: Scorer) -> None:
    first = scorer.score(RISKY).reasons[0]
    assert first.code == "CHK"
    assert first.text == "The balance and history of your checking account"
    assert first.attribute == "Overdrawn (balance below 0)"
    assert first.best_attribute == "No checking account"


def test_best_applicant_has_no_reasons_and_top_score(scorer: Scorer) -> None:
    best = best_applicant(scorer)
    r = scorer.score(best)
    assert r.reasons == ()
    assert all(pts == 0 for _, _, pts in points_lost(scorer.card.scorecard,
                                                     scorer.validate(best), DEFAULT_SCALE))
    assert r.score >= scorer.score(SAFE).score


def test_changing_one_characteristic_makes_it_the_only_reason(scorer: Scorer) -> None:
    best = best_applicant(scorer)
    r = scorer.score({**best, "duration_months": 60})
    assert [x.code for x in r.reasons] == ["DUR"]
    assert r.reasons[0].attribute == "36 months or more"


def test_limit_and_stable_tie_order(scorer: Scorer) -> None:
    row = scorer.validate(RISKY)
    two = principal_reasons(scorer.card.scorecard, row, DEFAULT_SCALE, limit=2)
    assert [x.code for x in two] == [x.code for x in scorer.score(RISKY).reasons[:2]]
    assert principal_reasons(scorer.card.scorecard, row, DEFAULT_SCALE, limit=0) == ()


def test_numeric_bin_edges_are_half_open(scorer: Scorer) -> None:
    best = best_applicant(scorer)
    below = scorer.score({**best, "duration_months": 11})
    at_edge = scorer.score({**best, "duration_months": 12})
    assert below.reasons == ()
    assert [x.attribute for x in at_edge.reasons] == ["12 to under 24 months"]
    assert at_edge.pd > below.pd


@pytest.mark.parametrize("features", [RISKY, SAFE, {**SAFE, "checking_account": "low_balance",
                                                     "duration_months": 30, "age_years": 30}])
def test_counterfactual_reasons_agree_with_the_scorecard(
    scorer: Scorer, card_dict, model_bytes, features: dict[str, Any]
) -> None:
    """Without its scorecard the same model gets the same reasons by re-scoring alone."""
    card = copy.deepcopy(card_dict)
    del card["scorecard"]
    blind = Scorer(card, model_bytes)
    a, b = scorer.score(features), blind.score(features)
    assert (a.reasons_method, b.reasons_method) == ("scorecard", "counterfactual")
    assert [r.characteristic for r in b.reasons] == [r.characteristic for r in a.reasons]
    for x, y in zip(a.reasons, b.reasons, strict=True):
        assert y.points_lost == pytest.approx(x.points_lost, abs=0.05)
