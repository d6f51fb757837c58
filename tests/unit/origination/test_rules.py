"""The CEL sandbox: bounded input, no regexes, and errors as data (never raised)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.lending.decision import SAMPLE_FACTS
from chalicelib.lending.rules import (
    MAX_EXPRESSION,
    RuleSyntaxError,
    compile_rule,
    evaluate,
    expression_problems,
    to_cel,
)

FACTS = to_cel(SAMPLE_FACTS)


def test_true_false_and_the_issue_example():
    assert evaluate("r", "applicant.age >= 18 && score.pd < 0.35", FACTS).passed is True
    assert evaluate("r", "duplicates.open_applications > 0", FACTS).passed is False
    assert evaluate("r", "application.amount_minor <= 2000000 && "
                         "applicant.region in ['CN-BJ', 'CN-SH']", FACTS).passed is True


def test_problems_are_precise():
    cases = {
        "applicant.agee > 1": "unknown field: 'agee'",
        "applicant.age > 1.5": "incompatible types",
        "score.score": "evaluates to int, not a boolean",
        "nobody > 1": "unknown name 'nobody'",
        "applicant.age >=": "syntax error at line 1, column",
        "1 / 0 == 1": "divide by zero",
        "applicant.region.matches('^(a+)+$')": "matches() is not allowed",
        "(" * 13 + "true" + ")" * 13: "nesting deeper than 12",
        "true && " * 200 + "true": f"longer than {MAX_EXPRESSION}",
        "   ": "empty",
    }
    for expression, expected in cases.items():
        why = expression_problems(expression, SAMPLE_FACTS)
        assert why is not None and expected in why, (expression, why)


def test_errors_at_evaluation_come_back_as_results():
    result = evaluate("r", "applicant.characteristics.housing == 'own'", FACTS)
    assert result.passed is None and "housing" in (result.error or "")
    assert evaluate("r", "(((", FACTS).error.startswith("syntax error")


def test_compiled_programs_are_cached():
    assert compile_rule("applicant.age >= 21") is compile_rule("applicant.age >= 21")
    try:
        compile_rule("applicant.age >=")
    except RuleSyntaxError:
        pass
    else:
        raise AssertionError("expected a syntax error")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcdefgilnoprstuy_.()[]{}<>=!&|+-*/%?:'\" 0123456789", max_size=60))
def test_evaluate_never_raises(expression):
    result = evaluate("fuzz", expression, FACTS)
    assert result.passed in (True, False, None)
    assert (result.passed is None) == (result.error is not None)
