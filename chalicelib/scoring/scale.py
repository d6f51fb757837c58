"""Score scaling (PD ↔ points) and risk grades: tenant-tunable, model-independent.

score = offset + factor·ln(odds good:bad), where factor = pdo/ln 2 and
offset = base_score − factor·ln(base_odds).
Defaults: 600 points at 50:1, 20 points to double the odds. Default grades are 20-point bands,
so each grade boundary is a doubling of the odds:

    A ≥ 560 (odds ≥ 12.5:1, PD ≤ 7.4%)   B 540-559 (PD ≤ 13.8%)   C 520-539 (PD ≤ 24.2%)
    D 500-519 (PD ≤ 39.0%)               E < 500
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

PD_FLOOR = 1e-9  # keeps ln(odds) finite when a model answers exactly 0 or 1


@dataclass(frozen=True, slots=True)
class ScoreScale:
    base_score: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0

    def __post_init__(self) -> None:
        for name in ("base_score", "base_odds", "pdo"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(f"{name} must be a finite number")
        if self.base_odds <= 0 or self.pdo <= 0:
            raise ValueError("base_odds and pdo must be positive")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ScoreScale:
        return cls(**{k: float(raw[k]) for k in ("base_score", "base_odds", "pdo") if k in raw})

    @property
    def factor(self) -> float:
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        return self.base_score - self.factor * math.log(self.base_odds)

    def exact_score(self, pd: float) -> float:
        p = min(max(pd, PD_FLOOR), 1.0 - PD_FLOOR)
        return self.offset + self.factor * math.log((1.0 - p) / p)

    def score(self, pd: float) -> int:
        """Whole points, rounded half-up (the figure shown to people and compared to bands)."""
        exact = Decimal(repr(self.exact_score(pd)))
        return int(exact.to_integral_value(rounding=ROUND_HALF_UP))

    def pd_at(self, score: float) -> float:
        odds = math.exp((score - self.offset) / self.factor)
        return 1.0 / (1.0 + odds)


@dataclass(frozen=True, slots=True)
class GradeScale:
    """Bands from best to worst: (grade, minimum score); the last band has no minimum."""

    bands: tuple[tuple[str, int | None], ...] = (
        ("A", 560), ("B", 540), ("C", 520), ("D", 500), ("E", None),
    )

    def __post_init__(self) -> None:
        if not self.bands:
            raise ValueError("at least one grade band is required")
        names = [g for g, _ in self.bands]
        if len(set(names)) != len(names) or not all(isinstance(g, str) and g for g in names):
            raise ValueError("grade names must be unique non-empty strings")
        mins = [m for _, m in self.bands[:-1]]
        if self.bands[-1][1] is not None:
            raise ValueError("the last (worst) band must have min_score null")
        if any(m is None or isinstance(m, bool) or not isinstance(m, int) for m in mins):
            raise ValueError("every band but the last needs an integer min_score")
        if any(a <= b for a, b in itertools.pairwise(mins)):  # type: ignore[operator]
            raise ValueError("min_score must strictly decrease from the best band to the worst")

    @classmethod
    def from_list(cls, raw: Sequence[Mapping[str, Any]]) -> GradeScale:
        """From the card/tenant JSON shape: [{"grade": "A", "min_score": 560}, ...]."""
        if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
            raise ValueError("grades must be a list of {grade, min_score}")
        try:
            return cls(tuple((b["grade"], b.get("min_score")) for b in raw))
        except (KeyError, TypeError, AttributeError) as e:
            raise ValueError("grades must be a list of {grade, min_score}") from e

    def grade(self, score: int) -> str:
        for name, minimum in self.bands:
            if minimum is None or score >= minimum:
                return name
        raise AssertionError("unreachable: the last band has no minimum")


DEFAULT_SCALE = ScoreScale()
DEFAULT_GRADES = GradeScale()
