"""Money at the edges: decimal strings in, integer minor units inside, explicit rounding."""

from __future__ import annotations

from decimal import Decimal

import moneyed
import pytest
from pydantic import ValidationError

from chalicelib.lending.money import (
    Money,
    MoneyError,
    Rounding,
    currency_exponent,
    format_amount,
    from_moneyed,
    minor_per_major,
    money_json,
    parse_amount,
    round_minor,
    to_decimal,
    to_minor,
    to_moneyed,
)


@pytest.mark.parametrize(
    ("code", "exponent"),
    [("CNY", 2), ("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3)],
)
def test_currency_exponent_follows_iso_4217(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent
    assert currency_exponent(moneyed.get_currency(code)) == exponent
    assert minor_per_major(code) == 10**exponent


@pytest.mark.parametrize(
    ("code", "error_type"),
    [
        ("cny", "currency_syntax"),
        ("ZZZ", "currency_unknown"),
        ("XAU", "currency_not_monetary"),
        ("CN", "currency_syntax"),
    ],
)
def test_bad_currencies_are_refused_with_their_reason(code: str, error_type: str) -> None:
    with pytest.raises(MoneyError) as info:
        currency_exponent(code)
    assert info.value.problems[0].type == error_type


@pytest.mark.parametrize(
    ("text", "code", "minor"),
    [
        ("1234.56", "CNY", 123456),
        ("1234.5", "CNY", 123450),
        ("1234", "CNY", 123400),
        ("0", "USD", 0),
        ("0.01", "EUR", 1),
        ("1234", "JPY", 1234),
        ("1.234", "KWD", 1234),
        ("007.10", "CNY", 710),
    ],
)
def test_parse_amount_reads_decimal_strings_exactly(text: str, code: str, minor: int) -> None:
    assert parse_amount(text, code) == minor


@pytest.mark.parametrize(
    ("value", "error_type"),
    [
        (12.34, "amount_type"),
        (12, "amount_type"),
        (Decimal("12.34"), "amount_type"),
        ("1e3", "amount_syntax"),
        ("1E3", "amount_syntax"),
        ("NaN", "amount_syntax"),
        ("Infinity", "amount_syntax"),
        ("+1.00", "amount_syntax"),
        (" 1.00", "amount_syntax"),
        ("1,000.00", "amount_syntax"),
        ("1.", "amount_syntax"),
        (".5", "amount_syntax"),
        ("", "amount_syntax"),
        ("1.001", "amount_precision"),
        ("1.000", "amount_precision"),
        ("-1.00", "amount_negative"),
        ("1" * 25, "amount_too_large"),
    ],
)
def test_parse_amount_refuses_anything_ambiguous(value: object, error_type: str) -> None:
    with pytest.raises(MoneyError) as info:
        parse_amount(value, "CNY")  # type: ignore[arg-type]
    assert info.value.problems[0].type == error_type
    assert info.value.problems[0].loc == ("amount",)


def test_precision_error_names_the_currency_and_limit() -> None:
    with pytest.raises(MoneyError) as info:
        parse_amount("100.5", "JPY", field="principal")
    problem = info.value.problems[0]
    assert problem.loc == ("principal",)
    assert "JPY" in problem.msg and "0 decimal places" in problem.msg


def test_negative_amounts_only_when_asked() -> None:
    assert parse_amount("-12.30", "CNY", allow_negative=True) == -1230
    assert parse_amount("-0.00", "CNY") == 0


@pytest.mark.parametrize(
    ("minor", "code", "text"),
    [
        (123456, "CNY", "1234.56"),
        (5, "USD", "0.05"),
        (-5, "USD", "-0.05"),
        (0, "EUR", "0.00"),
        (1234, "JPY", "1234"),
        (1234, "KWD", "1.234"),
    ],
)
def test_format_amount_is_the_inverse_of_parse(minor: int, code: str, text: str) -> None:
    assert format_amount(minor, code) == text
    assert parse_amount(text, code, allow_negative=True) == minor


def test_format_amount_refuses_non_integers() -> None:
    with pytest.raises(TypeError):
        format_amount(12.5, "CNY")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_amount(True, "CNY")


@pytest.mark.parametrize(
    ("value", "mode", "expected"),
    [
        ("2.5", Rounding.HALF_UP, 3),
        ("-2.5", Rounding.HALF_UP, -3),
        ("2.5", Rounding.HALF_EVEN, 2),
        ("3.5", Rounding.HALF_EVEN, 4),
        ("2.9", Rounding.DOWN, 2),
        ("-2.9", Rounding.DOWN, -2),
        ("2.1", Rounding.UP, 3),
        ("-2.1", Rounding.UP, -3),
        ("-2.1", Rounding.CEILING, -2),
        ("-2.1", Rounding.FLOOR, -3),
        ("2.1", Rounding.CEILING, 3),
        ("2.9", Rounding.FLOOR, 2),
    ],
)
def test_round_minor_applies_each_mode(value: str, mode: Rounding, expected: int) -> None:
    assert round_minor(Decimal(value), mode) == expected


def test_round_minor_to_a_unit() -> None:
    assert round_minor(Decimal("88849"), Rounding.HALF_UP, unit=100) == 88800
    assert round_minor(Decimal("88850"), Rounding.HALF_UP, unit=100) == 88900
    assert round_minor(Decimal("88801"), Rounding.UP, unit=100) == 88900
    with pytest.raises(TypeError):
        round_minor(1.5, Rounding.HALF_UP)  # type: ignore[arg-type]


def test_to_minor_rounds_major_units_explicitly() -> None:
    assert to_minor(Decimal("888.48788"), "CNY", Rounding.HALF_UP) == 88849
    assert to_minor(Decimal("0.125"), "USD", Rounding.HALF_EVEN) == 12
    assert to_minor(Decimal("0.125"), "USD", Rounding.HALF_UP) == 13
    assert to_minor(Decimal("1234.5"), "JPY", Rounding.DOWN) == 1234
    with pytest.raises(TypeError):
        to_minor(1.5, "CNY", Rounding.HALF_UP)  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        to_minor(Decimal("NaN"), "CNY", Rounding.HALF_UP)


def test_moneyed_round_trip() -> None:
    money = to_moneyed(123456, "CNY")
    assert money == moneyed.Money("1234.56", "CNY")
    assert from_moneyed(money) == (123456, "CNY")
    assert to_decimal(123456, "CNY") == Decimal("1234.56")
    with pytest.raises(MoneyError):
        from_moneyed(moneyed.Money("1.005", "CNY"))


def test_money_model_reads_json_strings() -> None:
    money = Money.model_validate_json('{"amount": "1234.56", "currency": "CNY"}')
    assert money.minor == 123456
    assert Money.of_minor(123456, "CNY") == money
    assert money.model_dump() == {"currency": "CNY", "amount": "1234.56"}
    assert money_json(123456, "CNY") == {"amount": "1234.56", "currency": "CNY"}
    assert money.to_moneyed() == moneyed.Money("1234.56", "CNY")


@pytest.mark.parametrize(
    ("payload", "loc"),
    [
        ('{"amount": 1234.56, "currency": "CNY"}', ("amount",)),
        ('{"amount": 1234, "currency": "CNY"}', ("amount",)),
        ('{"amount": "1e3", "currency": "CNY"}', ("amount",)),
        ('{"amount": "1.001", "currency": "CNY"}', ("amount",)),
        ('{"amount": "1.5", "currency": "JPY"}', ("amount",)),
        ('{"amount": "-1.00", "currency": "CNY"}', ("amount",)),
        ('{"amount": "1.00", "currency": "ZZZ"}', ("currency",)),
        ('{"amount": "1.00", "currency": "CNY", "scale": 2}', ("scale",)),
        ('{"amount": "1.00"}', ("currency",)),
    ],
)
def test_money_model_refuses_numbers_bad_scale_and_extras(payload: str, loc: tuple) -> None:
    with pytest.raises(ValidationError) as info:
        Money.model_validate_json(payload)
    assert [tuple(e["loc"]) for e in info.value.errors()] == [loc]


def test_money_model_refuses_python_floats_too() -> None:
    with pytest.raises(ValidationError):
        Money.model_validate({"amount": 12.5, "currency": "CNY"})
