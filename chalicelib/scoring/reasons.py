"""Principal reasons (ECOA/Reg B adverse-action style): where the applicant lost most points.

With a scorecard in the card, points lost = factor·(coefficient of the applicant's attribute −
coefficient of the best attribute), exact and free. Without one (a tenant's gradient-boosted
model, say), reasons are counterfactual: each input is set in turn to each of its other allowed
values, the model is re-run (one batched call), and points lost = the best score reachable by
changing that input alone minus the actual score. On a scorecard model both methods agree.
Either way inputs are ranked by points lost (ties keep the card's order) and inputs that lost
less than half a point are not reasons.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from chalicelib.scoring.card import Attribute, Characteristic, InputSpec, ModelCard
from chalicelib.scoring.features import Row, Value
from chalicelib.scoring.scale import ScoreScale

MAX_REASONS = 4
MIN_POINTS_LOST = 0.5  # below half a point, a "reason" would be noise
NUMERIC_PROBES = 5  # values tried across a numeric input's declared range


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


def probe_values(spec: InputSpec) -> list[Value]:
    """The values a counterfactual tries for one input (empty: the input cannot be probed)."""
    if spec.type == "categorical":
        return list(spec.categories)
    if spec.minimum is None or spec.maximum is None:
        return []
    lo, hi = spec.minimum, spec.maximum
    steps = [lo + (hi - lo) * Decimal(i) / (NUMERIC_PROBES - 1) for i in range(NUMERIC_PROBES)]
    if spec.integer:
        return sorted({int(v.to_integral_value()) for v in steps})
    return steps


def counterfactual_reasons(
    card: ModelCard, rows: Sequence[Row], pds: Sequence[float],
    predict_pd: Callable[[Sequence[Row]], np.ndarray], scale: ScoreScale,
    limit: int = MAX_REASONS,
) -> list[tuple[Reason, ...]]:
    """Reasons for a model without a scorecard: one batched model call for all rows."""
    probes = [(spec, probe_values(spec)) for spec in card.inputs]
    variants: list[Row] = []
    where: list[tuple[int, int, Value]] = []  # (row, input index, value tried)
    for r, row in enumerate(rows):
        for k, (spec, values) in enumerate(probes):
            for v in values:
                if v != row[spec.name]:
                    variants.append({**row, spec.name: v})
                    where.append((r, k, v))
    if not variants or limit <= 0:
        return [() for _ in rows]
    variant_pds = predict_pd(variants).tolist()
    best: dict[tuple[int, int], tuple[float, Value]] = {}
    for (r, k, v), p in zip(where, variant_pds, strict=True):
        if (r, k) not in best or p < best[(r, k)][0]:
            best[(r, k)] = (p, v)
    out = []
    for r, (row, pd) in enumerate(zip(rows, pds, strict=True)):
        actual = scale.exact_score(pd)
        lost = []
        for k, (spec, _) in enumerate(probes):
            if (r, k) in best:
                p, v = best[(r, k)]
                lost.append((k, spec, scale.exact_score(p) - actual, v))
        ranked = sorted((x for x in lost if x[2] >= MIN_POINTS_LOST), key=lambda x: (-x[2], x[0]))
        out.append(tuple(
            Reason(
                code=spec.reason_code or spec.name.upper(), characteristic=spec.name,
                text=spec.reason_text or spec.label, points_lost=round(pts, 2),
                attribute=spec.display(row[spec.name]), best_attribute=spec.display(v),
            )
            for _, spec, pts, v in ranked[:limit]
        ))
    return out
