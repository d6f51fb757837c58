"""Money: integer minor units inside, the currency always beside the amount, Decimal at the edges.

Amounts cross the API as decimal strings (`"1234.56"`); JSON numbers are refused because a
binary float cannot hold most cent values. Rounding is never implicit: every conversion from a
Decimal that may carry more precision than the currency names its rounding mode.
"""

from __future__ import annotations

import decimal
import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Self

import moneyed
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    ValidationInfo,
    field_validator,
)

from .errors import LendingError

#: Exact arithmetic for money and rates: wide enough that only the final, explicit rounding
#: to minor units ever loses precision (a 40-digit intermediate cannot straddle a half-unit
#: boundary for the rationals a schedule produces).
MONEY_CONTEXT = decimal.Context(
    prec=50,
    rounding=decimal.ROUND_HALF_EVEN,
    Emax=10**6,
    Emin=-(10**6),
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)

#: At most this many digits in an amount: far above any loan, far below DynamoDB's 38 digits.
MAX_AMOUNT_DIGITS = 20

# ISO 4217 codes with no minor unit ("N.A." exponent): metals, SDR, test and no-currency codes.
_NON_MONETARY = frozenset(
    {"XAU", "XAG", "XPD", "XPT", "XDR", "XBA", "XBB", "XBC", "XBD", "XTS", "XXX", "XSU", "XUA"}
)

_AMOUNT_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")

CurrencyLike = str | moneyed.Currency


class Rounding(StrEnum):
    """How a value with more precision than the target is brought to it.

    half_up rounds halves away from zero (the commercial rule); half_even is banker's rounding;
    down/up are toward/away from zero; ceiling/floor are toward +inf/-inf.
    """

    HALF_UP = "half_up"
    HALF_EVEN = "half_even"
    DOWN = "down"
    UP = "up"
    CEILING = "ceiling"
    FLOOR = "floor"

    @property
    def decimal_mode(self) -> str:
        return _DECIMAL_MODES[self]


_DECIMAL_MODES = {
    Rounding.HALF_UP: decimal.ROUND_HALF_UP,
    Rounding.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    Rounding.DOWN: decimal.ROUND_DOWN,
    Rounding.UP: decimal.ROUND_UP,
    Rounding.CEILING: decimal.ROUND_CEILING,
    Rounding.FLOOR: decimal.ROUND_FLOOR,
}


class MoneyError(LendingError):
    """An amount or currency that cannot be money (bad syntax, precision or code)."""


def currency_code(currency: CurrencyLike) -> str:
    """The validated ISO 4217 alphabetic code; raises MoneyError for unknown or non-monetary."""
    code = currency.code if isinstance(currency, moneyed.Currency) else currency
    if not isinstance(code, str) or not _CURRENCY_RE.fullmatch(code):
        raise MoneyError.single(
            "currency", "currency must be a 3-letter upper-case ISO 4217 code", "currency_syntax"
        )
    if code in _NON_MONETARY:
        raise MoneyError.single(
            "currency", f"{code} has no minor unit and cannot be lent", "currency_not_monetary"
        )
    try:
        moneyed.get_currency(code)
    except moneyed.CurrencyDoesNotExist:
        raise MoneyError.single(
            "currency", f"unknown ISO 4217 currency {code}", "currency_unknown", currency=code
        ) from None
    return code


def currency_exponent(currency: CurrencyLike) -> int:
    """Number of decimal places of the currency's minor unit (CNY/USD/EUR 2, JPY 0, KWD 3)."""
    code = currency_code(currency)
    sub_unit = moneyed.get_currency(code).sub_unit
    exponent = len(str(sub_unit)) - 1
    if sub_unit != 10**exponent:  # pragma: no cover - ISO 4217 has only powers of ten today
        raise MoneyError.single("currency", f"{code} minor unit is not decimal", "currency_unit")
    return exponent


def minor_per_major(currency: CurrencyLike) -> int:
    """Minor units in one major unit (100 for CNY, 1 for JPY)."""
    return 10 ** currency_exponent(currency)


def parse_amount(
    text: str, currency: CurrencyLike, *, allow_negative: bool = False, field: str = "amount"
) -> int:
    """A decimal string in major units → integer minor units, refusing anything ambiguous.

    Accepted: `"1234.56"`, `"1234.5"`, `"0"`, `"1234"`. Refused, each with its own error type:
    non-strings (floats, ints), exponents, NaN/Infinity, signs other than a leading `-` (and that
    only with `allow_negative`), spaces, separators, and more decimal places than the currency has
    (`"1.000"` for CNY is refused rather than silently read as 1.00).
    """
    if not isinstance(text, str):
        raise MoneyError.single(
            field,
            f'amount must be a decimal string such as "12.34", not {type(text).__name__}',
            "amount_type",
        )
    if not _AMOUNT_RE.fullmatch(text):
        raise MoneyError.single(
            field,
            f'amount must be a plain decimal string such as "1234.56" (got {text[:40]!r})',
            "amount_syntax",
        )
    exponent = currency_exponent(currency)
    negative = text.startswith("-")
    digits = text[1:] if negative else text
    whole, _, frac = digits.partition(".")
    if len(frac) > exponent:
        code = currency_code(currency)
        raise MoneyError.single(
            field,
            f"{code} amounts have at most {exponent} decimal places (got {len(frac)} in {text!r})",
            "amount_precision",
            currency=code,
            max_places=exponent,
        )
    if len(whole.lstrip("0")) + exponent > MAX_AMOUNT_DIGITS:
        raise MoneyError.single(
            field,
            f"amount has more than {MAX_AMOUNT_DIGITS} significant digits",
            "amount_too_large",
        )
    minor = int(whole) * 10**exponent + int(frac.ljust(exponent, "0") or "0")
    if negative and minor != 0 and not allow_negative:
        raise MoneyError.single(field, "amount must not be negative", "amount_negative")
    return -minor if negative else minor


def format_amount(minor: int, currency: CurrencyLike) -> str:
    """Integer minor units → the canonical decimal string (`123456` CNY → `"1234.56"`)."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"minor units must be int, not {type(minor).__name__}")
    exponent = currency_exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exponent)
    return f"{sign}{whole}.{frac:0{exponent}d}" if exponent else f"{sign}{whole}"


def to_decimal(minor: int, currency: CurrencyLike) -> Decimal:
    """Integer minor units → exact Decimal major units (for the edges: moneyed, reports)."""
    return Decimal(minor).scaleb(-currency_exponent(currency), MONEY_CONTEXT)


def round_minor(value: Decimal | int, mode: Rounding, unit: int = 1) -> int:
    """A Decimal count of *minor* units → an int that is a multiple of `unit`, by `mode`."""
    if isinstance(value, float):
        raise TypeError("floats never touch money; pass a Decimal")
    if unit < 1:
        raise ValueError("rounding unit must be a positive number of minor units")
    units = MONEY_CONTEXT.divide(Decimal(value), unit).quantize(
        Decimal(1), rounding=mode.decimal_mode, context=MONEY_CONTEXT
    )
    return int(units) * unit


def to_minor(amount: Decimal, currency: CurrencyLike, mode: Rounding) -> int:
    """A Decimal in *major* units (maybe over-precise) → minor units, rounded by `mode`."""
    if not isinstance(amount, Decimal):
        raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}")
    if not amount.is_finite():
        raise MoneyError.single("amount", "amount must be finite", "amount_not_finite")
    return round_minor(amount.scaleb(currency_exponent(currency), MONEY_CONTEXT), mode)


def to_moneyed(minor: int, currency: CurrencyLike) -> moneyed.Money:
    return moneyed.Money(to_decimal(minor, currency), currency_code(currency))


def from_moneyed(money: moneyed.Money) -> tuple[int, str]:
    """A moneyed.Money → (minor units, code); refuses values finer than the minor unit."""
    code = money.currency.code
    exponent = currency_exponent(code)
    scaled = money.amount.scaleb(exponent, MONEY_CONTEXT)
    if scaled != scaled.to_integral_value():
        raise MoneyError.single(
            "amount", f"{money.amount} has more than {exponent} decimal places", "amount_precision"
        )
    return int(scaled), code


# --- pydantic types for the API edge -------------------------------------------------------

DecimalString = Annotated[
    StrictStr,
    Field(
        pattern=r"^-?[0-9]+(\.[0-9]+)?$",
        max_length=MAX_AMOUNT_DIGITS + 2,
        description='Decimal string in major units, e.g. "1234.56"; JSON numbers are refused.',
        examples=["1234.56"],
    ),
]
"""A decimal string whose scale is checked later against a sibling currency."""


def _check_currency(value: str) -> str:
    try:
        return currency_code(value)
    except MoneyError as exc:
        raise ValueError(exc.problems[0].msg) from None


CurrencyCode = Annotated[
    StrictStr,
    Field(min_length=3, max_length=3, description="ISO 4217 alphabetic code", examples=["CNY"]),
]


class Money(BaseModel):
    """JSON money: `{"amount": "1234.56", "currency": "CNY"}` (non-negative, exact)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # currency is declared first so the amount validator can check its scale against it.
    currency: CurrencyCode
    amount: DecimalString

    @field_validator("currency")
    @classmethod
    def _currency_known(cls, value: str) -> str:
        return _check_currency(value)

    @field_validator("amount")
    @classmethod
    def _amount_fits_currency(cls, value: str, info: ValidationInfo) -> str:
        currency = info.data.get("currency")
        if currency is None:  # the currency already failed; its error says so
            return value
        try:
            parse_amount(value, currency)
        except MoneyError as exc:
            raise ValueError(exc.problems[0].msg) from None
        return value

    @property
    def minor(self) -> int:
        return parse_amount(self.amount, self.currency)

    @classmethod
    def of_minor(cls, minor: int, currency: CurrencyLike) -> Self:
        return cls(amount=format_amount(minor, currency), currency=currency_code(currency))

    def to_moneyed(self) -> moneyed.Money:
        return to_moneyed(self.minor, self.currency)


def money_json(minor: int, currency: CurrencyLike) -> dict[str, Any]:
    """The JSON shape of an amount, for renderers that do not want a model instance."""
    return {"amount": format_amount(minor, currency), "currency": currency_code(currency)}
