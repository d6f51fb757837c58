"""Tenant knock-out rules in CEL, sandboxed: bounded size and cost, no regexes, errors as data.

A rule is a CEL expression that must evaluate to true for the application to pass. CEL has no
loops, I/O or assignment; what is left to bound here is input size (expression length, nesting,
and the number of rules), the one costly builtin, `matches` (a tenant regex over applicant
strings could backtrack for seconds), and nested comprehensions, whose cost multiplies: a rule's
estimated cost (`rule_cost`) must stay under `MAX_RULE_COST` steps, and evaluation is metered
(`rule_meter`) so that it stops at its budget whatever the estimate said. Evaluation never
raises: an unknown field, a type mismatch, a division by zero or a spent budget comes back as a
`RuleResult` with `error` set, and the decision refers such an application to a person.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from . import rule_cost, rule_meter
from .rule_meter import Budget, BudgetExceeded

MAX_EXPRESSION = 1000  # characters
MAX_NESTING = 12  # parentheses, brackets and braces
MAX_RULES = 50
ROOTS = ("application", "applicant", "score", "duplicates")
#: Steps (node visits and comprehension iterations) one rule and one policy may be estimated to
#: take; the runtime budgets are the same figures, so an accepted rule never runs out.
MAX_RULE_COST = rule_meter.RULE_STEPS
MAX_POLICY_COST = rule_meter.DECISION_STEPS
#: `matches`: regex backtracking; `reduce`: a celpy extension whose accumulator can double a
#: string at every step (and that the cost estimate does not model).
FORBIDDEN_FUNCTIONS = frozenset({"matches", "reduce"})
_IDENT_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")

_lock = threading.Lock()
_env: Any = None


def _environment() -> Any:
    """celpy's Environment builds a lark parser (~0.25 s): once per process, on first use."""
    global _env
    with _lock:
        if _env is None:
            import celpy

            _env = celpy.Environment()
        return _env


@dataclass(frozen=True, slots=True)
class RuleResult:
    rule_id: str
    passed: bool | None  # None: could not be evaluated (see error)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "passed": self.passed, "error": self.error}


class RuleSyntaxError(ValueError):
    """The expression cannot be accepted; the message says where and why."""


def _check_size(expression: str) -> None:
    if not expression.strip():
        raise RuleSyntaxError("the expression is empty")
    if len(expression) > MAX_EXPRESSION:
        raise RuleSyntaxError(f"the expression is longer than {MAX_EXPRESSION} characters")
    depth = deepest = 0
    for char in expression:  # over-counts brackets inside strings, which only errs safe
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    if deepest > MAX_NESTING:
        raise RuleSyntaxError(f"nesting deeper than {MAX_NESTING} levels")
    for name in _IDENT_CALL.findall(expression):
        if name in FORBIDDEN_FUNCTIONS:
            raise RuleSyntaxError(f"the function {name}() is not allowed in rules")


@lru_cache(maxsize=512)
def compile_rule(expression: str) -> Any:
    """A runnable CEL program (cached per process: policies are immutable per version)."""
    _check_size(expression)
    import celpy
    from celpy.celparser import CELParseError

    env = _environment()
    try:
        ast = env.compile(expression)
    except CELParseError as exc:
        line, column = getattr(exc, "line", None), getattr(exc, "column", None)
        where = f" at line {line}, column {column}" if line and column else ""
        raise RuleSyntaxError(f"syntax error{where}") from None
    except RecursionError:
        raise RuleSyntaxError("the expression is too deeply nested") from None
    try:
        return env.program(ast)
    except celpy.CELEvalError as exc:
        raise RuleSyntaxError(describe_error(exc)) from None


def describe_error(error: Any) -> str:
    """celpy errors carry (message, python exception type, details); say it in one line."""
    args = getattr(error, "args", ())
    message = str(args[0]) if args else str(error)
    if "undeclared reference" in message:
        name = re.search(r"undeclared reference to '([^']+)'", message)
        return f"unknown name {name.group(1)!r}" if name else "unknown name"
    if "no such member" in message:
        return message.replace("no such member in mapping", "unknown field")
    if "no matching overload" in message:
        detail = re.search(r"no such overload: (.*?) <class", str(args[2:]) if len(args) > 2
                           else "")
        return "operands of incompatible types" + (f" ({detail.group(1)})" if detail else "") \
            + "; compare ints with ints and doubles with doubles"
    return message[:300]


def to_cel(facts: Mapping[str, Any]) -> dict[str, Any]:
    from celpy import json_to_cel

    return {name: json_to_cel(value) for name, value in facts.items()}


def estimated_cost(expression: str, roots: Mapping[str, rule_cost.Shape]) -> int:
    """An upper bound on the steps the rule takes over facts of the given shapes (raises
    RuleSyntaxError if it does not compile)."""
    return rule_cost.estimate(compile_rule(expression).ast, roots)


def cost_problem(cost: int) -> str | None:
    """Why a rule of this estimated cost is refused, or None."""
    if cost <= MAX_RULE_COST:
        return None
    return (f"estimated cost {cost:,} exceeds the bound of {MAX_RULE_COST:,} evaluation steps "
            "(nested comprehensions multiply: each runs its body once per element)")


def evaluate(rule_id: str, expression: str, activation: Mapping[str, Any],
             budget: Budget | None = None) -> RuleResult:
    """Runs one rule over CEL values from `to_cel` within `budget` (a decision's, shared by
    its rules; a fresh one if None); never raises."""
    import celpy

    try:
        program = compile_rule(expression)
        value = rule_meter.run(program, activation, budget or Budget())
    except RuleSyntaxError as exc:
        return RuleResult(rule_id, None, str(exc))
    except BudgetExceeded as exc:
        return RuleResult(rule_id, None, str(exc))
    except celpy.CELEvalError as exc:
        return RuleResult(rule_id, None, describe_error(exc))
    except (RecursionError, MemoryError, ValueError, TypeError, ArithmeticError) as exc:
        return RuleResult(rule_id, None, f"evaluation failed: {type(exc).__name__}")
    if isinstance(value, celpy.CELEvalError):
        return RuleResult(rule_id, None, describe_error(value))
    if not isinstance(value, bool):  # celpy's BoolType subclasses int, not bool
        from celpy.celtypes import BoolType

        if not isinstance(value, BoolType):
            return RuleResult(rule_id, None,
                              f"evaluates to {type(value).__name__.removesuffix('Type').lower()}"
                              ", not a boolean")
    return RuleResult(rule_id, bool(value))


def expression_problems(expression: str, sample: Mapping[str, Any]) -> str | None:
    """Why a rule cannot be accepted, or None: compiles it and dry-runs it on sample facts
    (catching unknown fields and type mismatches on the paths the sample takes). Its cost is
    the caller's to bound first (`estimated_cost`, `cost_problem`): the dry run is metered."""
    try:
        compile_rule(expression)
    except RuleSyntaxError as exc:
        return str(exc)
    result = evaluate("dry-run", expression, to_cel(sample))
    return result.error
