"""Credit scoring runtime: model cards, a verified ONNX model cache, scores, grades, reasons.

Pure: no storage and no HTTP. Importing this package never imports onnxruntime (it is loaded
when the first model is), and nothing here imports pandas or scikit-learn.

    scorer = default_scorer()                    # or REGISTRY.get(card, fetch=lambda: s3_bytes)
    result = scorer.score({"checking_account": "overdrawn", ...})   # FeatureValidationError → 422
    result.pd, result.score, result.grade, result.reasons
    problems = validate_model(model_bytes, card) # [] → store seal_card(card, model_bytes)
"""

import importlib
from typing import Any

# Names resolve on first use (PEP 562) so importing the package, e.g. for the grade bands on the
# API's cold path, does not load numpy: only scoring itself pays for it.
_HOMES = {
    "ModelCard": "card", "card_problems": "card", "parse_card": "card",
    "CardError": "errors", "FeatureValidationError": "errors", "FieldError": "errors",
    "ModelIntegrityError": "errors", "ModelLoadError": "errors",
    "Reason": "reasons",
    "REGISTRY": "registry", "ModelRegistry": "registry", "default_scorer": "registry",
    "shipped_card": "registry",
    "Scorer": "runtime", "ScoreResult": "runtime", "sha256_hex": "runtime",
    "verify_sha256": "runtime",
    "DEFAULT_GRADES": "scale", "DEFAULT_SCALE": "scale", "GradeScale": "scale",
    "ScoreScale": "scale",
    "seal_card": "validation", "validate_model": "validation",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


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
