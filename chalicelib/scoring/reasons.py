"""Principal reasons (ECOA/Reg B adverse-action style): where the applicant lost most points.

For each scorecard characteristic, points lost = factor·(coefficient of the applicant's attribute −
coefficient of the best attribute). Characteristics are ranked by points lost (ties keep the
card's order, so the ranking is stable); those that lost nothing are not reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.scoring.card import Attribute, Characteristic
from chalicelib.scoring.features import Row
from chalicelib.scoring.scale import ScoreScale

MAX_REASONS = 4
MIN_POINTS_LOST = 0.5  # below half a point, a "reason" would be noise


@dataclass(frozen=True, slots=True)
class Reason:
    code: str  # stable code per characteristic, e.g. "CHK"
    characteristic: str  # input name
    text: str  # borrower-readable
    points_lost: float  # at the scale the score was computed with
    attribute: str  # the applicant's attribute, e.g. "Overdrawn (balance below 0)"
    best_attribute: str  # what would have scored best

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "characteristic": self.characteristic,
            "text": self.text,
            "points_lost": self.points_lost,
            "attribute": self.attribute,
            "best_attribute": self.best_attribute,
        }


def points_lost(
    scorecard: tuple[Characteristic, ...], row: Row, scale: ScoreScale
) -> list[tuple[Characteristic, Attribute, float]]:
    """Every characteristic with the applicant's attribute and points lost, in card order."""
    factor = scale.factor
    out = []
    for ch in scorecard:
        attr = ch.attribute_for(row[ch.name])
        out.append((ch, attr, factor * (attr.coefficient - ch.best.coefficient)))
    return out


def principal_reasons(
    scorecard: tuple[Characteristic, ...], row: Row, scale: ScoreScale,
    limit: int = MAX_REASONS,
) -> tuple[Reason, ...]:
    lost = points_lost(scorecard, row, scale)
    ranked = sorted(
        (item for item in enumerate(lost) if item[1][2] >= MIN_POINTS_LOST),
        key=lambda item: (-item[1][2], item[0]),
    )
    reasons = []
    for _, (ch, attr, pts) in ranked[:limit]:
        reasons.append(Reason(
            code=ch.reason_code, characteristic=ch.name, text=ch.reason_text,
            points_lost=round(pts, 2), attribute=attr.label, best_attribute=ch.best.label,
        ))
    return tuple(reasons)
