"""Puts the budget into a template: metered filters and tests, and an AST rewrite for what the
environment has no hook for (plain `for` loops, `~`, and list/tuple/dict literals).

Rewriting the parsed tree, rather than the generated Python, keeps us on jinja's public node
API: each metered construct becomes a call of a filter whose name no template can spell (it
has a space), so a template cannot call or replace it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from numbers import Number
from typing import Any

from jinja2 import nodes
from jinja2.utils import _PassArg
from jinja2.visitor import NodeTransformer

from chalicelib.contracts.budget import (
    MAX_OUTPUT_CHARS,
    MAX_SEQUENCE,
    Budget,
    percent_format_size,
    too_expensive,
    too_large,
)

ITERATE, JOIN, CHARGE = "metered iteration", "metered concatenation", "metered literal"

# Filters that cannot be bounded cheaply (output or time superlinear in their arguments: json
# and pprint indentation per nesting level, textwrap's regexes) or make no sense in a contract.
REMOVED_FILTERS = frozenset({"tojson", "pprint", "wordwrap", "urlize", "random"})


def _center(budget: Budget, value: Any, width: Any = 80) -> int:
    return max(budget.weight(value), width if isinstance(width, int) else 0)


def _indent(budget: Budget, s: Any, width: Any = 4, *_: Any, **__: Any) -> int:
    pad = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    lines = s.count("\n") + 1 if isinstance(s, str) else budget.weight(s)
    return budget.weight(s) + lines * pad


def _replace(budget: Budget, s: Any, old: Any, new: Any, count: Any = None) -> int:
    text, old, new = (x if isinstance(x, str) else str(x) for x in (s, old, new))
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * len(new)


def _join(budget: Budget, value: Any, d: Any = "", attribute: Any = None) -> int:
    items = budget.weight(value)
    return items + max(len(value) - 1, 0) * budget.weight(d) if hasattr(value, "__len__") \
        else items


def _format(budget: Budget, value: Any, *args: Any, **kwargs: Any) -> int:
    return percent_format_size(budget, value, kwargs or args)


def _batch(budget: Budget, value: Any, linecount: Any, fill_with: Any = None) -> int:
    if isinstance(linecount, int) and linecount > MAX_SEQUENCE:
        raise too_large(f"batch makes lists of at most {MAX_SEQUENCE} items")
    return 0


def _slice(budget: Budget, value: Any, slices: Any, fill_with: Any = None) -> int:
    if isinstance(slices, int) and slices > MAX_SEQUENCE:
        raise too_large(f"slice makes at most {MAX_SEQUENCE} slices")
    return 0


def _sum(budget: Budget, iterable: Any, attribute: Any = None, start: Any = 0) -> int:
    if not isinstance(start, Number):
        raise too_expensive("sum adds numbers only (adding lists costs the square of their "
                            "length)")
    return 0


# Filters whose output can be far larger than their input: a bound on its size, in characters,
# computed from the arguments before the filter runs.
ESTIMATES: dict[str, Callable[..., int]] = {
    "center": _center, "indent": _indent, "replace": _replace, "join": _join,
    "format": _format, "batch": _batch, "slice": _slice, "sum": _sum,
}


def metered(budget: Budget, name: str, func: Callable[..., Any],
            estimate: Callable[..., int] | None = None) -> Callable[..., Any]:
    """`func` (a jinja filter or test) with a step per call, its estimate checked first and its
    result charged; `functools.wraps` keeps jinja's pass_context/eval_context/environment
    marker, so jinja still passes what the filter expects."""
    skip = 0 if _PassArg.from_obj(func) is None else 1

    @functools.wraps(func)
    def call(*args: Any, **kwargs: Any) -> Any:
        budget.tick()
        if name == "join" and len(args) > skip and isinstance(args[skip], Iterator):
            items = budget.charge(list(budget.iterate(args[skip])))
            args = (*args[:skip], items, *args[skip + 1:])
        if estimate is not None:
            try:
                size = estimate(budget, *args[skip:], **kwargs)
            except TypeError:  # wrong arguments: the filter itself says so
                size = 0
            if size > MAX_OUTPUT_CHARS:
                raise too_large(f"the {name} filter would make more than {MAX_OUTPUT_CHARS} "
                                "characters")
        return budget.charge(func(*args, **kwargs))

    return call


def metered_filters(budget: Budget, filters: dict[str, Callable[..., Any]]
                    ) -> dict[str, Callable[..., Any]]:
    table = {name: metered(budget, name, func, ESTIMATES.get(name))
             for name, func in filters.items() if name not in REMOVED_FILTERS}
    table[ITERATE] = budget.iterate
    table[JOIN] = budget.join
    table[CHARGE] = budget.charge
    return table


def metered_tests(budget: Budget, tests: dict[str, Callable[..., Any]]
                  ) -> dict[str, Callable[..., Any]]:
    return {name: metered(budget, name, func) for name, func in tests.items()}


def _filter(name: str, node: nodes.Expr) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


class Meter(NodeTransformer):
    """Rewrites a parsed template so that every `for` iterates through the budget, `~` joins
    through it, and every list, tuple or dict literal is charged (a macro calling itself with
    `[x, x]` would otherwise double a value's size per call for free)."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _filter(ITERATE, node.iter)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _filter(JOIN, nodes.List(node.nodes, lineno=node.lineno))

    def _literal(self, node: nodes.List | nodes.Tuple | nodes.Dict) -> nodes.Node:
        self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":
            return node
        return _filter(CHARGE, node)

    visit_List = visit_Tuple = visit_Dict = _literal
