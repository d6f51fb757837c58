"""Domain errors: what went wrong in words the API turns into RFC 9457 problems.

Pure: no HTTP here. chalicelib/api/problems.py maps each kind to a status and a type URI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One offending input, located by a JSON pointer into the request ("/body/amount")."""

    pointer: str
    detail: str
    code: str = "invalid"


@dataclass
class DomainError(Exception):
    kind: str
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


def not_found(what: str) -> DomainError:
    # Another tenant's object and a missing one must be indistinguishable: same kind, same detail.
    return DomainError("not-found", f"{what} not found")


def conflict(detail: str, **extra: Any) -> DomainError:
    return DomainError("conflict", detail, extra=extra)


def invalid(errors: list[FieldError], detail: str = "The request is not valid.") -> DomainError:
    return DomainError("validation-error", detail, errors=errors)
