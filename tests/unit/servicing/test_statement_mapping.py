"""A bank's CSV through a column mapping: a GB18030 export with 借/贷, signed amounts with
thousands separators, separate debit/credit columns; the mapping's own validation; and every
problem of a bad file with its physical line and field."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.lending.statement import StatementError
from chalicelib.lending.statement_mapping import Mapping, parse, problems

# An ICBC-style export: a title line and an account line before the header, a total after.
GB_FILE = "\n".join([
    "中国工商银行 账户明细",
    "账号:6222021234567890,币种:人民币",
    "交易日期,交易流水号,借贷标志,发生额,摘要",
    "20260302,D1.1,借,\"1,500.00\",代发放款",
    "20260302,COL-6,贷,55.50,还款",
    "",
    "20260303,D2.1,借,\"12,345,678.90\",代发放款",
    "合计,,,,3笔",
]).encode("gb18030")
GB = {"encoding": "gb18030", "skip_lines": 2, "skip_footer_lines": 1,
      "reference": "交易流水号", "amount": "发生额", "fixed_currency": "CNY",
      "value_date": "交易日期", "date_format": "%Y%m%d", "thousands_separator": ",",
      "type": {"by": "indicator", "column": "借贷标志", "payout": ["借"], "collection": ["贷"]}}


def lines(data: bytes, mapping: dict, currency: str = "CNY"):
    return [(x.reference, x.type, x.amount, x.currency, x.value_date, x.line)
            for x in parse(data, Mapping.of(mapping), currency)]


def refused(data: bytes, mapping: dict, currency: str = "CNY"):
    with pytest.raises(StatementError) as caught:
        parse(data, Mapping.of(mapping), currency)
    return [(e.line, e.column, e.message) for e in caught.value.errors]


def test_a_gb18030_export_with_jie_dai_reads_with_its_physical_lines():
    assert lines(GB_FILE, GB) == [
        ("D1.1", "payout", 150000, "CNY", date(2026, 3, 2), 4),
        ("COL-6", "collection", 5550, "CNY", date(2026, 3, 2), 5),
        ("D2.1", "payout", 1234567890, "CNY", date(2026, 3, 3), 7),  # the blank line counts
    ]


def test_the_same_bytes_read_as_utf8_are_refused_with_the_offending_line():
    [(line, _field, message)] = refused(GB_FILE, {**GB, "encoding": "utf-8"})
    assert line == 1 and message.startswith("not utf-8")


def test_signed_amounts_with_european_separators_and_positions():
    data = (b"2026-03-02;EUR;D1.1;-1.500,00\n2026-03-02;EUR;COL-6;+55,50\n"
            b"2026-03-02;EUR;COL-7;1.234.567,89\n")
    mapping = {"delimiter": ";", "header": False, "value_date": 1, "currency": 2,
               "reference": 3, "amount": 4, "decimal_separator": ",",
               "thousands_separator": ".", "type": {"by": "sign"}}
    assert lines(data, mapping, "EUR") == [
        ("D1.1", "payout", 150000, "EUR", date(2026, 3, 2), 1),
        ("COL-6", "collection", 5550, "EUR", date(2026, 3, 2), 2),
        ("COL-7", "collection", 123456789, "EUR", date(2026, 3, 2), 3)]


def test_separate_debit_and_credit_columns_with_zero_in_the_unused_one():
    data = (b"ref,debit,credit,date\nD1.1,1500.00,0.00,02/03/2026\n"
            b"COL-6,,55.50,02/03/2026\nX.1,-,-,02/03/2026\nX.2,1.00,2.00,02/03/2026\n")
    mapping = {"reference": "ref", "value_date": "date", "date_format": "%d/%m/%Y",
               "fixed_currency": "CNY", "type": {"by": "columns", "debit": "debit",
                                                 "credit": "credit"}}
    found = refused(data, mapping)
    assert [(line, field) for line, field, _m in found] == [(4, "type/debit"), (5, "type/debit")]
    assert "found 0" in found[0][2] and "found 2" in found[1][2]
    good = data.rsplit(b"X.1", 1)[0]
    assert lines(good, mapping) == [
        ("D1.1", "payout", 150000, "CNY", date(2026, 3, 2), 2),
        ("COL-6", "collection", 5550, "CNY", date(2026, 3, 2), 3)]


def test_every_problem_of_every_line_is_listed_not_the_first_fifty():
    rows = ["交易日期,交易流水号,借贷标志,发生额,摘要"]
    rows += [f"2026130{i % 10},bad ref {i},收,\"12,34.5\",x" for i in range(120)]
    data = "\n".join(["t", "a", *rows, "合计"]).encode("gb18030")
    found = refused(data, GB)
    assert len(found) == 120 * 4  # reference, date, type and amount on each of 120 lines
    assert {line for line, _f, _m in found} == set(range(4, 124))
    assert [f for line, f, _m in found if line == 4] == [
        "reference", "value_date", "type/column", "amount"]


def test_a_line_in_another_currency_than_the_channel_is_refused():
    data = b"ref,amount,ccy,date,type\nD1.1,10.00,USD,2026-03-02,D\nD1.2,10.00,CNY,2026-03-02,D\n"
    mapping = {"reference": "ref", "amount": "amount", "currency": "ccy", "value_date": "date",
               "type": {"by": "indicator", "column": "type", "payout": ["D"],
                        "collection": ["C"]}}
    assert refused(data, mapping) == [(2, "currency", "USD is not the channel's currency CNY")]


def test_a_header_without_the_named_column_is_refused_at_the_header_line():
    [(line, field, message)] = refused(GB_FILE, {**GB, "reference": "流水号"})
    assert (line, field) == (3, "reference") and "0 columns named '流水号'" in message


def test_a_short_row_names_the_missing_columns():
    data = "t\na\n交易日期,交易流水号,借贷标志,发生额\n20260302,D1.1\n合计".encode("gb18030")
    found = refused(data, GB)
    assert [(line, field) for line, field, _m in found] == [(4, "type/column"), (4, "amount")]


@pytest.mark.parametrize(("change", "expected"), [
    ({"fixed_currency": None}, [("currency", "give exactly one of currency (a column) and "
                                 "fixed_currency")]),
    ({"currency": "币种"}, [("currency", "give exactly one of currency (a column) and "
                            "fixed_currency")]),
    ({"amount": None}, [("amount", "the amount column is required when the type is by "
                        "indicator")]),
    ({"header": False}, [(f, "a column named by its header needs `header: true`; or give its "
                          "1-based position") for f in ("reference", "value_date", "amount",
                                                        "type/column")]),
    ({"value_date": "发生额"}, [("amount", "the same column as value_date")]),
    ({"type": {"by": "indicator", "column": "借贷标志", "payout": ["借", " 贷"],
               "collection": ["借"]}},
     [("type/payout", "one or more values, none blank or padded"),
      ("type/collection", "a value cannot mean both payout and collection")]),
    ({"type": {"by": "columns", "debit": 4}},
     [("amount", "with separate debit and credit columns, give no amount"),
      ("type/credit", "required when the type is by columns")]),
    ({"decimal_separator": ","}, [("thousands_separator", "must differ from the decimal "
                                   "separator")]),
    ({"date_format": "%Y%m"}, [("date_format", "needs a year (%Y or %y), a month (%m or %b) "
                                "and a day (%d)")]),
    ({"date_format": "%Y%m%d %Z"}, [("date_format", "only %Y %y %m %d %b %H %M %S and %% are "
                                     "supported, not %Z")]),
    ({"date_format": "%d%m%Y%d"}, [("date_format", "the format does not read back what it "
                                    "writes")]),
])
def test_the_mapping_itself_is_validated_precisely(change, expected):
    assert problems(Mapping.of({**GB, **change})) == expected


def test_a_valid_mapping_has_no_problems():
    assert problems(Mapping.of(GB)) == []
