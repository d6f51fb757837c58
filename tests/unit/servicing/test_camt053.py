"""camt.053 read into statement lines: hand-written samples after the ISO 20022 message
definition and bank implementation guides (.02 and .08), reversals, pending entries, batches,
and the documents a parser must refuse (wrong namespace, XXE, billion laughs, wrong currency
or account), each problem with its line and element path."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from chalicelib.lending import camt053
from chalicelib.lending.statement import StatementError

SAMPLES = Path(__file__).parent / "statements"
SINGLE = (SAMPLES / "camt053_single.xml").read_bytes()
BATCH = (SAMPLES / "camt053_batch_v08.xml").read_bytes()
ACCOUNT, IBAN = "6222021234567890", "CN12FAKE00000000000001"


def problems(data: bytes, currency: str = "CNY", account: str | None = ACCOUNT
             ) -> list[tuple[int, str, str]]:
    with pytest.raises(StatementError) as caught:
        camt053.parse(data, currency=currency, account=account)
    return [(e.line, e.column, e.message) for e in caught.value.errors]


def test_a_single_entry_statement_reads_booked_lines_and_skips_pending():
    read = camt053.parse(SINGLE, currency="CNY", account="6222 0212 3456 7890")
    assert [(x.reference, x.type, x.amount, x.value_date, x.line) for x in read.lines] == [
        ("D1.1", "payout", 150000, date(2026, 3, 2), 38),      # EndToEndId
        ("COL-6", "collection", 5550, date(2026, 3, 2), 53),   # NOTPROVIDED → AcctSvcrRef
    ]
    assert read.skipped == 1  # the PDNG entry: listed by the bank, not money that moved
    assert read.accounts == ("6222 0212 3456 7890",)


def test_a_batch_is_one_line_per_transaction_and_a_reversal_comes_back_as_a_collection():
    read = camt053.parse(BATCH, currency="CNY", account="cn12 fake 0000 0000 0000 01")
    assert [(x.reference, x.type, x.amount, x.value_date) for x in read.lines] == [
        ("D7.1", "payout", 100000, date(2026, 3, 3)),
        ("D8.2", "payout", 80000, date(2026, 3, 3)),
        ("FB-1003", "payout", 50000, date(2026, 3, 3)),       # no EndToEndId: the bank's ref
        ("D8.2", "collection", 80000, date(2026, 3, 4)),      # RvslInd: the payout returned
        ("PREFUND-0303", "collection", 2000000, date(2026, 3, 3)),  # no details, BookgDt
    ]
    assert read.skipped == 1  # INFO
    assert sum(x.amount for x in read.lines[:3]) == 230000


@pytest.mark.parametrize("version", [2, 3, 4, 5, 6, 7, 8])
def test_every_namespace_from_02_to_08_is_accepted(version):
    data = SINGLE.replace(b"camt.053.001.02", f"camt.053.001.0{version}".encode())
    assert len(camt053.parse(data, currency="CNY", account=ACCOUNT).lines) == 2


@pytest.mark.parametrize("namespace", [b"urn:iso:std:iso:20022:tech:xsd:camt.052.001.02",
                                       b"urn:iso:std:iso:20022:tech:xsd:camt.053.001.09",
                                       b"urn:example:statement"])
def test_another_namespace_is_refused(namespace):
    data = SINGLE.replace(b"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02", namespace)
    [(line, where, message)] = problems(data)
    assert (line, where) == (2, "Document") and "camt.053.001.02 to .08" in message


def test_external_entities_are_refused_before_anything_is_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    xxe = (f'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>\n'
           '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
           '<BkToCstmrStmt><Stmt><Ntry><AcctSvcrRef>&x;</AcctSvcrRef></Ntry></Stmt>'
           '</BkToCstmrStmt></Document>').encode()
    [(line, _where, message)] = problems(xxe)
    assert line == 2 and "DTDs, entities and external references are refused" in message
    assert "TOPSECRET" not in message


def test_a_billion_laughs_is_refused_at_once():
    lol = ['<?xml version="1.0"?>', "<!DOCTYPE lolz [", '<!ENTITY lol "lol">']
    lol += [f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
            for i in range(1, 10)]
    lol += ["]>", '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">&lol9;'
            "</Document>"]
    [(line, _where, message)] = problems("\n".join(lol).encode())
    assert line == 2 and "refused" in message


def test_a_tree_nested_too_deep_is_refused():
    deep = b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">' + \
        b"<a>" * 100 + b"</a>" * 100 + b"</Document>"
    [(_line, _where, message)] = problems(deep)
    assert "nested deeper than 40" in message


def test_xml_that_is_not_well_formed_names_its_line():
    [(line, _where, message)] = problems(SINGLE.replace(b"</Ntry>\n      <Ntry>", b"\n<Ntry>", 1))
    assert line > 30 and "not well-formed" in message


def test_a_statement_in_another_currency_is_refused_on_every_amount_and_the_account():
    found = problems(SINGLE, currency="USD")
    stmt = "Document/BkToCstmrStmt/Stmt[1]"
    assert [(line, where) for line, where, _m in found] == [
        (21, f"{stmt}/Acct/Ccy"), (30, f"{stmt}/Ntry[1]/Amt/@Ccy"),
        (47, f"{stmt}/Ntry[2]/Amt/@Ccy")]  # the pending entry's amount does not count
    assert "channel's currency USD" in found[1][2]


def test_another_account_or_none_configured_is_refused():
    [(line, where, message)] = problems(SINGLE, account="6222000000000000")
    assert (line, where) == (16, "Document/BkToCstmrStmt/Stmt[1]/Acct/Id")
    assert "is not the channel's (6222000000000000)" in message
    [(_line, _where, message)] = problems(SINGLE, account=None)
    assert "names no account" in message


def test_every_problem_of_every_entry_is_listed_with_line_and_path():
    bad = (BATCH.replace(b'<Amt Ccy="CNY">800.00</Amt>\n          </TxDtls>',
                         b'<Amt Ccy="CNY">80.00</Amt>\n          </TxDtls>')       # sum off
           .replace(b"<RvslInd>true</RvslInd>", b"<RvslInd>maybe</RvslInd>")
           .replace(b"<Dt>2026-03-04</Dt></ValDt>", b"<Dt>2026-02-30</Dt></ValDt>")
           .replace(b'<Amt Ccy="CNY">20000.00</Amt>', b'<Amt Ccy="CNY">20000.001</Amt>')
           .replace(b"<AcctSvcrRef>PREFUND-0303</AcctSvcrRef>", b"")
           .replace(b"<Sts><Cd>INFO</Cd></Sts>", b"<Sts><Cd>DONE</Cd></Sts>"))
    found = problems(bad, account=IBAN)
    entry = "Document/BkToCstmrStmt/Stmt[1]/Ntry"
    assert [(line, where) for line, where, _m in found] == [
        (17, f"{entry}[1]/Amt"),              # 1000 + 80 + 500 is not 2300
        (45, f"{entry}[2]/RvslInd"),
        (48, f"{entry}[2]/ValDt"),
        (58, f"{entry}[3]/Amt"),
        (57, f"{entry}[3]/Refs"),
        (67, f"{entry}[4]/Sts"),
    ]
    assert "do not sum" in found[0][2] and "at most 2 decimal places" in found[3][2]


def test_a_batch_transaction_without_its_own_amount_is_refused():
    bad = BATCH.replace(b'<Amt Ccy="CNY">500.00</Amt>\n', b"", 1)
    [(line, where, message)] = problems(bad, account=IBAN)
    assert where.endswith("Ntry[1]/NtryDtls/TxDtls[3]/Amt") and message == "missing"
    assert line == 35


def test_the_first_problem_does_not_hide_the_others_across_statements():
    two = SINGLE.replace(b"</Stmt>", b"</Stmt>\n" + SINGLE.split(b"<BkToCstmrStmt>")[1]
                         .split(b"</Stmt>")[0].split(b"</GrpHdr>")[1] + b"</Stmt>", 1)
    two = two.replace(b"6222 0212 3456 7890", b"6222 0212 3456 7899", 1)
    read = problems(two)
    assert [w for _l, w, _m in read] == ["Document/BkToCstmrStmt/Stmt[1]/Acct/Id"]
    fixed = two.replace(b"6222 0212 3456 7899", b"6222 0212 3456 7890")
    assert len(camt053.parse(fixed, currency="CNY", account=ACCOUNT).lines) == 4


def test_an_amount_without_its_currency_is_refused():
    [(line, where, message)] = problems(SINGLE.replace(b'<Amt Ccy="CNY">1500.00</Amt>',
                                                       b"<Amt>1500.00</Amt>"))
    assert (line, where) == (30, "Document/BkToCstmrStmt/Stmt[1]/Ntry[1]/Amt/@Ccy")
    assert message.startswith("missing")
