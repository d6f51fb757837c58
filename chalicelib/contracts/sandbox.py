"""Tenant templates rendered in Jinja2's immutable sandbox, with limits on size, time and output.

The sandbox refuses access to unsafe attributes (`__class__`, `__globals__`, ...) and mutation of
the context; on top of it every step a template takes is metered against one budget (see
`budget`): loop iterations (through an AST rewrite, `metering.Meter`), filters and tests,
attribute and item access, calls and operators, and each value it makes is size-checked before
it can grow. Every failure becomes a `TemplateProblem` (a 422 at the API), never a crash.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from chalicelib.contracts import metering
from chalicelib.contracts.budget import (
    MAX_INT_BITS,
    MAX_OUTPUT_CHARS,
    MAX_RENDER_SECONDS,
    MAX_SEQUENCE,
    MAX_STEPS,
    MAX_TEMPLATE_CHARS,
    Budget,
    TemplateProblem,
    percent_format_size,
    too_expensive,
    too_large,
)

__all__ = ["MAX_OUTPUT_CHARS", "MAX_RENDER_SECONDS", "MAX_SEQUENCE",
           "MAX_STEPS", "MAX_TEMPLATE_CHARS", "TemplateProblem", "check_syntax", "render"]

# Methods a template may call on strings, lists and dicts: none of them makes more than its
# input holds. Width and repetition methods (center, ljust, zfill, expandtabs, format, join,
# replace, ...) are refused; their filters are there, with a bound.
SAFE_METHODS = frozenset({
    "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha",
    "isdecimal", "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "lower",
    "lstrip", "partition", "removeprefix", "removesuffix", "rfind", "rindex", "rpartition",
    "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title",
    "upper", "get", "items", "keys", "values",
})


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, budget: Budget) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, trim_blocks=True,
                         lstrip_blocks=True, keep_trailing_newline=True,
                         finalize=budget.text)
        self.budget = budget
        self.globals = {"range": self._range}
        self.filters = metering.metered_filters(budget, self.filters)
        self.tests = metering.metered_tests(budget, self.tests)
        self.concat = budget.concat  # type: ignore[assignment]  # what compiled blocks join with

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        metering.Meter().visit(tree)
        return tree

    def _range(self, *args: int) -> Iterator[int]:
        span = range(*args)
        if len(span) > MAX_STEPS:
            raise too_expensive(f"range exceeds {MAX_STEPS} steps")
        for value in span:
            self.budget.tick()
            yield value

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, str | list | tuple | dict) and callable(value) \
                and attr not in SAFE_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> None:
        """`str.format` and `format_map` are refused like any unlisted method (a width in the
        format spec allocates before anything could check it); the `format` filter is bounded."""
        return None

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.budget.tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.budget.tick()
        return self.budget.charge(super().getitem(obj, argument)) \
            if isinstance(argument, slice) else super().getitem(obj, argument)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.budget.tick()
        if operator == "**" and isinstance(left, int) and isinstance(right, int) \
                and right > 0 and max(left.bit_length(), 1) * right > MAX_INT_BITS:
            raise too_expensive(f"a power exceeds {MAX_INT_BITS} bits")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                if (isinstance(seq, str | list | tuple) and isinstance(count, int)
                        and len(seq) * max(count, 0) > MAX_SEQUENCE):
                    raise too_expensive(f"a repetition exceeds {MAX_SEQUENCE} items")
        if operator == "%" and percent_format_size(self.budget, left, right) > MAX_OUTPUT_CHARS:
            raise too_large(f"a format would make more than {MAX_OUTPUT_CHARS} characters")
        return self.budget.charge(self.binop_table[operator](left, right))

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        self.budget.tick()
        if isinstance(__obj, LoopContext) and args:  # `loop(children)` of a recursive loop
            args = (self.budget.iterate(args[0]), *args[1:])
        return self.budget.charge(super().call(__context, __obj, *args, **kwargs))


def _parse(env: _Environment, source: str) -> nodes.Template:
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateProblem(f"the template exceeds {MAX_TEMPLATE_CHARS} characters",
                              "template_too_large")
    try:
        return env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(exc.message or "syntax error", "template_syntax", exc.lineno) \
            from None
    except RecursionError:  # e.g. thousands of nested parentheses: the parser recurses
        raise TemplateProblem("the template nests too deeply to parse", "template_syntax") \
            from None


def check_syntax(source: str) -> None:
    _parse(_Environment(Budget(MAX_RENDER_SECONDS)), source)


def render(source: str, context: Mapping[str, Any], *,
           seconds: float = MAX_RENDER_SECONDS, max_chars: int = MAX_OUTPUT_CHARS) -> str:
    """Renders `source` with `context`; raises TemplateProblem for anything the sandbox refuses,
    an undefined name, a runtime error in the template, or a limit reached."""
    budget = Budget(seconds)
    env = _Environment(budget)
    try:
        template = env.from_string(_parse(env, source))
        out: list[str] = []
        size = 0
        for chunk in template.generate(**context):
            size += len(chunk)
            if size > max_chars:
                raise TemplateProblem(f"the document exceeds {max_chars} characters",
                                      "render_too_large")
            budget.tick(0)
            out.append(chunk)
        return "".join(out)
    except TemplateProblem:
        raise
    except SecurityError as exc:
        raise TemplateProblem(f"refused by the sandbox: {exc}", "template_unsafe") from None
    except TemplateError as exc:
        raise TemplateProblem(exc.message or type(exc).__name__, "template_error") from None
    except (RecursionError, MemoryError):
        raise too_expensive("the template recurses too deeply or needs too much memory") \
            from None
    except Exception as exc:  # a template may raise anything a filter or test raises
        raise TemplateProblem(f"{type(exc).__name__}: {exc}"[:300], "template_error") from None
