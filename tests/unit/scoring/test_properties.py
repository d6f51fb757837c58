"""Properties over any valid application: the score, grade and reasons are one consistent story."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.scoring import DEFAULT_GRADES, DEFAULT_SCALE, ModelCard, Scorer
from chalicelib.scoring.reasons import MIN_POINTS_LOST, points_lost
from tests.unit.scoring.conftest import CARD_PATH, ONNX_PATH

SCORER = Scorer(json.loads(CARD_PATH.read_text()), ONNX_PATH.read_bytes())


def applications(card: ModelCard) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for spec in card.inputs:
        if spec.type == "categorical":
            fields[spec.name] = st.sampled_from(spec.categories)
        elif spec.money:
            cents = st.integers(int(spec.minimum * 100), int(spec.maximum * 100))  # type: ignore[operator]
            fields[spec.name] = cents.map(lambda c: str(Decimal(c) / 100))
        else:
            fields[spec.name] = st.integers(int(spec.minimum), int(spec.maximum))  # type: ignore[arg-type]
    return st.fixed_dictionaries(fields)


@settings(max_examples=200, deadline=None)
@given(applications(SCORER.card))
def test_score_grade_and_reasons_are_consistent(features: dict[str, Any]) -> None:
    r = SCORER.score(features)
    assert 0 < r.pd < 1
    assert r.score == DEFAULT_SCALE.score(r.pd)
    assert r.grade == DEFAULT_GRADES.grade(r.score)
    lost = [x.points_lost for x in r.reasons]
    assert len(lost) <= 4 and lost == sorted(lost, reverse=True)
    assert all(x >= MIN_POINTS_LOST for x in lost)
    # The points lost over every characteristic account for the whole gap to the best score.
    row = SCORER.validate(features)
    total_lost = sum(p for _, _, p in points_lost(SCORER.card.scorecard, row, DEFAULT_SCALE))
    best_log_odds = SCORER.card.raw["scorecard"]["intercept"] + sum(
        ch.best.coefficient for ch in SCORER.card.scorecard
    )
    best_score = DEFAULT_SCALE.offset - DEFAULT_SCALE.factor * best_log_odds
    assert abs(best_score - DEFAULT_SCALE.exact_score(r.pd) - total_lost) < 0.01


@settings(max_examples=50, deadline=None)
@given(st.lists(applications(SCORER.card), min_size=1, max_size=20))
def test_batch_matches_single(rows: list[dict[str, Any]]) -> None:
    batch = SCORER.score_batch(rows)
    for features, b in zip(rows, batch, strict=True):
        s = SCORER.score(features)
        assert abs(b.pd - s.pd) < 1e-6
        assert [x.code for x in b.reasons] == [x.code for x in s.reasons]
