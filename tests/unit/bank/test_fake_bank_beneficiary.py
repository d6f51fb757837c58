"""The fake bank's beneficiary checks (the scheme rules our side applies) and the creditor its
camt.053 names, read back by our own camt.053 parser."""

from __future__ import annotations

from datetime import date
from xml.etree import ElementTree as ET

import pytest

from chalicelib.lending import camt053 as reader
from fakebank.beneficiaries import Creditor, creditor, problems
from fakebank.statements import CAMT053, Movement, camt053

CARD = {"kind": "bank_account", "scheme": "cn_unionpay_card", "bank_code": "ICBC",
        "account_number": "6200000000000005", "holder_name": "王小明"}
IBAN = {"kind": "bank_account", "scheme": "iban", "account_number": "DE89370400440532013000",
        "holder_name": "Anna Li"}
WALLET = {"kind": "ewallet", "wallet_provider": "alipay", "wallet_id": "2088000000000001",
          "holder_name": "王小明"}


@pytest.mark.parametrize("good", [CARD, IBAN, WALLET])
def test_a_well_formed_beneficiary_passes(good) -> None:
    assert problems(good) == []


@pytest.mark.parametrize(("bad", "expected"), [
    (None, [("beneficiary", "missing")]),
    ({**CARD, "account_number": "6200000000000006"},
     [("beneficiary.account_number", "luhn_check_failed")]),
    ({**IBAN, "account_number": "DE88370400440532013000"},
     [("beneficiary.account_number", "iban_check_failed")]),
    ({**CARD, "scheme": "swift_magic"}, [("beneficiary.scheme", "unknown")]),
    ({**CARD, "holder_name": " ", "bank_code": None},
     [("beneficiary.holder_name", "missing"), ("beneficiary.bank_code", "missing")]),
    ({"kind": "ewallet", "holder_name": "x", "wallet_provider": "alipay"},
     [("beneficiary.wallet_id", "missing")]),
    ({**CARD, "kind": "cash"}, [("beneficiary.kind", "unknown")]),
])
def test_a_beneficiary_the_bank_cannot_pay_names_each_problem(bad, expected) -> None:
    assert [(p.field, p.code) for p in problems(bad)] == expected


def test_the_creditor_is_named_by_iban_or_by_other_id_with_its_scheme() -> None:
    assert creditor(IBAN) == Creditor("Anna Li", iban="DE89370400440532013000")
    assert creditor(CARD) == Creditor("王小明", other_id="6200000000000005",
                                      other_scheme="cn_unionpay_card")
    assert creditor(WALLET) == Creditor("王小明", other_id="2088000000000001",
                                      other_scheme="alipay")


def test_camt053_names_the_creditor_and_our_parser_still_reads_it() -> None:
    moves = [Movement("init", "FBD1", True, 5_000_000, "CNY", date(2026, 12, 1)),
             Movement("dsb_a.1", "FB1", False, 1_000_000, "CNY", date(2026, 12, 2),
                      creditor(CARD)),
             Movement("dsb_b.1", "FB2", False, 250_050, "CNY", date(2026, 12, 2),
                      creditor(IBAN))]
    xml = camt053("FB-lender", "CNY", 0, moves, date(2026, 12, 1), date(2026, 12, 2), "S-1")
    ns = {"c": CAMT053}
    tx = [n.find("c:NtryDtls/c:TxDtls", ns) for n in ET.fromstring(xml).iter(f"{{{CAMT053}}}Ntry")]
    assert [child.tag.split("}")[1] for child in tx[1]] == ["Refs", "RltdPties"]
    assert tx[0].find("c:RltdPties", ns) is None  # a deposit names no creditor
    assert [(t.findtext("c:RltdPties/c:Cdtr/c:Pty/c:Nm", namespaces=ns),
             t.findtext("c:RltdPties/c:CdtrAcct/c:Id/c:Othr/c:Id", namespaces=ns),
             t.findtext("c:RltdPties/c:CdtrAcct/c:Id/c:Othr/c:SchmeNm/c:Prtry", namespaces=ns),
             t.findtext("c:RltdPties/c:CdtrAcct/c:Id/c:IBAN", namespaces=ns)) for t in tx[1:]] == [
        ("王小明", "6200000000000005", "cn_unionpay_card", None),
        ("Anna Li", None, None, "DE89370400440532013000")]
    read = reader.parse(xml, currency="CNY", account="FB-lender")
    assert [(x.reference, x.type, x.amount) for x in read.lines] == [
        ("init", "collection", 5_000_000), ("dsb_a.1", "payout", 1_000_000),
        ("dsb_b.1", "payout", 250_050)]
