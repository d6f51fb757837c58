"""The settlement statement file a channel provides, parsed strictly (pure).

Format (UTF-8, no BOM, comma-separated, LF or CRLF line ends, RFC 4180 quoting):

    reference,type,amount,currency,value_date
    PAY-000123,payout,1500.00,CNY,2026-03-01
    COL-000077,collection,320.50,CNY,2026-03-01

- header exactly as above; one line per money movement; no blank lines, no extra columns;
- reference: 1-64 of `A-Z a-z 0-9 . _ : -` (the channel's own id, stored by the ledger in
  the journal's metadata as `channel_reference`);
- type: `payout` (money out to a borrower) or `collection` (money in from a borrower);
- amount: positive plain decimal in major units, at most the currency's minor digits;
- currency: ISO 4217 code; value_date: ISO date.

Every problem is reported at once with its line and column (every one: the file's line limit
bounds them); nothing is half-read. camt053.py and statement_mapping.py read the other formats
into the same `StatementLine`s and report through the same `StatementError`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date

from chalicelib.lending.money import MoneyError, format_amount, parse_amount
from chalicelib.lending.reconcile import TYPES, StatementLine

HEADER = ("reference", "type", "amount", "currency", "value_date")
REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
MAX_LINES = 100_000


@dataclass(frozen=True)
class LineError:
    """One problem: the file's 1-based line (0: the file as a whole) and the column, field or
    XML element path it is in."""

    line: int
    column: str
    message: str


class StatementError(ValueError):
    def __init__(self, errors: list[LineError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the statement")
        self.errors = errors


def parse(data: bytes) -> list[StatementLine]:
    if data.startswith(b"\xef\xbb\xbf"):
        raise StatementError([LineError(1, "", "remove the byte-order mark")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StatementError([LineError(0, "", f"not UTF-8: {exc}")]) from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise StatementError([LineError(reader.line_num, "", f"not valid CSV: {exc}")]) from exc
    if not rows or tuple(rows[0]) != HEADER:
        raise StatementError([LineError(1, "", "the header must be " + ",".join(HEADER))])
    if len(rows) - 1 > MAX_LINES:
        raise StatementError([LineError(0, "", f"more than {MAX_LINES} lines")])
    errors: list[LineError] = []
    lines: list[StatementLine] = []
    for number, row in enumerate(rows[1:], start=2):
        line = _line(number, row, errors)
        if line is not None:
            lines.append(line)
    if errors:
        raise StatementError(errors)
    return lines


def _line(number: int, row: list[str], errors: list[LineError]) -> StatementLine | None:
    if len(row) != len(HEADER):
        errors.append(LineError(number, "", f"expected {len(HEADER)} columns, got {len(row)}"))
        return None
    reference, type_, amount_text, currency, value_date = row
    before = len(errors)
    if not REFERENCE.fullmatch(reference):
        errors.append(LineError(number, "reference", "1-64 of A-Z a-z 0-9 . _ : -"))
    if type_ not in TYPES:
        errors.append(LineError(number, "type", "payout or collection"))
    amount = 0
    try:
        amount = parse_amount(amount_text, currency)
        if amount <= 0:
            errors.append(LineError(number, "amount", "must be positive"))
    except MoneyError as exc:
        column = "currency" if any("currency" in p.type for p in exc.problems) else "amount"
        errors.append(LineError(number, column, exc.problems[0].msg))
    try:
        when = date.fromisoformat(value_date) if len(value_date) == 10 else None
    except ValueError:
        when = None
    if when is None:
        errors.append(LineError(number, "value_date", "an ISO date, YYYY-MM-DD"))
    if len(errors) > before or when is None:
        return None
    return StatementLine(reference, type_, amount, currency, when, number)


def render(lines: list[StatementLine]) -> bytes:
    """The file for a list of lines (the sandbox channel writes its statements with this)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for x in lines:
        writer.writerow((x.reference, x.type, format_amount(x.amount, x.currency), x.currency,
                         x.value_date.isoformat()))
    return out.getvalue().encode()
