"""Matching a channel's settlement statement against the ledger's movements (pure).

Lines and movements are matched by reference; within a reference, exact twins (same type,
currency and amount) pair first, then what is left pairs up as mismatches, and whatever is
still left is missing on the other side - the first one per reference - or a duplicate.

Only ledger movements dated inside the statement's period must appear in it; movements in the
tolerance window around the period may match lines (value dates lag bookings by a day or two)
but are never reported missing.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date


class Kind(enum.StrEnum):
    MATCHED = "matched"
    MISSING_IN_LEDGER = "missing_in_ledger"
    MISSING_IN_STATEMENT = "missing_in_statement"
    AMOUNT_MISMATCH = "amount_mismatch"
    DUPLICATE = "duplicate"


EXCEPTION_KINDS = tuple(k for k in Kind if k is not Kind.MATCHED)
TYPES = ("payout", "collection")


@dataclass(frozen=True)
class StatementLine:
    reference: str
    type: str  # payout | collection
    amount: int  # minor units, > 0
    currency: str
    value_date: date
    line: int  # 1-based line number in the file (the header is line 1)


@dataclass(frozen=True)
class Movement:
    """Money that moved through the channel according to the ledger."""

    reference: str
    type: str
    amount: int
    currency: str
    effective_date: date
    journal_id: str


@dataclass(frozen=True)
class Result:
    kind: Kind
    reference: str
    line: StatementLine | None = None
    movement: Movement | None = None
    differences: tuple[str, ...] = field(default=())  # for mismatches: type, currency, amount
    side: str | None = None  # for duplicates: "statement" or "ledger"


def _same(line: StatementLine, mv: Movement) -> bool:
    return (line.type, line.currency, line.amount) == (mv.type, mv.currency, mv.amount)


def _differences(line: StatementLine, mv: Movement) -> tuple[str, ...]:
    return tuple(f for f in ("type", "currency", "amount") if getattr(line, f) != getattr(mv, f))


def reconcile(lines: list[StatementLine], movements: list[Movement], period: tuple[date, date],
              ) -> list[Result]:
    """Every line yields exactly one result; so does every movement inside the period and every
    movement outside it that a line paired with. Results come in reference order."""
    start, end = period
    by_ref_lines: dict[str, list[StatementLine]] = defaultdict(list)
    by_ref_moves: dict[str, list[Movement]] = defaultdict(list)
    for line in sorted(lines, key=lambda x: x.line):
        by_ref_lines[line.reference].append(line)
    for mv in sorted(movements, key=lambda m: (m.effective_date, m.journal_id)):
        by_ref_moves[mv.reference].append(mv)
    results: list[Result] = []
    for ref in sorted(set(by_ref_lines) | set(by_ref_moves)):
        results += _one_reference(ref, by_ref_lines[ref], by_ref_moves[ref], start, end)
    return results


def _one_reference(ref: str, lines: list[StatementLine], moves: list[Movement], start: date,
                   end: date) -> list[Result]:
    out: list[Result] = []
    free = list(moves)
    left_lines: list[StatementLine] = []
    for line in lines:
        twin = next((m for m in free if _same(line, m)), None)
        if twin is None:
            left_lines.append(line)
        else:
            free.remove(twin)
            out.append(Result(Kind.MATCHED, ref, line, twin))
    # mismatches pair in-period movements first (those are the ones the line stands for)
    free.sort(key=lambda m: (not start <= m.effective_date <= end, m.effective_date,
                             m.journal_id))
    paired = bool(out)
    while left_lines and free:
        line, mv = left_lines.pop(0), free.pop(0)
        out.append(Result(Kind.AMOUNT_MISMATCH, ref, line, mv, _differences(line, mv)))
        paired = True
    for line in left_lines:
        kind = Kind.DUPLICATE if paired else Kind.MISSING_IN_LEDGER
        out.append(Result(kind, ref, line, None, side="statement" if paired else None))
        paired = True
    for mv in free:
        if not start <= mv.effective_date <= end:
            continue  # outside the period: another statement's business
        kind = Kind.DUPLICATE if paired else Kind.MISSING_IN_STATEMENT
        out.append(Result(kind, ref, None, mv, side="ledger" if paired else None))
        paired = True
    return out


def counts(results: list[Result]) -> dict[str, int]:
    tally = {k.value: 0 for k in Kind}
    for r in results:
        tally[r.kind.value] += 1
    return tally
