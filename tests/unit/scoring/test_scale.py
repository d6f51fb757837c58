"""Score scaling and grades: the numbers tenants configure and borrowers are told."""

from __future__ import annotations

import itertools
import math

import pytest

from chalicelib.scoring import DEFAULT_GRADES, DEFAULT_SCALE, GradeScale, ScoreScale


def pd_for_odds(good_to_bad: float) -> float:
    return 1.0 / (1.0 + good_to_bad)


def test_600_points_at_odds_50_to_1() -> None:
    assert DEFAULT_SCALE.exact_score(pd_for_odds(50)) == pytest.approx(600, abs=1e-9)
    assert DEFAULT_SCALE.score(pd_for_odds(50)) == 600


@pytest.mark.parametrize("odds", [0.5, 2, 5, 50, 300])
def test_twenty_points_double_the_odds(odds: float) -> None:
    lo = DEFAULT_SCALE.exact_score(pd_for_odds(odds))
    hi = DEFAULT_SCALE.exact_score(pd_for_odds(2 * odds))
    assert hi - lo == pytest.approx(20, abs=1e-9)


def test_score_falls_as_pd_rises() -> None:
    pds = [0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 0.99]
    scores = [DEFAULT_SCALE.score(p) for p in pds]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == len(scores)


def test_pd_at_inverts_score() -> None:
    for p in (0.02, 0.3, 0.7):
        assert DEFAULT_SCALE.pd_at(DEFAULT_SCALE.exact_score(p)) == pytest.approx(p, rel=1e-12)


def test_tenant_scale_overrides() -> None:
    scale = ScoreScale.from_dict({"base_score": 700, "base_odds": 20, "pdo": 40})
    assert scale.exact_score(pd_for_odds(20)) == pytest.approx(700)
    assert scale.exact_score(pd_for_odds(40)) == pytest.approx(740)


def test_extreme_pds_give_finite_scores() -> None:
    assert math.isfinite(DEFAULT_SCALE.exact_score(0.0))
    assert math.isfinite(DEFAULT_SCALE.exact_score(1.0))


@pytest.mark.parametrize("bad", [{"pdo": 0}, {"base_odds": -1}, {"pdo": float("nan")}])
def test_bad_scale_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ScoreScale(**bad)


@pytest.mark.parametrize(
    ("score", "grade"),
    [(700, "A"), (560, "A"), (559, "B"), (540, "B"), (539, "C"), (520, "C"), (519, "D"),
     (500, "D"), (499, "E"), (-50, "E")],
)
def test_default_grade_bands(score: int, grade: str) -> None:
    assert DEFAULT_GRADES.grade(score) == grade


def test_default_band_edges_are_odds_doublings() -> None:
    mins = [m for _, m in DEFAULT_GRADES.bands if m is not None]
    odds = [1 / DEFAULT_SCALE.pd_at(m) - 1 for m in mins]
    assert odds[0] == pytest.approx(12.5)
    for a, b in itertools.pairwise(odds):
        assert a / b == pytest.approx(2)


def test_tenant_grades_from_json() -> None:
    g = GradeScale.from_list([
        {"grade": "prime", "min_score": 550}, {"grade": "standard", "min_score": 500},
        {"grade": "high", "min_score": None},
    ])
    assert [g.grade(s) for s in (551, 550, 549, 500, 499)] == [
        "prime", "prime", "standard", "standard", "high"
    ]


@pytest.mark.parametrize("bands", [
    [],
    [{"grade": "A", "min_score": 500}],
    [{"grade": "A", "min_score": 500}, {"grade": "B", "min_score": 520}, {"grade": "C"}],
    [{"grade": "A", "min_score": 500}, {"grade": "A", "min_score": None}],
    [{"grade": "A", "min_score": 500.5}, {"grade": "B", "min_score": None}],
    [{"min_score": 1}],
    "A",
])
def test_bad_grade_scales_are_refused(bands: object) -> None:
    with pytest.raises(ValueError):
        GradeScale.from_list(bands)  # type: ignore[arg-type]
