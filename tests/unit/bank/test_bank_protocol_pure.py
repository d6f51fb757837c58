"""The bank protocol's pure parts: request signatures, and the fake bank's statements (its
native CSV parses with our own statement parser; its camt.053 carries what an importer needs)."""

from __future__ import annotations

from datetime import date
from xml.etree import ElementTree as ET

import pytest

from chalicelib.channels import bank_signing
from chalicelib.lending import statement
from fakebank.statements import CAMT053, Movement, camt053, native_csv

NOW = 1_800_000_000
MOVES = [Movement("init", "FBD1", True, 5_000_000, "CNY", date(2026, 12, 1)),
         Movement("dsb_0123456789abcdef.1", "FB1", False, 1_000_000, "CNY", date(2026, 12, 2)),
         Movement("dsb_0123456789abcdef.2", "FB2", False, 250_050, "CNY", date(2026, 12, 2))]


def test_a_signature_verifies_and_any_change_breaks_it() -> None:
    body = b'{"payout_id":"dsb_1.1"}'
    h = bank_signing.headers("lender", "s3cret", "POST", "/payouts", NOW, body)
    bank_signing.verify("s3cret", h, "POST", "/payouts", body, NOW + 10)
    for secret, method, path, sent in (("other", "POST", "/payouts", body),
                                       ("s3cret", "GET", "/payouts", body),
                                       ("s3cret", "POST", "/payouts/x", body),
                                       ("s3cret", "POST", "/payouts", body + b" ")):
        with pytest.raises(bank_signing.BankSignatureError):
            bank_signing.verify(secret, h, method, path, sent, NOW)


def test_a_stale_or_missing_timestamp_is_refused() -> None:
    h = bank_signing.headers("lender", "s3cret", "GET", "/payouts/a", NOW, b"")
    with pytest.raises(bank_signing.BankSignatureError, match="tolerance"):
        bank_signing.verify("s3cret", h, "GET", "/payouts/a", b"", NOW + 301)
    with pytest.raises(bank_signing.BankSignatureError, match="X-Timestamp"):
        bank_signing.verify("s3cret", {**h, "X-Timestamp": ""}, "GET", "/payouts/a", b"", NOW)


def test_the_native_csv_is_what_our_statement_parser_reads() -> None:
    lines = statement.parse(native_csv(MOVES))
    assert [(x.reference, x.type, x.amount) for x in lines] == [
        ("init", "collection", 5_000_000), ("dsb_0123456789abcdef.1", "payout", 1_000_000),
        ("dsb_0123456789abcdef.2", "payout", 250_050)]


def test_camt053_books_each_movement_with_its_references_and_balances() -> None:
    root = ET.fromstring(camt053("FB-lender", "CNY", 0, MOVES, date(2026, 12, 1),
                                 date(2026, 12, 2), "STMT-1"))
    ns = {"c": CAMT053}
    assert root.tag == f"{{{CAMT053}}}Document"
    stmt = root.find("c:BkToCstmrStmt/c:Stmt", ns)
    assert stmt is not None
    bal = {b.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=ns):
           (b.findtext("c:Amt", namespaces=ns), b.findtext("c:CdtDbtInd", namespaces=ns))
           for b in stmt.findall("c:Bal", ns)}
    assert bal == {"OPBD": ("0.00", "CRDT"), "CLBD": ("37499.50", "CRDT")}
    entries = [(n.findtext("c:Amt", namespaces=ns), n.find("c:Amt", ns).get("Ccy"),
                n.findtext("c:CdtDbtInd", namespaces=ns),
                n.findtext("c:BookgDt/c:Dt", namespaces=ns),
                n.findtext("c:AcctSvcrRef", namespaces=ns),
                n.findtext("c:NtryDtls/c:TxDtls/c:Refs/c:EndToEndId", namespaces=ns))
               for n in stmt.findall("c:Ntry", ns)]
    assert entries == [("50000.00", "CNY", "CRDT", "2026-12-01", "FBD1", "init"),
                       ("10000.00", "CNY", "DBIT", "2026-12-02", "FB1", "dsb_0123456789abcdef.1"),
                       ("2500.50", "CNY", "DBIT", "2026-12-02", "FB2", "dsb_0123456789abcdef.2")]
    order = [child.tag.split("}")[1] for child in stmt]  # the schema's sequence
    assert order == ["Id", "CreDtTm", "FrToDt", "Acct", "Bal", "Bal", "Ntry", "Ntry", "Ntry"]
