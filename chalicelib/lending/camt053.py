"""ISO 20022 camt.053 (BankToCustomerStatement) read into `StatementLine`s, strictly (pure).

Accepted: the namespaces `urn:iso:std:iso:20022:tech:xsd:camt.053.001.02` to `.08`. Each
`Stmt` must name the channel's account (`Acct/Id/IBAN` or `Acct/Id/Othr/Id`, compared without
spaces, case-insensitively) and, if it says, its currency (`Acct/Ccy`); every amount's `Ccy`
must be the channel's currency. Per `Ntry`:

- only booked entries count (`Sts` `BOOK`, or `Sts/Cd` `BOOK` from .08 on); `PDNG` and `INFO`
  entries are not money that moved: they are skipped and counted (`Camt053.skipped`);
- `CdtDbtInd` `DBIT` (money left the account) is a `payout`, `CRDT` (money came in: a
  repayment, or a prefunding deposit, as the ledger books a debit to `cash:<channel>`) a
  `collection`. A reversal (`RvslInd` true) keeps the direction it states: a returned payout is
  a `CRDT`, i.e. a collection under the payout's reference, as the ledger books its reversal;
- value date: `ValDt`, else `BookgDt`, each `Dt` or `DtTm` (the date as written);
- one line per `NtryDtls/TxDtls` (a batch has several, each with its own amount:
  `AmtDtls/TxAmt/Amt` or, from .08, `Amt`; they must sum to the entry's `Amt`); an entry with
  no details is one line of the entry's amount;
- reference: `TxDtls/Refs/EndToEndId` unless absent or `NOTPROVIDED`, else
  `TxDtls/Refs/AcctSvcrRef`, else the entry's `AcctSvcrRef`.

Safe: any DTD is refused (so no entities, no external references, no billion laughs), nothing
is fetched, depth and element count are bounded. Each problem names the XML line and the
element path; all of them are reported, and nothing is read unless the whole file is valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from chalicelib.lending.money import MoneyError, parse_amount
from chalicelib.lending.reconcile import StatementLine
from chalicelib.lending.statement import MAX_LINES, REFERENCE, LineError, StatementError

NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.0([2-8])$")
MAX_BYTES = 50 * 1024 * 1024
MAX_DEPTH = 40
MAX_ELEMENTS = 4_000_000
BOOKED, NOT_BOOKED = "BOOK", ("PDNG", "INFO", "FUTR")
TYPE_OF = {"DBIT": "payout", "CRDT": "collection"}


@dataclass(frozen=True)
class Camt053:
    lines: list[StatementLine]
    skipped: int  # entries not booked (PDNG, INFO): listed, not reconciled
    accounts: tuple[str, ...]


class _Builder(TreeBuilder):
    """Records each element's line and refuses trees too deep or too large."""

    def __init__(self) -> None:
        super().__init__()
        self.expat: Any = None  # the expat parser, for the line of each start tag
        self.lines: dict[int, int] = {}
        self.depth = self.count = 0

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self.depth += 1
        self.count += 1
        line = self.expat.CurrentLineNumber
        if self.depth > MAX_DEPTH or self.count > MAX_ELEMENTS:
            raise StatementError([LineError(line, "", "the document is nested deeper than "
                                            f"{MAX_DEPTH} or has more than {MAX_ELEMENTS} "
                                            "elements")])
        element = super().start(tag, attrs)
        self.lines[id(element)] = line
        return element

    def end(self, tag: str) -> Element:
        self.depth -= 1
        return super().end(tag)


def _tree(data: bytes) -> tuple[Element, dict[int, int]]:
    if len(data) > MAX_BYTES:
        raise StatementError([LineError(0, "", f"larger than {MAX_BYTES} bytes")])
    builder = _Builder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True,
                              forbid_external=True)
    builder.expat = parser.parser
    try:
        parser.feed(data)
        root = parser.close()
    except DefusedXmlException as exc:
        line = parser.parser.CurrentLineNumber
        raise StatementError([LineError(line, "", "DTDs, entities and external references "
                                        f"are refused ({type(exc).__name__})")]) from exc
    except ParseError as exc:
        raise StatementError([LineError(exc.position[0], "", f"not well-formed XML: {exc}")]
                             ) from exc
    return root, builder.lines


class _Reader:
    """Walks one document, collecting lines and every problem."""

    def __init__(self, ns: str, lines: dict[int, int], account: str | None,
                 currency: str) -> None:
        self.ns, self.line_of, self.account, self.currency = ns, lines, account, currency
        self.errors: list[LineError] = []
        self.out: list[StatementLine] = []
        self.skipped = 0
        self.accounts: list[str] = []
        self.paths: dict[str, str] = {}  # "Refs/EndToEndId" → its qualified form

    def q(self, path: str) -> str:
        qualified = self.paths.get(path)
        if qualified is None:
            qualified = self.paths[path] = "/".join(f"{{{self.ns}}}{p}"
                                                    for p in path.split("/"))
        return qualified

    def find(self, el: Element, path: str) -> Element | None:
        return el.find(self.q(path))

    def at(self, el: Element, path: str) -> Element:
        """The child at `path` to point a problem at, else `el` itself (an element without
        children is falsy: never `find(...) or el`)."""
        found = self.find(el, path)
        return el if found is None else found

    def text(self, el: Element, path: str) -> str | None:
        found = self.find(el, path)
        return (found.text or "").strip() if found is not None else None

    def error(self, el: Element, where: str, message: str) -> None:
        self.errors.append(LineError(self.line_of.get(id(el), 0), where, message))

    def statement(self, stmt: Element, where: str) -> None:
        self.check_account(stmt, where)
        for n, entry in enumerate(stmt.findall(self.q("Ntry")), start=1):
            self.entry(entry, f"{where}/Ntry[{n}]")

    def check_account(self, stmt: Element, where: str) -> None:
        acct = self.find(stmt, "Acct")
        if acct is None:
            self.error(stmt, f"{where}/Acct", "the statement names no account")
            return
        ident = self.text(acct, "Id/IBAN") or self.text(acct, "Id/Othr/Id")
        at = self.at(acct, "Id")
        if not ident:
            self.error(at, f"{where}/Acct/Id", "give IBAN or Othr/Id")
        else:
            self.accounts.append(ident)
            if self.account is None:
                self.error(at, f"{where}/Acct/Id", "the channel's statement format names no "
                           "account to compare with: set `account` on it")
            elif _norm(ident) != _norm(self.account):
                self.error(at, f"{where}/Acct/Id", f"account {ident} is not the channel's "
                           f"({self.account})")
        ccy = self.text(acct, "Ccy")
        if ccy is not None and ccy != self.currency:
            self.error(self.at(acct, "Ccy"), f"{where}/Acct/Ccy", f"the account is in {ccy}; "
                       f"the channel pays in {self.currency}")

    def entry(self, entry: Element, where: str) -> None:
        status = self.text(entry, "Sts/Cd") or self.text(entry, "Sts")
        if status in NOT_BOOKED:
            self.skipped += 1
            return
        if status != BOOKED:
            self.error(self.at(entry, "Sts"), f"{where}/Sts",
                       f"BOOK, PDNG or INFO, not {status!r}")
            return
        before = len(self.errors)
        amount = self.amount(entry, where)
        indicator = self.text(entry, "CdtDbtInd")
        if indicator not in TYPE_OF:
            self.error(self.at(entry, "CdtDbtInd"), f"{where}/CdtDbtInd", "DBIT or CRDT")
        reversal = self.text(entry, "RvslInd")
        if reversal not in (None, "true", "false", "1", "0"):
            self.error(self.at(entry, "RvslInd"), f"{where}/RvslInd", "true or false")
        when = self.day(entry, "ValDt" if self.find(entry, "ValDt") is not None
                        else "BookgDt", where)
        details = [tx for d in entry.findall(self.q("NtryDtls"))
                   for tx in d.findall(self.q("TxDtls"))]
        parts = self.transactions(entry, details, where, amount, indicator)
        if len(self.errors) > before or when is None or amount is None:
            return
        for reference, part, line in parts:
            self.out.append(StatementLine(reference, TYPE_OF[indicator or ""], part,
                                          self.currency, when, line))

    def amount(self, el: Element, where: str, path: str = "Amt") -> int | None:
        found = self.find(el, path)
        if found is None:
            self.error(el, f"{where}/{path}", "missing")
            return None
        ccy = found.get("Ccy")
        if ccy is None:
            self.error(found, f"{where}/{path}/@Ccy", "missing: every amount names its currency")
            return None
        if ccy != self.currency:
            self.error(found, f"{where}/{path}/@Ccy", f"{ccy} is not the channel's currency "
                       f"{self.currency}")
            return None
        try:
            value = parse_amount((found.text or "").strip(), self.currency)
        except MoneyError as exc:
            self.error(found, f"{where}/{path}", exc.problems[0].msg)
            return None
        if value <= 0:
            self.error(found, f"{where}/{path}", "must be positive (the sign is CdtDbtInd)")
            return None
        return value

    def day(self, el: Element, name: str, where: str) -> date | None:
        holder = self.find(el, name)
        if holder is None:
            self.error(el, f"{where}/ValDt", "an entry needs ValDt or BookgDt (Dt or DtTm)")
            return None
        text = self.text(holder, "Dt") or self.text(holder, "DtTm")
        try:
            return date.fromisoformat(text[:10]) if text and len(text) >= 10 else None
        except ValueError:
            pass
        self.error(holder, f"{where}/{name}", "Dt (YYYY-MM-DD) or DtTm (ISO date-time)")
        return None

    def transactions(self, entry: Element, details: list[Element], where: str,
                     amount: int | None, indicator: str | None
                     ) -> list[tuple[str, int, int]]:
        entry_ref = self.text(entry, "AcctSvcrRef")
        if not details:
            ref = self.reference(entry, where, None, entry_ref)
            return [(ref, amount, self.line_of.get(id(entry), 0))] if ref and amount else []
        out: list[tuple[str, int, int]] = []
        for n, tx in enumerate(details, start=1):
            at = f"{where}/NtryDtls/TxDtls[{n}]"
            own = self.text(tx, "CdtDbtInd")
            if own is not None and own != indicator:
                self.error(tx, f"{at}/CdtDbtInd", f"{own} differs from the entry's {indicator}")
            if len(details) == 1 and self.find(tx, "AmtDtls/TxAmt/Amt") is None \
                    and self.find(tx, "Amt") is None:
                part = amount
            else:
                path = "AmtDtls/TxAmt/Amt" if self.find(tx, "AmtDtls/TxAmt/Amt") is not None \
                    else "Amt"
                part = self.amount(tx, at, path)
            ref = self.reference(tx, at, tx, entry_ref)
            if ref and part:
                out.append((ref, part, self.line_of.get(id(tx), 0)))
        if amount is not None and len(out) == len(details) and \
                sum(p for _r, p, _l in out) != amount:
            self.error(self.at(entry, "Amt"), f"{where}/Amt",
                       "the transactions' amounts do not sum to the entry's")
        return out

    def reference(self, el: Element, where: str, tx: Element | None,
                  entry_ref: str | None) -> str | None:
        ref = None
        if tx is not None:
            end_to_end = self.text(tx, "Refs/EndToEndId")
            ref = end_to_end if end_to_end and end_to_end != "NOTPROVIDED" else \
                self.text(tx, "Refs/AcctSvcrRef")
        ref = ref or entry_ref
        if not ref:
            self.error(el, f"{where}/Refs", "no EndToEndId or AcctSvcrRef to match by")
            return None
        if not REFERENCE.fullmatch(ref):
            self.error(el, f"{where}/Refs", f"reference {ref[:40]!r}: 1-64 of "
                       "A-Z a-z 0-9 . _ : -")
            return None
        return ref


def _norm(account: str) -> str:
    return re.sub(r"\s+", "", account).upper()


def parse(data: bytes, *, currency: str, account: str | None) -> Camt053:
    """Every booked line of every statement in the document, or every problem in it."""
    root, lines = _tree(data)
    ns, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if local != "Document" or not NAMESPACE.fullmatch(ns):
        raise StatementError([LineError(lines.get(id(root), 1), "Document",
                                        "not a camt.053.001.02 to .08 Document (namespace "
                                        f"{ns or 'none'!r})")])
    reader = _Reader(ns, lines, account, currency)
    body = reader.find(root, "BkToCstmrStmt")
    statements = body.findall(reader.q("Stmt")) if body is not None else []
    if not statements:
        reader.error(root, "Document/BkToCstmrStmt/Stmt", "no statement in the document")
    for n, stmt in enumerate(statements, start=1):
        reader.statement(stmt, f"Document/BkToCstmrStmt/Stmt[{n}]")
    if len(reader.out) > MAX_LINES:
        reader.errors.append(LineError(0, "", f"more than {MAX_LINES} lines"))
    if reader.errors:
        raise StatementError(reader.errors)
    return Camt053(reader.out, reader.skipped, tuple(reader.accounts))
