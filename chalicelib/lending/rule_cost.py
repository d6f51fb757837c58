"""A static upper bound on how many evaluation steps a CEL rule can take, from its AST alone.

Why: CEL has no loops, but its comprehensions (`all`, `exists`, `exists_one`, `map`, `filter`)
nest, so four of them over a 30-element list run the body 30^4 times: a 386-character rule that
takes minutes. The estimate counts what `rule_meter` counts at run time, node visits plus one
step per comprehension iteration, and must never be below it (a property test checks this):

- a plain node costs 1 plus its children (both arms of `&&`, `||` and `?:`, as if none
  short-circuits);
- a comprehension costs 1 + its range + size(range) x (1 + its body), the body costed with the
  iteration variable bound to the range's element shape, so nesting multiplies;
- sizes come from `Shape`s: a list or map literal has its element count, `map`/`filter` the
  size of their range, `a + b` the sum, a string literal its length, a field of the facts the
  largest size the schema allows (`roots`), and anything else `UNKNOWN_SIZE`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # lark comes with celpy, imported only when a rule is compiled
    import lark

#: The request body limit (chalicelib/api/http.py): no string, list or map that reaches the
#: facts can be longer, so it bounds a fact without a schema bound and anything the estimator
#: cannot size (e.g. a function's result).
UNKNOWN_SIZE = 64 * 1024
COMPREHENSIONS = frozenset({"all", "exists", "exists_one", "map", "filter"})
#: Functions and methods whose result is a scalar: nothing to iterate over.
SCALAR_FUNCTIONS = frozenset({
    "size", "int", "uint", "double", "bool", "has", "type", "contains", "startsWith",
    "endsWith", "timestamp", "duration", "getDate", "getDayOfMonth", "getDayOfWeek",
    "getDayOfYear", "getFullYear", "getMonth", "getHours", "getMilliseconds", "getMinutes",
    "getSeconds"})
#: The longest `string()` of a scalar (an int, a double, a bool, a timestamp).
SCALAR_TEXT = 40


@dataclass(frozen=True, slots=True)
class Shape:
    """An upper bound on a value's size: how many items iterating over it yields (`length`),
    the shape of those items, of its values (a map's values, a list's elements) and, for a
    record of known fields, of each field."""

    length: int = 0
    item: Shape | None = None  # None: unknown (a scalar has no items, a string has chars)
    value: Shape | None = None
    fields: Mapping[str, Shape] | None = field(default=None, hash=False, compare=False)
    text: bool = False

    def items(self) -> Shape:
        if self.text:
            return CHAR
        if self.item is not None:
            return self.item
        return SCALAR if self.length == 0 else UNKNOWN

    def values(self) -> Shape:
        if self.text:
            return CHAR
        if self.value is not None:
            return self.value
        return self.items()

    @property
    def opaque(self) -> bool:
        """Items of unknown shape (UNKNOWN, or what the estimator cannot see into)."""
        return self.length > 0 and self.item is None and not self.text

    def member(self, name: str) -> Shape:
        if self.fields is not None and name in self.fields:
            return self.fields[name]
        return self.values()


SCALAR = Shape()
CHAR = Shape(1, text=True)
UNKNOWN = Shape(UNKNOWN_SIZE)


def text(length: int) -> Shape:
    return Shape(length, text=True)


def record(fields: Mapping[str, Shape]) -> Shape:
    """A map of known fields (the facts' roots): iterating yields its keys."""
    longest = max(map(len, fields), default=0)
    return Shape(len(fields), text(longest), join(*fields.values()), dict(fields))


def join(*shapes: Shape) -> Shape:
    """The least shape bounding all of them (e.g. both arms of a ternary)."""
    result = SCALAR
    for shape in shapes:
        result = _join2(result, shape)
    return result


def _join2(a: Shape, b: Shape) -> Shape:
    if (a == b and a.fields == b.fields) or b == SCALAR:  # a scalar has nothing to iterate
        return a
    if a == SCALAR:
        return b
    if a.opaque or b.opaque:
        return Shape(max(a.length, b.length))
    if a.text and b.text:
        return text(max(a.length, b.length))
    return Shape(max(a.length, b.length), _join2(a.items(), b.items()),
                 _join2(a.values(), b.values()))


def _concat(a: Shape, b: Shape) -> Shape:
    if a.text and b.text:
        return text(a.length + b.length)
    return Shape(a.length + b.length, join(a.items(), b.items()), join(a.values(), b.values()))


def _trees(node: lark.Tree) -> list[lark.Tree]:
    return [c for c in node.children if not isinstance(c, str)]  # a lark Token is a str


def _token(node: lark.Tree) -> str:
    """The node's first token (an identifier, a method name), or ''."""
    return next((str(c) for c in node.children if isinstance(c, str)), "")


class _Estimator:
    """One walk of the AST giving (cost, shape) per node, with the comprehension variables in
    scope bound to the shape of their range's items."""

    def __init__(self, roots: Mapping[str, Shape]) -> None:
        self.roots = roots

    def walk(self, node: lark.Tree, scope: Mapping[str, Shape]) -> tuple[int, Shape]:
        method = getattr(self, f"_{node.data}", None)
        if method is not None:
            return method(node, scope)
        return self._plain(node, scope)

    def _children(self, node: lark.Tree, scope: Mapping[str, Shape]) -> tuple[int, list[Shape]]:
        """1 + the children's costs, and their shapes."""
        cost, shapes = 1, []
        for child in _trees(node):
            c, s = self.walk(child, scope)
            cost += c
            shapes.append(s)
        return cost, shapes

    def _lists(self, trees: list[lark.Tree], scope: Mapping[str, Shape]
               ) -> tuple[int, list[Shape]]:
        """`_children` of each tree (a literal's or a call's expression lists), summed."""
        cost, shapes = 0, []
        for tree in trees:
            c, found = self._children(tree, scope)
            cost += c
            shapes += found
        return cost, shapes

    def _plain(self, node: lark.Tree, scope: Mapping[str, Shape]) -> tuple[int, Shape]:
        """A chain node (expr → … → primary, parentheses) passes its one child's shape; an
        operator gives a scalar (a comparison, arithmetic, a negation)."""
        cost, shapes = self._children(node, scope)
        return cost, shapes[0] if len(shapes) == 1 else SCALAR

    def _expr(self, node: lark.Tree, scope: Mapping[str, Shape]) -> tuple[int, Shape]:
        cost, shapes = self._children(node, scope)
        return cost, shapes[0] if len(shapes) == 1 else join(*shapes[1:])

    def _addition(self, node: lark.Tree, scope: Mapping[str, Shape]) -> tuple[int, Shape]:
        children = _trees(node)
        if len(children) == 2 and children[0].data == "addition_add":
            left_cost, left = self.walk(_trees(children[0])[0], scope)
            right_cost, right = self.walk(children[1], scope)
            return 2 + left_cost + right_cost, _concat(left, right)
        return self._plain(node, scope)

    def _literal(self, node: lark.Tree, scope: Mapping[str, Shape]) -> tuple[int, Shape]:
        token = next(c for c in node.children if isinstance(c, str))
        if token.type in ("STRING_LIT", "MLSTRING_LIT"):
            return 1, text(len(token))  # the source spelling is never shorter than the value
        if token.type == "BYTES_LIT":
            return 1, Shape(len(token))  # bytes iterate as ints
        return 1, SCALAR

    def _ident(self, node: lark.Tree, scope: Mapping[str, Shape]) -> tuple[int, Shape]:
        name = _token(node)
        if name in scope:
            return 1, scope[name]
        return 1, self.roots.get(name, UNKNOWN)

    def _dot_ident(self, node: lark.Tree, scope: Mapping[str, Shape]) -> tuple[int, Shape]:
        return 1, self.roots.get(_token(node), UNKNOWN)

    def _member_dot(self, node: lark.Tree, scope: Mapping[str, Shape]) -> tuple[int, Shape]:
        cost, (shape,) = self._children(node, scope)
        return cost, shape.member(_token(node))

    def _member_index(self, node: lark.Tree, scope: Mapping[str, Shape]) -> tuple[int, Shape]:
        cost, shapes = self._children(node, scope)
        return cost, shapes[0].values()

    def _list_lit(self, node: lark.Tree, scope: Mapping[str, Shape]) -> tuple[int, Shape]:
        cost, shapes = self._lists(_trees(node), scope)
        return 1 + cost, Shape(len(shapes), join(*shapes))

    def _map_lit(self, node: lark.Tree, scope: Mapping[str, Shape]) -> tuple[int, Shape]:
        cost, shapes = self._lists(_trees(node), scope)
        return 1 + cost, Shape(len(shapes) // 2, join(*shapes[::2]), join(*shapes[1::2]))

    def _ident_arg(self, node: lark.Tree, scope: Mapping[str, Shape]) -> tuple[int, Shape]:
        cost, args = self._lists(_trees(node), scope)
        return 1 + cost, _call_shape(_token(node), args)

    def _member_dot_arg(self, node: lark.Tree, scope: Mapping[str, Shape]) -> tuple[int, Shape]:
        children = _trees(node)
        name = _token(node)
        range_cost, range_shape = self.walk(children[0], scope)
        args = _trees(children[1]) if len(children) > 1 else []
        if name not in COMPREHENSIONS or len(args) < 2:
            cost, shapes = self._lists(children[1:], scope)
            return 1 + range_cost + cost, _call_shape(name, [range_shape, *shapes])
        variables = [_token(ident) for ident in args[0].iter_subtrees() if ident.data == "ident"]
        inner = {**scope, **{v: range_shape.items() for v in variables}}
        body_cost, body_shape = 0, SCALAR
        for body in args[1:]:
            c, body_shape = self.walk(body, inner)
            body_cost += c
        cost = 1 + range_cost + range_shape.length * (1 + body_cost)
        if name == "map":
            return cost, Shape(range_shape.length, body_shape)
        if name == "filter":
            return cost, Shape(range_shape.length, range_shape.items())
        return cost, SCALAR


def _call_shape(name: str, args: list[Shape]) -> Shape:
    """What a function or non-macro method returns: a scalar, its argument, or unknown."""
    if name in SCALAR_FUNCTIONS:
        return SCALAR
    if name == "dyn" and args:
        return args[0]
    if name == "min" and args:  # celpy's `list.min()`: one of the receiver's items
        return args[0].items()
    if name in ("string", "bytes") and args:
        first = args[0]
        if first.text:
            return first
        return text(SCALAR_TEXT) if first == SCALAR else UNKNOWN
    return UNKNOWN


def estimate(ast: lark.Tree, roots: Mapping[str, Shape]) -> int:
    """Steps an evaluation of `ast` can take at most: 1 for binding the facts + the tree."""
    cost, _ = _Estimator(roots).walk(ast, {})
    return 1 + cost
