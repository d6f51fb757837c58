"""The matcher on generated statements: injected discrepancies of each kind are classified
exactly, and every line and in-period movement is accounted for exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.lending.reconcile import Kind, Movement, StatementLine, counts, reconcile

START, END = date(2026, 3, 1), date(2026, 3, 7)

movement = st.builds(
    lambda amount, typ, day: (amount, typ, START + timedelta(days=day)),
    st.integers(min_value=1, max_value=10**9), st.sampled_from(["payout", "collection"]),
    st.integers(min_value=0, max_value=6))


@st.composite
def scenario(draw):
    base = draw(st.lists(movement, min_size=0, max_size=40))
    moves = [Movement(f"R{i:04d}", t, a, "CNY", d, f"j{i}") for i, (a, t, d) in enumerate(base)]
    lines = [StatementLine(m.reference, m.type, m.amount, m.currency, m.effective_date, i + 2)
             for i, m in enumerate(moves)]
    refs = list(range(len(moves)))
    n_missing_stmt = draw(st.integers(0, len(refs) // 4))
    n_mismatch = draw(st.integers(0, len(refs) // 4))
    n_dup_stmt = draw(st.integers(0, len(refs) // 4))
    n_dup_ledger = draw(st.integers(0, len(refs) // 4))
    n_missing_ledger = draw(st.integers(0, 5))
    order = draw(st.permutations(refs))
    picks = iter(order)
    expected = Counter({Kind.MATCHED: len(moves)})
    next_line = len(lines) + 2
    for _ in range(n_missing_stmt):
        i = next(picks)
        lines = [x for x in lines if x.reference != moves[i].reference]
        expected[Kind.MATCHED] -= 1
        expected[Kind.MISSING_IN_STATEMENT] += 1
    for _ in range(n_mismatch):
        i = next(picks)
        delta = draw(st.integers(min_value=1, max_value=500))
        lines = [x if x.reference != moves[i].reference else
                 StatementLine(x.reference, x.type, x.amount + delta, x.currency, x.value_date,
                               x.line) for x in lines]
        expected[Kind.MATCHED] -= 1
        expected[Kind.AMOUNT_MISMATCH] += 1
    for _ in range(n_dup_stmt):
        i = next(picks)
        m = moves[i]
        lines.append(StatementLine(m.reference, m.type, m.amount, m.currency, m.effective_date,
                                   next_line))
        next_line += 1
        expected[Kind.DUPLICATE] += 1
    extra_moves = []
    for _ in range(n_dup_ledger):
        i = next(picks)
        m = moves[i]
        extra_moves.append(Movement(m.reference, m.type, m.amount, m.currency,
                                    m.effective_date, f"{m.journal_id}-again"))
        expected[Kind.DUPLICATE] += 1
    for k in range(n_missing_ledger):
        lines.append(StatementLine(f"X{k:03d}", "payout", 100 + k, "CNY", START, next_line))
        next_line += 1
        expected[Kind.MISSING_IN_LEDGER] += 1
    # movements outside the period: matched when a line names them, otherwise never reported
    outside = draw(st.integers(0, 3))
    for k in range(outside):
        extra_moves.append(Movement(f"O{k:03d}", "payout", 5, "CNY", END + timedelta(days=2),
                                    f"o{k}"))
    shuffled = draw(st.permutations(lines))
    return list(shuffled), moves + extra_moves, expected


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_injected_discrepancies_are_classified_exactly(case):
    lines, moves, expected = case
    results = reconcile(lines, moves, (START, END))
    assert counts(results) == {k.value: expected[k] for k in Kind}


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_every_line_and_in_period_movement_appears_exactly_once(case):
    lines, moves, _ = case
    results = reconcile(lines, moves, (START, END))
    seen_lines = Counter(r.line for r in results if r.line is not None)
    seen_moves = Counter(r.movement for r in results if r.movement is not None)
    assert seen_lines == Counter(lines)
    in_period = [m for m in moves if START <= m.effective_date <= END]
    assert all(seen_moves[m] == 1 for m in in_period)
    assert all(c == 1 for c in seen_moves.values())
    for r in results:
        if r.kind is Kind.MATCHED:
            assert (r.line.type, r.line.amount, r.line.currency) == \
                (r.movement.type, r.movement.amount, r.movement.currency)
        if r.kind is Kind.AMOUNT_MISMATCH:
            assert r.differences and r.line.reference == r.movement.reference


@given(st.lists(movement, max_size=20))
def test_a_statement_that_mirrors_the_ledger_is_all_matched_in_any_order(base):
    moves = [Movement(f"R{i}", t, a, "CNY", d, f"j{i}") for i, (a, t, d) in enumerate(base)]
    lines = [StatementLine(m.reference, m.type, m.amount, "CNY", m.effective_date, i + 2)
             for i, m in enumerate(reversed(moves))]
    assert all(r.kind is Kind.MATCHED for r in reconcile(lines, moves, (START, END)))
