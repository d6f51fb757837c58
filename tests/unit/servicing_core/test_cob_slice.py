"""Slices of a close-of-business catch-up: they add up to the day-by-day fold, exactly."""

from __future__ import annotations

import copy
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.lending.cob_slice import close_slice
from chalicelib.lending.loan_state import ONE_DAY, close_day
from tests.unit.servicing_core.helpers import WEEKLY, loan, policy

START = date(2024, 1, 31)


def day_by_day(days: int) -> tuple[object, list[object]]:
    s, notices = loan(n=30, frequency=WEEKLY), []
    while s.through < START + timedelta(days=days):
        notices += close_day(s, s.through + ONE_DAY, policy())
    return s, notices


@settings(max_examples=15, deadline=None)
@given(days=st.integers(1, 240), room=st.integers(1, 12))
def test_slices_concatenate_to_the_fold_and_each_fits_its_room(days: int, room: int) -> None:
    target = START + timedelta(days=days)
    s, notices, slices = loan(n=30, frequency=WEEKLY), [], 0
    while s.through < target:
        before = copy.deepcopy(s)
        s, more = close_slice(s, target, policy(), room)
        assert before.through < s.through <= target  # at least one day, never beyond
        assert len(more) <= max(room, 2)  # one day holds at most a reminder and a notice
        notices += more
        slices += 1
    reference, expected = day_by_day(days)
    assert s == reference and notices == expected
    assert slices >= len(expected) // max(room, 2)


def test_a_day_without_notices_costs_no_extra_copy_and_leaves_the_input_alone() -> None:
    s = loan(n=30, frequency=WEEKLY)
    kept = copy.deepcopy(s)
    new, notices = close_slice(s, START + timedelta(days=1), policy(), 0)
    assert s == kept and new.through == START + timedelta(days=1) and notices == []
