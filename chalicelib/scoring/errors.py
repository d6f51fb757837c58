"""Scoring's errors, as the project's DomainError so the HTTP layer renders them unchanged.

Feature and card problems are `validation-error` (422) with one FieldError per problem. A stored
model whose bytes do not match its card is `model-integrity-error`: never the caller's fault, so
the API answers 500 unless it registers the kind otherwise.
"""

from __future__ import annotations

from chalicelib.errors import DomainError, FieldError

__all__ = [
    "CardError",
    "FeatureValidationError",
    "FieldError",
    "ModelIntegrityError",
    "ModelLoadError",
]


class FeatureValidationError(DomainError):
    """The features do not fit the model card; `errors` lists every problem with its pointer."""

    @classmethod
    def of(cls, errors: list[FieldError]) -> FeatureValidationError:
        n = len(errors)
        return cls("validation-error", f"The features do not fit the model ({n} problem"
                   f"{'s' if n != 1 else ''}).", errors)


class CardError(DomainError):
    """A model card that cannot be used: missing sections, bad types, inconsistent points."""

    @classmethod
    def of(cls, errors: list[FieldError]) -> CardError:
        return cls("validation-error", "The model card is not valid.", errors)


class ModelIntegrityError(DomainError):
    """The model bytes are not the ones the card was sealed with (tampered or mixed up)."""

    @classmethod
    def of(cls, model: str, expected: str, actual: str) -> ModelIntegrityError:
        return cls(
            "model-integrity-error",
            f"Model {model}: SHA-256 of the bytes is {actual}, the card says {expected}.",
            extra={"expected_sha256": expected, "actual_sha256": actual},
        )


class ModelLoadError(DomainError):
    """onnxruntime could not build a session, or the session does not match the card."""

    @classmethod
    def of(cls, model: str, errors: list[FieldError]) -> ModelLoadError:
        return cls("model-load-error", f"Model {model} cannot be loaded.", errors)
