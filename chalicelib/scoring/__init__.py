"""Credit scoring runtime: model cards, a verified ONNX model cache, scores, grades, reasons.

Pure: no storage and no HTTP. Importing this package never imports onnxruntime (it is loaded
when the first model is), and nothing here imports pandas or scikit-learn.

    scorer = default_scorer()                    # or REGISTRY.get(card, fetch=lambda: s3_bytes)
    result = scorer.score({"checking_account": "overdrawn", ...})   # FeatureValidationError → 422
    result.pd, result.score, result.grade, result.reasons
    problems = validate_model(model_bytes, card) # [] → store seal_card(card, model_bytes)
"""

from chalicelib.scoring.card import ModelCard, card_problems, parse_card
from chalicelib.scoring.errors import (
    CardError,
    FeatureValidationError,
    FieldError,
    ModelIntegrityError,
    ModelLoadError,
)
from chalicelib.scoring.reasons import Reason
from chalicelib.scoring.registry import REGISTRY, ModelRegistry, default_scorer, shipped_card
from chalicelib.scoring.runtime import Scorer, ScoreResult, sha256_hex, verify_sha256
from chalicelib.scoring.scale import DEFAULT_GRADES, DEFAULT_SCALE, GradeScale, ScoreScale
from chalicelib.scoring.validation import seal_card, validate_model

__all__ = [
    "DEFAULT_GRADES",
    "DEFAULT_SCALE",
    "REGISTRY",
    "CardError",
    "FeatureValidationError",
    "FieldError",
    "GradeScale",
    "ModelCard",
    "ModelIntegrityError",
    "ModelLoadError",
    "ModelRegistry",
    "Reason",
    "ScoreResult",
    "ScoreScale",
    "Scorer",
    "card_problems",
    "default_scorer",
    "parse_card",
    "seal_card",
    "sha256_hex",
    "shipped_card",
    "validate_model",
    "verify_sha256",
]
