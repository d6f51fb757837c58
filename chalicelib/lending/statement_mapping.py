"""A bank's own CSV export read through a per-channel column mapping (pure).

The mapping (see docs/statements.md) says how the file is encoded (`utf-8`, `utf-8-sig`,
`gb18030`, which covers GBK/GB2312 exports), which delimiter it uses, how many title lines come
before the header (`skip_lines`) and summary lines after the data (`skip_footer_lines`), whether
there is a header row, and where each field is: a column is its header name (needs `header`)
or its 1-based position. The type comes from an indicator column with value lists (借/贷,
D/C), from the amount's sign, or from separate debit and credit columns (an empty, `-` or
zero cell is the unused one); debits (money out) are payouts, credits (money in) collections.
Amounts use the mapping's decimal and thousands separators (grouping must be regular:
`1,234,567.89`, never `12,34`). Blank rows are skipped.

`problems` validates a mapping on its own (cross-field rules); `parse` reports every problem
in a file with its physical line and the mapped field, and returns nothing unless all is valid.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.lending.money import MoneyError, parse_amount
from chalicelib.lending.reconcile import StatementLine
from chalicelib.lending.statement import MAX_LINES, REFERENCE, LineError, StatementError

ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")
DELIMITERS = (",", ";", "\t", "|")
DIRECTIVES = re.compile(r"%(.)")
ALLOWED_DIRECTIVES = set("YymdbHMS%")
Column = int | str


@dataclass(frozen=True)
class TypeRule:
    by: str  # indicator | sign | columns
    column: Column | None = None  # indicator
    payout: tuple[str, ...] = ()  # indicator values meaning money out
    collection: tuple[str, ...] = ()
    negative: str = "payout"  # sign: what a negative amount is
    debit: Column | None = None  # columns
    credit: Column | None = None


@dataclass(frozen=True)
class Mapping:
    reference: Column
    value_date: Column
    type: TypeRule
    amount: Column | None = None
    currency: Column | None = None
    fixed_currency: str | None = None
    date_format: str = "%Y-%m-%d"
    encoding: str = "utf-8"
    delimiter: str = ","
    header: bool = True
    skip_lines: int = 0
    skip_footer_lines: int = 0
    decimal_separator: str = "."
    thousands_separator: str = ""

    @classmethod
    def of(cls, data: dict[str, Any]) -> Mapping:
        rule = dict(data["type"])
        for name in ("payout", "collection"):
            rule[name] = tuple(rule.get(name) or ())
        return cls(**{**{k: v for k, v in data.items() if k != "type"},
                      "type": TypeRule(**rule)})

    def columns(self) -> dict[str, Column]:
        """Each mapped field and its column (for the uniqueness and header checks)."""
        named = {"reference": self.reference, "value_date": self.value_date,
                 "amount": self.amount, "currency": self.currency,
                 "type/column": self.type.column, "type/debit": self.type.debit,
                 "type/credit": self.type.credit}
        return {k: v for k, v in named.items() if v is not None}


def problems(m: Mapping) -> list[tuple[str, str]]:
    """(pointer below the mapping, message) for every rule the mapping breaks."""
    out: list[tuple[str, str]] = []
    if (m.currency is None) == (m.fixed_currency is None):
        out.append(("currency", "give exactly one of currency (a column) and fixed_currency"))
    if m.type.by in ("indicator", "sign") and m.amount is None:
        out.append(("amount", f"the amount column is required when the type is by {m.type.by}"))
    if m.type.by == "columns":
        if m.amount is not None:
            out.append(("amount", "with separate debit and credit columns, give no amount"))
        for side in ("debit", "credit"):
            if getattr(m.type, side) is None:
                out.append((f"type/{side}", "required when the type is by columns"))
    if m.type.by == "indicator":
        if m.type.column is None:
            out.append(("type/column", "required when the type is by indicator"))
        for side in ("payout", "collection"):
            values = getattr(m.type, side)
            if not values or any(not v.strip() or v != v.strip() for v in values):
                out.append((f"type/{side}", "one or more values, none blank or padded"))
        if set(m.type.payout) & set(m.type.collection):
            out.append(("type/collection", "a value cannot mean both payout and collection"))
    seen: dict[Column, str] = {}
    for name, column in m.columns().items():
        if isinstance(column, str) and not m.header:
            out.append((name, "a column named by its header needs `header: true`; "
                        "or give its 1-based position"))
        if column in seen:
            out.append((name, f"the same column as {seen[column]}"))
        seen.setdefault(column, name)
    if m.thousands_separator and m.thousands_separator == m.decimal_separator:
        out.append(("thousands_separator", "must differ from the decimal separator"))
    out += [("date_format", x) for x in _date_format_problems(m.date_format)]
    return out


def _date_format_problems(fmt: str) -> list[str]:
    used = DIRECTIVES.findall(fmt)
    bad = sorted({d for d in used if d not in ALLOWED_DIRECTIVES})
    if bad:
        return ["only %Y %y %m %d %b %H %M %S and %% are supported, not "
                + " ".join("%" + d for d in bad)]
    if not ({"Y", "y"} & set(used) and {"m", "b"} & set(used) and "d" in used):
        return ["needs a year (%Y or %y), a month (%m or %b) and a day (%d)"]
    sample = datetime(2026, 11, 23, 14, 5, 6)
    try:
        back = datetime.strptime(sample.strftime(fmt), fmt)
    except (ValueError, re.error):  # re.error: a directive given twice
        back = None
    if back is None or back.date() != sample.date():
        return ["the format does not read back what it writes"]
    return []


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def parse(data: bytes, m: Mapping, channel_currency: str) -> list[StatementLine]:
    """Every line of the file through the mapping, or every problem in it (a line in
    another currency than the channel's is one)."""
    try:
        text = data.decode(m.encoding)
    except UnicodeDecodeError as exc:
        raise StatementError([LineError(_line_of(data, exc.start), "",
                                        f"not {m.encoding}: byte {exc.start} "
                                        f"({data[exc.start:exc.start + 1]!r})")]) from exc
    physical = text.splitlines(keepends=True)
    body = "".join(physical[m.skip_lines:])
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=m.delimiter, strict=True)
    rows: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                rows.append((m.skip_lines + reader.line_num, row))
    except csv.Error as exc:
        raise StatementError([LineError(m.skip_lines + reader.line_num, "",
                                        f"not valid CSV: {exc}")]) from exc
    if m.skip_footer_lines:
        rows = rows[:-m.skip_footer_lines]
    errors: list[LineError] = []
    positions = _positions(m, rows, errors)
    if errors:
        raise StatementError(errors)
    data_rows = rows[1:] if m.header else rows
    if len(data_rows) > MAX_LINES:
        raise StatementError([LineError(0, "", f"more than {MAX_LINES} lines")])
    lines = [x for number, row in data_rows
             if (x := _line(number, row, m, positions, errors)) is not None]
    errors += [LineError(x.line, "currency", f"{x.currency} is not the channel's currency "
                         f"{channel_currency}") for x in lines if x.currency != channel_currency]
    if errors:
        raise StatementError(errors)
    return lines


def _positions(m: Mapping, rows: list[tuple[int, list[str]]], errors: list[LineError]
               ) -> dict[str, int]:
    """Each field's 0-based index: names looked up in the header row."""
    header = [c.strip() for c in rows[0][1]] if m.header and rows else []
    line = rows[0][0] if rows else m.skip_lines + 1
    if m.header and not rows:
        errors.append(LineError(line, "", "the header row is missing"))
        return {}
    out: dict[str, int] = {}
    for name, column in m.columns().items():
        if isinstance(column, int):
            out[name] = column - 1
        elif header.count(column) == 1:
            out[name] = header.index(column)
        else:
            errors.append(LineError(line, name, f"the header has {header.count(column)} "
                                    f"columns named {column!r}, not one"))
    return out


def _cell(row: list[str], positions: dict[str, int], name: str) -> str | None:
    index = positions.get(name)
    return row[index].strip() if index is not None and index < len(row) else None


def _line(number: int, row: list[str], m: Mapping, positions: dict[str, int],
          errors: list[LineError]) -> StatementLine | None:
    before = len(errors)

    def need(name: str) -> str | None:
        value = _cell(row, positions, name)
        if value is None:
            errors.append(LineError(number, name, f"the row has {len(row)} columns; "
                                    f"{name} is column {positions[name] + 1}"))
        return value

    reference = need("reference") or ""
    if reference and not REFERENCE.fullmatch(reference):
        errors.append(LineError(number, "reference", "1-64 of A-Z a-z 0-9 . _ : -"))
    currency = m.fixed_currency or need("currency") or ""
    when = None
    date_text = need("value_date")
    try:
        when = datetime.strptime(date_text, m.date_format).date() if date_text is not None \
            else None
    except ValueError:
        errors.append(LineError(number, "value_date", f"{date_text[:20]!r} does not match "
                                f"{m.date_format}"))
    type_, amount = _type_and_amount(number, row, m, positions, currency, errors, need)
    if len(errors) > before or when is None or type_ is None or amount is None:
        return None
    return StatementLine(reference, type_, amount, currency, when, number)


def _type_and_amount(number: int, row: list[str], m: Mapping, positions: dict[str, int],
                     currency: str, errors: list[LineError], need: Any
                     ) -> tuple[str | None, int | None]:
    rule = m.type
    if rule.by == "columns":
        debit, credit = _cell(row, positions, "type/debit"), _cell(row, positions, "type/credit")
        filled = [(name, v) for name, v in (("type/debit", debit), ("type/credit", credit))
                  if not _blank(v)]
        if len(filled) != 1:
            errors.append(LineError(number, "type/debit", "exactly one of the debit and credit "
                                    f"columns must hold an amount (found {len(filled)})"))
            return None, None
        name, text = filled[0]
        amount = _amount(number, name, text, m, currency, signed=False, errors=errors)
        return ("payout" if name == "type/debit" else "collection"), amount
    if rule.by == "sign":
        text = need("amount")
        if text is None:
            return None, None
        amount = _amount(number, "amount", text, m, currency, signed=True, errors=errors)
        if amount is None:
            return None, None
        other = "collection" if rule.negative == "payout" else "payout"
        return (rule.negative if amount < 0 else other), abs(amount)
    indicator, text = need("type/column"), need("amount")
    type_ = "payout" if indicator in rule.payout else \
        "collection" if indicator in rule.collection else None
    if type_ is None and indicator is not None:
        errors.append(LineError(number, "type/column", f"{indicator[:20]!r} is none of "
                                + ", ".join(rule.payout + rule.collection)))
    if text is None:
        return type_, None
    return type_, _amount(number, "amount", text, m, currency, signed=False, errors=errors)


def _blank(cell: str | None) -> bool:
    """An unused debit or credit cell: empty, a dash, or zero (banks write all three)."""
    return not cell or cell == "-" or re.fullmatch(r"0+(?:[.,]0+)?", cell) is not None


def _amount(number: int, name: str, text: str, m: Mapping, currency: str, *, signed: bool,
            errors: list[LineError]) -> int | None:
    dec, group = re.escape(m.decimal_separator), re.escape(m.thousands_separator)
    digits = rf"\d{{1,3}}(?:{group}\d{{3}})+|\d+" if m.thousands_separator else r"\d+"
    sign = r"[-+]?" if signed else ""
    match = re.fullmatch(rf"({sign})({digits})(?:{dec}(\d+))?", text)
    if not match:
        errors.append(LineError(number, name, f"{text[:30]!r} is not an amount like "
                                + ("-" if signed else "") + f"1{m.thousands_separator}234"
                                f"{m.decimal_separator}56"))
        return None
    whole = match.group(2).replace(m.thousands_separator, "") if m.thousands_separator \
        else match.group(2)
    plain = whole + (f".{match.group(3)}" if match.group(3) else "")
    try:
        value = parse_amount(plain, currency)
    except MoneyError as exc:
        column = "currency" if any("currency" in p.type for p in exc.problems) else name
        errors.append(LineError(number, column, exc.problems[0].msg))
        return None
    if value == 0:
        errors.append(LineError(number, name, "must not be zero"))
        return None
    return -value if match.group(1) == "-" else value
