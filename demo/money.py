"""Money in the demo: integer minor units inside, decimal strings on the wire (CNY, 2 places).

The conversions are the API's own (chalicelib.lending.money): exact, never through a float.
"""

from __future__ import annotations

from chalicelib.lending.money import format_amount, money_json, parse_amount

CURRENCY = "CNY"


def minor(amount: str | dict[str, str]) -> int:
    """'123.45' or {"amount": "123.45", ...} → 12345."""
    text = amount["amount"] if isinstance(amount, dict) else amount
    return parse_amount(text, CURRENCY, allow_negative=True)


def text(units: int) -> str:
    return format_amount(units, CURRENCY)


def money(units: int) -> dict[str, str]:
    return money_json(units, CURRENCY)


def grouped(units: int) -> str:
    """For people: 1,234,567.89."""
    whole, _, cents = text(abs(units)).partition(".")
    return f"{'-' if units < 0 else ''}{int(whole):,}.{cents}"
