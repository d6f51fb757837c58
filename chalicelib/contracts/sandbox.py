"""Tenant templates rendered in Jinja2's immutable sandbox, with limits on size, time and output.

The sandbox refuses access to unsafe attributes (`__class__`, `__globals__`, ...) and mutation of
the context; on top of it we bound the work a template may do: `range` and the `*`/`**`
operators are metered, and the output is consumed chunk by chunk against a deadline and a size
cap. Every failure becomes a `TemplateProblem` (a 422 at the API), never a crash.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_TEMPLATE_CHARS = 64 * 1024
MAX_OUTPUT_CHARS = 256 * 1024
MAX_RENDER_SECONDS = 2.0
MAX_ITERATIONS = 200_000  # total loop steps through `range`, across the whole render
MAX_SEQUENCE = 10_000  # largest result of `*` on strings or lists


class TemplateProblem(Exception):
    """Why a template cannot be used; `line` when the parser knows it.

    Not a frozen dataclass: Python code on the way up (contextlib's `__exit__`) assigns
    `__traceback__`, which a frozen instance refuses with FrozenInstanceError."""

    def __init__(self, message: str, code: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.line = message, code, line

    def __str__(self) -> str:
        return self.message if self.line is None else f"line {self.line}: {self.message}"


class _Budget:
    """Counts the render's own CPU time (this thread's), not wall time: a busy machine or a
    noisy neighbour must not turn a good template into a refused one."""

    def __init__(self, seconds: float, iterations: int) -> None:
        self.deadline = time.thread_time() + seconds
        self.iterations = iterations

    def tick(self, steps: int = 1) -> None:
        self.iterations -= steps
        if self.iterations < 0:
            raise TemplateProblem("the template loops too much", "render_too_expensive")
        if time.thread_time() > self.deadline:
            raise TemplateProblem("the template takes too long to render", "render_timeout")


class _Environment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, budget: _Budget) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, trim_blocks=True,
                         lstrip_blocks=True, keep_trailing_newline=True)
        self.budget = budget
        self.globals = {"range": self._range}

    def _range(self, *args: int) -> Iterator[int]:
        span = range(*args)
        if len(span) > MAX_ITERATIONS:
            raise TemplateProblem("range too large", "render_too_expensive")
        for value in span:
            self.budget.tick()
            yield value

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.budget.tick()
        if operator == "**":
            if isinstance(right, int) and abs(right) > 64:
                raise TemplateProblem("exponent too large", "render_too_expensive")
            return left**right
        for seq, count in ((left, right), (right, left)):
            if (isinstance(seq, str | list | tuple) and isinstance(count, int)
                    and len(seq) * max(count, 0) > MAX_SEQUENCE):
                raise TemplateProblem("repetition too large", "render_too_expensive")
        return left * right

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        self.budget.tick()
        return super().call(__context, __obj, *args, **kwargs)


def _parse(env: _Environment, source: str) -> nodes.Template:
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateProblem(f"the template exceeds {MAX_TEMPLATE_CHARS} characters",
                              "template_too_large")
    try:
        return env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(exc.message or "syntax error", "template_syntax", exc.lineno) \
            from None


def check_syntax(source: str) -> None:
    _parse(_Environment(_Budget(MAX_RENDER_SECONDS, MAX_ITERATIONS)), source)


def render(source: str, context: Mapping[str, Any], *,
           seconds: float = MAX_RENDER_SECONDS, max_chars: int = MAX_OUTPUT_CHARS) -> str:
    """Renders `source` with `context`; raises TemplateProblem for anything the sandbox refuses,
    an undefined name, a runtime error in the template, or a limit reached."""
    budget = _Budget(seconds, MAX_ITERATIONS)
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
    except RecursionError:
        raise TemplateProblem("the template recurses too deeply", "render_too_expensive") \
            from None
    except Exception as exc:  # a template may raise anything a filter or test raises
        raise TemplateProblem(f"{type(exc).__name__}: {exc}"[:300], "template_error") from None
