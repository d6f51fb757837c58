"""The matcher's classes on hand-made cases, and the strict statement format."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.lending import statement
from chalicelib.lending.reconcile import Movement, StatementLine, reconcile

D = date(2026, 3, 2)
P = (date(2026, 3, 1), date(2026, 3, 3))


def line(ref, amount, n, typ="payout", when=D):
    return StatementLine(ref, typ, amount, "CNY", when, n)


def move(ref, amount, jid, typ="payout", when=D):
    return Movement(ref, typ, amount, "CNY", when, jid)


def kinds(results):
    return [(r.reference, r.kind.value, r.side) for r in results]


def test_each_class_on_one_statement():
    lines = [line("A", 100, 2), line("B", 250, 3), line("C", 70, 4), line("D", 90, 5),
             line("D", 90, 6), line("G", 5, 7, "collection")]
    moves = [move("A", 100, "j1"), move("B", 200, "j2"), move("E", 40, "j3"),
             move("D", 90, "j4"), move("F", 10, "j5"), move("F", 10, "j6"),
             move("G", 5, "j7", "payout")]
    assert kinds(reconcile(lines, moves, P)) == [
        ("A", "matched", None), ("B", "amount_mismatch", None),
        ("C", "missing_in_ledger", None), ("D", "matched", None),
        ("D", "duplicate", "statement"), ("E", "missing_in_statement", None),
        ("F", "missing_in_statement", None), ("F", "duplicate", "ledger"),
        ("G", "amount_mismatch", None)]
    mismatch = next(r for r in reconcile(lines, moves, P) if r.reference == "G")
    assert mismatch.differences == ("type",)


def test_movements_near_the_period_match_but_are_never_missing():
    outside = date(2026, 3, 5)
    results = reconcile([line("A", 100, 2)], [move("A", 100, "j1", when=outside),
                                              move("B", 5, "j2", when=outside)], P)
    assert kinds(results) == [("A", "matched", None)]


def test_statement_round_trips_through_the_renderer():
    lines = [line("PAY-1", 150000, 2), line("COL-9", 32050, 3, "collection")]
    assert statement.parse(statement.render(lines)) == lines


@pytest.mark.parametrize("body,where", [
    (b"\xef\xbb\xbfreference,type,amount,currency,value_date\n", "byte-order"),
    (b"ref,type,amount,currency,value_date\n", "header"),
    (b"reference,type,amount,currency,value_date\nA,payout,1.001,CNY,2026-03-01\n", "amount"),
    (b"reference,type,amount,currency,value_date\nA,payout,-1.00,CNY,2026-03-01\n", "amount"),
    (b"reference,type,amount,currency,value_date\nA,payout,0.00,CNY,2026-03-01\n", "amount"),
    (b"reference,type,amount,currency,value_date\nA,payout,1e2,CNY,2026-03-01\n", "amount"),
    (b"reference,type,amount,currency,value_date\nA,payout,1.00,XQQ,2026-03-01\n", "currency"),
    (b"reference,type,amount,currency,value_date\nA,refund,1.00,CNY,2026-03-01\n", "type"),
    (b"reference,type,amount,currency,value_date\nA,payout,1.00,CNY,2026-3-1\n", "value_date"),
    (b"reference,type,amount,currency,value_date\nA b,payout,1.00,CNY,2026-03-01\n",
     "reference"),
    (b"reference,type,amount,currency,value_date\nA,payout,1.00,CNY\n", "columns"),
    (b"reference,type,amount,currency,value_date\n\nA,payout,1.00,CNY,2026-03-01\n", "columns"),
    (b"reference,type,amount,currency,value_date\n\"A,payout\n", "CSV"),
])
def test_the_format_is_strict(body, where):
    with pytest.raises(statement.StatementError) as caught:
        statement.parse(body)
    text = " ".join(f"{e.column} {e.message}" for e in caught.value.errors)
    assert where.lower() in text.lower() or (where == "header" and "header" in text)


def test_every_bad_line_is_reported_at_once():
    body = (b"reference,type,amount,currency,value_date\n"
            b"A,payout,1.00,CNY,2026-03-01\nB,x,1.00,CNY,2026-03-01\nC,payout,1,CNY,bad\n")
    with pytest.raises(statement.StatementError) as caught:
        statement.parse(body)
    assert [(e.line, e.column) for e in caught.value.errors] == [(3, "type"), (4, "value_date")]


@given(st.binary(max_size=200))
def test_arbitrary_bytes_parse_or_fail_cleanly(data):
    with contextlib.suppress(statement.StatementError):
        statement.parse(data)
