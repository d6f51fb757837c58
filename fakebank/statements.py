"""The fake bank's statement exports: camt.053.001.08 XML and the project's native CSV (pure)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from xml.etree import ElementTree as ET

from chalicelib.lending.money import format_amount
from fakebank.beneficiaries import Creditor

CAMT053 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


@dataclass(frozen=True)
class Movement:
    reference: str  # our payout_id, or the deposit's reference
    bank_ref: str
    credit: bool  # True: a deposit (CRDT); False: a payout (DBIT)
    amount: int  # minor units
    currency: str
    booked: date
    creditor: Creditor | None = None  # whom a payout paid (camt.053 RltdPties)


def native_csv(movements: list[Movement]) -> bytes:
    """chalicelib/lending/statement.py format. A deposit is money into the account, as the
    ledger books a prefunding on the channel's cash (debit = `collection`), under its
    reference."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("reference", "type", "amount", "currency", "value_date"))
    for m in movements:
        writer.writerow((m.reference, "collection" if m.credit else "payout",
                         format_amount(m.amount, m.currency), m.currency, m.booked.isoformat()))
    return out.getvalue().encode()


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _balance(stmt: ET.Element, code: str, minor: int, currency: str, on: date) -> None:
    bal = _sub(stmt, "Bal")
    _sub(_sub(_sub(bal, "Tp"), "CdOrPrtry"), "Cd", code)
    _sub(bal, "Amt", format_amount(abs(minor), currency), Ccy=currency)
    _sub(bal, "CdtDbtInd", "CRDT" if minor >= 0 else "DBIT")
    _sub(_sub(bal, "Dt"), "Dt", on.isoformat())


def _parties(details: ET.Element, who: Creditor) -> None:
    """TxDtls/RltdPties (camt.053.001.08 TransactionParties6): the creditor's name, then its
    account (`IBAN`, or `Othr/Id` with the scheme it is numbered in)."""
    parties = _sub(details, "RltdPties")
    _sub(_sub(_sub(parties, "Cdtr"), "Pty"), "Nm", who.name[:140])
    account_id = _sub(_sub(parties, "CdtrAcct"), "Id")
    if who.iban:
        _sub(account_id, "IBAN", who.iban)
        return
    other = _sub(account_id, "Othr")
    _sub(other, "Id", (who.other_id or "")[:34])
    if who.other_scheme:
        _sub(_sub(other, "SchmeNm"), "Prtry", who.other_scheme[:35])


def camt053(account: str, currency: str, opening: int, movements: list[Movement],
            start: date, end: date, statement_id: str) -> bytes:
    """One statement (account `account`) with opening/closing booked balances and one booked
    Ntry per movement; element order follows the camt.053.001.08 schema."""
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    doc = ET.Element("Document", xmlns=CAMT053)
    root = _sub(doc, "BkToCstmrStmt")
    hdr = _sub(root, "GrpHdr")
    _sub(hdr, "MsgId", statement_id)
    _sub(hdr, "CreDtTm", now)
    stmt = _sub(root, "Stmt")
    _sub(stmt, "Id", statement_id)
    _sub(stmt, "CreDtTm", now)
    period = _sub(stmt, "FrToDt")
    _sub(period, "FrDtTm", f"{start.isoformat()}T00:00:00+00:00")
    _sub(period, "ToDtTm", f"{end.isoformat()}T23:59:59+00:00")
    acct = _sub(stmt, "Acct")
    _sub(_sub(_sub(acct, "Id"), "Othr"), "Id", account)
    _sub(acct, "Ccy", currency)
    closing = opening + sum(m.amount if m.credit else -m.amount for m in movements)
    _balance(stmt, "OPBD", opening, currency, start)
    _balance(stmt, "CLBD", closing, currency, end)
    for m in movements:
        ntry = _sub(stmt, "Ntry")
        _sub(ntry, "Amt", format_amount(m.amount, m.currency), Ccy=m.currency)
        _sub(ntry, "CdtDbtInd", "CRDT" if m.credit else "DBIT")
        _sub(_sub(ntry, "Sts"), "Cd", "BOOK")
        _sub(_sub(ntry, "BookgDt"), "Dt", m.booked.isoformat())
        _sub(_sub(ntry, "ValDt"), "Dt", m.booked.isoformat())
        _sub(ntry, "AcctSvcrRef", m.bank_ref)
        code = _sub(_sub(ntry, "BkTxCd"), "Domn")
        _sub(code, "Cd", "PMNT")
        fmly = _sub(code, "Fmly")
        _sub(fmly, "Cd", "RCDT" if m.credit else "ICDT")
        _sub(fmly, "SubFmlyCd", "DMCT")
        details = _sub(_sub(ntry, "NtryDtls"), "TxDtls")
        refs = _sub(details, "Refs")
        _sub(refs, "AcctSvcrRef", m.bank_ref)
        _sub(refs, "EndToEndId", m.reference)
        if m.creditor is not None:
            _parties(details, m.creditor)
    ET.indent(doc)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(doc, encoding="utf-8")
