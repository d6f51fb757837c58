"""Money in the demo: integer minor units inside, decimal strings on the wire (CNY, 2 places)."""

from __future__ import annotations

from decimal import Decimal

CURRENCY = "CNY"
SCALE = 100


def minor(amount: str | dict[str, str]) -> int:
    """'123.45' or {"amount": "123.45", ...} → 12345; exact, never through a float."""
    text = amount["amount"] if isinstance(amount, dict) else amount
    value = Decimal(text) * SCALE
    if value != value.to_integral_value():
        raise ValueError(f"{text} has more than two decimals")
    return int(value)


def text(units: int) -> str:
    sign = "-" if units < 0 else ""
    whole, cents = divmod(abs(units), SCALE)
    return f"{sign}{whole}.{cents:02d}"


def money(units: int) -> dict[str, str]:
    return {"amount": text(units), "currency": CURRENCY}


def grouped(units: int) -> str:
    """For people: 1,234,567.89."""
    whole, cents = divmod(abs(units), SCALE)
    return f"{'-' if units < 0 else ''}{whole:,}.{cents:02d}"
