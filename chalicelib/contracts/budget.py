"""The render budget: one meter for everything a template does, and size bounds on what it makes.

A tenant's template is code running in our shared functions, so every step it takes (a loop
iteration, a filter or test, an attribute or item access, a call, an operator) ticks the same
budget: a step count and this thread's CPU time. Each single step is kept short by bounding what
it may produce (a string, a list, a number) *before* Python allocates it, so the time between two
ticks, and the memory a render holds, stay small whatever the template does.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

MAX_TEMPLATE_CHARS = 64 * 1024
MAX_OUTPUT_CHARS = 256 * 1024  # the document, and any one string a template makes
MAX_RENDER_SECONDS = 2.0  # CPU time of the rendering thread
MAX_STEPS = 200_000  # loop iterations, filters, tests, accesses, calls, operators
MAX_SEQUENCE = 10_000  # items in any one list, tuple or dict a template makes
MAX_WEIGHT = 4 * MAX_OUTPUT_CHARS  # items + characters reachable from one value
MAX_DEPTH = 64  # nesting of lists and dicts
MAX_INT_BITS = 1024
CHARS_PER_STEP = 100  # making a string costs a step per this many characters
ITEMS_PER_STEP = 10  # making a list, tuple or dict costs a step per this many items
CLOCK_EVERY = 8  # steps between two readings of the CPU clock (a reading costs ~1 µs)


class TemplateProblem(Exception):
    """Why a template cannot be used; `line` when the parser knows it.

    Not a frozen dataclass: Python code on the way up (contextlib's `__exit__`) assigns
    `__traceback__`, which a frozen instance refuses with FrozenInstanceError."""

    def __init__(self, message: str, code: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.line = message, code, line

    def __str__(self) -> str:
        return self.message if self.line is None else f"line {self.line}: {self.message}"


def too_expensive(message: str) -> TemplateProblem:
    return TemplateProblem(message, "render_too_expensive")


def too_large(message: str) -> TemplateProblem:
    return TemplateProblem(message, "render_too_large")


class Budget:
    """Counts the render's own CPU time (this thread's), not wall time: a busy machine or a
    noisy neighbour must not turn a good template into a refused one.

    `weight` memoises by identity and keeps what it measured alive, so an id cannot be reused
    by another object during the render; what it keeps was paid for in steps (a step per
    ITEMS_PER_STEP items: at most ~2 million references over a whole render)."""

    def __init__(self, seconds: float, steps: int = MAX_STEPS) -> None:
        self.seconds, self.max_steps = seconds, steps
        self.deadline = time.thread_time() + seconds
        self.steps = steps
        self._next_clock = steps
        self._weights: dict[int, tuple[Any, int]] = {}

    def tick(self, steps: int = 1) -> None:
        """Every step is short (sizes are bounded), so reading the clock every few steps, or at
        once after a big one, stops a render within milliseconds of its deadline."""
        self.steps -= steps
        if self.steps < 0:
            raise too_expensive(f"the template takes more than {self.max_steps} steps (loop "
                                "iterations, filters, accesses, calls, operators)")
        if self.steps > self._next_clock:
            return
        self._next_clock = self.steps - CLOCK_EVERY
        if time.thread_time() > self.deadline:
            raise TemplateProblem(f"the template takes too long to render (more than "
                                  f"{self.seconds:g} s of CPU)", "render_timeout")

    def iterate(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """What every `for` loop (and `loop(...)` of a recursive one) iterates: a step each."""
        for item in iterable:
            self.tick()
            yield item

    def weight(self, value: Any, depth: int = 0) -> int:
        """Characters and items reachable from `value` (shared parts counted each time they
        are reachable, as `str()` or a comparison would walk them); refuses past the bounds."""
        if isinstance(value, str):
            return len(value)
        if isinstance(value, int):
            if value.bit_length() > MAX_INT_BITS:
                raise too_expensive(f"a number exceeds {MAX_INT_BITS} bits")
            return 1
        if not isinstance(value, list | tuple | Mapping):
            return 1
        known = self._weights.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        if depth >= MAX_DEPTH:
            raise too_expensive(f"lists or dicts are nested more than {MAX_DEPTH} deep")
        if len(value) > MAX_SEQUENCE:
            raise too_large(f"a list or dict exceeds {MAX_SEQUENCE} items")
        total = len(value)
        for item in (x for kv in value.items() for x in kv) if isinstance(value, Mapping) \
                else value:
            total += self.weight(item, depth + 1)
            if total > MAX_WEIGHT:
                raise too_large(f"a value holds more than {MAX_WEIGHT} characters and items")
        self._weights[id(value)] = (value, total)
        return total

    def charge(self, value: Any) -> Any:
        """Checks something the template just made and pays for making it."""
        self.weight(value)
        if isinstance(value, str) and len(value) > MAX_OUTPUT_CHARS:
            raise too_large(f"a string exceeds {MAX_OUTPUT_CHARS} characters")
        if isinstance(value, str):
            self.tick(1 + len(value) // CHARS_PER_STEP)
        elif isinstance(value, list | tuple | Mapping):  # `weight` may keep it: pay for that
            self.tick(1 + len(value) // ITEMS_PER_STEP)
        else:
            self.tick()
        return value

    def text(self, value: Any) -> str:
        """`str(value)`, bounded: what `{{ }}` and `~` print."""
        if isinstance(value, str):
            return value
        self.weight(value)
        return self.charge(str(value))

    def concat(self, parts: Iterable[str]) -> str:
        """Joins a block's output (macros, `caller()`, `{% set %}` and `{% filter %}` blocks):
        the total is checked before the join allocates it."""
        parts = list(parts)
        size = sum(map(len, parts))
        if size > MAX_OUTPUT_CHARS:
            raise too_large(f"a block's output exceeds {MAX_OUTPUT_CHARS} characters")
        self.tick(1 + size // CHARS_PER_STEP)
        return "".join(parts)

    def join(self, values: list[Any]) -> str:
        """The `~` operator."""
        return self.concat([self.text(v) for v in values])


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def percent_format_size(budget: Budget, fmt: Any, args: Any) -> int:
    """An upper bound (up to `str()`'s constant factor) on `fmt % args`, before computing it:
    the widths and precisions in `fmt` plus what the arguments hold."""
    if not isinstance(fmt, str):
        return 0
    size = len(fmt) + budget.weight(args)
    for match in _PERCENT_SPEC.finditer(fmt):
        for number in match.groups():
            if number == "*":
                raise too_expensive("a '*' width or precision in a format is not allowed")
            if number:
                size += int(number) if len(number) < 8 else MAX_OUTPUT_CHARS + 1
    return size
