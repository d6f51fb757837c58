"""Scorer and registry: integrity, caching, outputs and batch scoring on the shipped model."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from chalicelib.scoring import (
    CardError,
    ModelIntegrityError,
    ModelRegistry,
    Scorer,
    ScoreScale,
    default_scorer,
    parse_card,
    sha256_hex,
)
from tests.unit.scoring.conftest import RISKY, SAFE


def tampered(data: bytes) -> bytes:
    """Change one byte inside a float initializer: still a loadable model, different numbers."""
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


def test_tampered_file_is_rejected_before_a_session_exists(card_dict, model_bytes) -> None:
    with pytest.raises(ModelIntegrityError) as info:
        Scorer(card_dict, tampered(model_bytes))
    err = info.value
    assert err.kind == "model-integrity-error"
    assert err.extra["expected_sha256"] == card_dict["onnx"]["sha256"]
    assert err.extra["actual_sha256"] == sha256_hex(tampered(model_bytes))


def test_registry_rejects_tampered_bytes(registry: ModelRegistry, card_dict, model_bytes) -> None:
    with pytest.raises(ModelIntegrityError):
        registry.load(tampered(model_bytes), card_dict)
    assert registry.cached() == []


def test_unsealed_card_is_refused(registry: ModelRegistry, card_dict, model_bytes) -> None:
    del card_dict["onnx"]["sha256"]
    with pytest.raises(ModelIntegrityError):
        registry.load(model_bytes, card_dict)
    with pytest.raises(ModelIntegrityError):
        Scorer(card_dict, model_bytes)


def test_invalid_card_is_refused(card_dict, model_bytes) -> None:
    card_dict["inputs"][0]["type"] = "text"
    with pytest.raises(CardError) as info:
        Scorer(card_dict, model_bytes)
    assert [e.pointer for e in info.value.errors] == ["/card/inputs/0/type"]


def test_registry_loads_once_per_model(registry: ModelRegistry, card_dict, model_bytes) -> None:
    fetches = []

    def fetch() -> bytes:
        fetches.append(1)
        return model_bytes

    first = registry.get(card_dict, fetch)
    second = registry.get(json.loads(json.dumps(card_dict)), fetch)
    assert first is second
    assert len(fetches) == 1 and registry.loads == 1
    assert registry.cached() == [("german-credit", "1.0.0", card_dict["onnx"]["sha256"])]


def test_registry_key_includes_version_and_evicts_lru(card_dict, model_bytes) -> None:
    registry = ModelRegistry(max_models=2)
    scorers = []
    for version in ("1", "2", "3"):
        scorers.append(registry.load(model_bytes, {**card_dict, "version": version}))
    assert [k[1] for k in registry.cached()] == ["2", "3"]
    assert scorers[0] is not scorers[1]
    assert registry.load(model_bytes, {**card_dict, "version": "3"}) is scorers[2]


def test_default_scorer_is_cached_in_the_process_registry() -> None:
    assert default_scorer() is default_scorer()


def test_outputs_for_a_risky_applicant(scorer: Scorer) -> None:
    r = scorer.score(RISKY)
    assert 0.8 < r.pd < 1
    assert r.score == ScoreScale().score(r.pd)
    assert r.grade == "E"
    assert len(r.reasons) == 4
    assert (r.model_id, r.model_version) == ("german-credit", "1.0.0")
    body = r.as_dict()
    assert body["reasons"][0]["text"] and body["pd"] == round(r.pd, 6)
    json.dumps(body)


def test_outputs_for_a_safe_applicant(scorer: Scorer) -> None:
    r = scorer.score(SAFE)
    assert r.pd < 0.05
    assert r.grade == "A"
    assert r.reasons == ()


def test_score_and_pd_follow_the_scale(scorer: Scorer) -> None:
    for features in (SAFE, RISKY, {**SAFE, "checking_account": "overdrawn"}):
        r = scorer.score(features)
        odds = (1 - r.pd) / r.pd
        assert r.score == pytest.approx(600 + 20 * math.log2(odds / 50), abs=0.5)


def test_tenant_scale_and_grades_apply_per_call(scorer: Scorer) -> None:
    from chalicelib.scoring import GradeScale

    default = scorer.score(RISKY)
    tenant = scorer.score(
        RISKY, scale=ScoreScale(base_score=300, base_odds=1, pdo=50),
        grades=GradeScale((("ok", 300), ("no", None))),
    )
    assert tenant.pd == default.pd
    assert tenant.score == round(300 + 50 * math.log2((1 - default.pd) / default.pd))
    assert tenant.grade == "no"
    # Same ranking, points lost rescaled by the pdo ratio.
    assert [r.code for r in tenant.reasons] == [r.code for r in default.reasons]
    assert tenant.reasons[0].points_lost == pytest.approx(
        default.reasons[0].points_lost * 50 / 20, abs=0.02
    )


def test_card_grades_are_the_models_default(card_dict, model_bytes) -> None:
    card_dict["grades"] = [{"grade": "IN", "min_score": 400}, {"grade": "OUT", "min_score": None}]
    s = Scorer(card_dict, model_bytes)
    assert s.score(RISKY).grade == "OUT"
    assert s.score(SAFE).grade == "IN"


def test_batch_equals_single(scorer: Scorer) -> None:
    rows: list[dict[str, Any]] = [SAFE, RISKY] * 5 + [
        {**SAFE, "age_years": a} for a in range(18, 80, 7)
    ]
    batch = scorer.score_batch(rows, chunk_size=7)
    single = [scorer.score(r) for r in rows]
    assert len(batch) == len(rows)
    for b, s in zip(batch, single, strict=True):
        # float32 kernels differ between batch sizes in the last bits only
        assert b.pd == pytest.approx(s.pd, abs=1e-6)
        assert (b.score, b.grade, b.reasons) == (s.score, s.grade, s.reasons)
    assert scorer.score_batch([]) == []


def test_parse_card_is_idempotent(card_dict) -> None:
    card = parse_card(card_dict)
    assert parse_card(card) is card
    assert card.ref == "german-credit@1.0.0"
