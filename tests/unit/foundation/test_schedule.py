"""tests/schedule.py: the longest tests are handed out first, the rest keep their order, and
every name on the list still names a test (a renamed one would silently lose its head start)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests import schedule

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class FakeItem:
    nodeid: str
    marks: set[str] = field(default_factory=set)

    def get_closest_marker(self, name: str) -> Any:
        return name if name in self.marks else None


def test_longest_first_then_slow_then_the_rest_in_collection_order() -> None:
    items: list[Any] = [
        FakeItem("tests/unit/a.py::test_1"),
        FakeItem("tests/unit/b.py::test_slow", {"slow"}),
        FakeItem(schedule.LONGEST[1] + "::runTest"),
        FakeItem("tests/unit/a.py::test_2"),
        FakeItem(schedule.LONGEST[0] + "[x]"),
    ]
    schedule.longest_first(items)
    assert [i.nodeid for i in items] == [
        schedule.LONGEST[0] + "[x]", schedule.LONGEST[1] + "::runTest",
        "tests/unit/b.py::test_slow", "tests/unit/a.py::test_1", "tests/unit/a.py::test_2"]


@pytest.mark.parametrize("prefix", schedule.LONGEST)
def test_each_listed_test_exists(prefix: str) -> None:
    path, _, name = prefix.partition("::")
    source = (ROOT / path).read_text(encoding="utf-8")
    name = name.split("::")[0]
    if name:  # a test function or class (or a name bound to one) at the top of the module
        assert re.search(rf"^(?:def |class )?{re.escape(name)}", source, re.MULTILINE), prefix
