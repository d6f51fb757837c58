"""The CEL rules of issue 15: nested `.all()` comprehensions over a 30-element list literal,
within the 1,000-character and nesting limits (four levels: 386 characters, minutes to run)."""

from __future__ import annotations

LIST_30 = "[" + ",".join(str(i) for i in range(30)) + "]"


def nested_all(levels: int, elements: str = LIST_30, body: str | None = None) -> str:
    """`levels` comprehensions, each over `elements`, around a body using every variable."""
    names = "abcdefghijkl"[:levels]
    expression = body or " + ".join(names) + " <= 100000000"
    for name in reversed(names):
        expression = f"{elements}.all({name}, {expression})"
    return expression


FOUR_LEVELS = nested_all(4)  # 386 characters
THREE_LEVELS = nested_all(3)
assert len(FOUR_LEVELS) == 386
