"""Bank statements in the bank's own formats, through the API against real disbursements
(moto): camt.053 and a GB18030 CSV through the channel's mapping match the ledger with no
exception, inline, from S3 and in the nightly job; a missing line is one exception; a bad
file is refused with every problem listed and nothing written; the mapping resource itself."""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Any

import pytest

from chalicelib.config import settings
from chalicelib.services import daily_checks
from tests.integration.contracts.helpers import make_product
from tests.integration.disbursement.conftest import channel, disburse, signed_loan
from tests.lag import eventually

ACCOUNT = "6222 0212 3456 7890"
NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.0{v}"
MAPPING = {"encoding": "gb18030", "skip_lines": 1, "skip_footer_lines": 1,
           "reference": "交易流水号", "amount": "发生额", "fixed_currency": "CNY",
           "value_date": "交易日期", "date_format": "%Y%m%d", "thousands_separator": ",",
           "type": {"by": "indicator", "column": "借贷标志", "payout": ["借"],
                    "collection": ["贷"]}}
Line = tuple[str, str, str, date]  # reference, payout|collection, amount, value date


def camt(entries: list[list[Line]], *, account: str = ACCOUNT, version: int = 2,
         pending: bool = True) -> str:
    """A camt.053 document: each inner list one booked entry (several: a batch), plus one
    pending entry that must not count."""
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{NS.format(v=version)}">',
           "<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-03-03T01:00:00Z</CreDtTm>"
           "</GrpHdr><Stmt><Id>S1</Id>",
           f"<Acct><Id><Othr><Id>{account}</Id></Othr></Id><Ccy>CNY</Ccy></Acct>"]
    for entry in entries:
        total = sum(int(a.replace(".", "")) for _r, _t, a, _d in entry)
        kind = "DBIT" if entry[0][1] == "payout" else "CRDT"
        out.append(f'<Ntry>\n<Amt Ccy="CNY">{total // 100}.{total % 100:02d}</Amt>\n'
                   f"<CdtDbtInd>{kind}</CdtDbtInd><Sts>BOOK</Sts>"
                   f"<BookgDt><Dt>{entry[0][3]}</Dt></BookgDt>"
                   f"<ValDt><Dt>{entry[0][3]}</Dt></ValDt><NtryDtls>")
        for ref, _t, amount, _d in entry:
            own = f'<AmtDtls><TxAmt><Amt Ccy="CNY">{amount}</Amt></TxAmt></AmtDtls>' \
                if len(entry) > 1 else ""
            out.append(f"<TxDtls>\n<Refs><AcctSvcrRef>FB-{ref}</AcctSvcrRef>"
                       f"<EndToEndId>{ref}</EndToEndId></Refs>{own}</TxDtls>")
        out.append("</NtryDtls></Ntry>")
    if pending:
        out.append('<Ntry><Amt Ccy="CNY">9.99</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>PDNG</Sts>'
                   "<BookgDt><Dt>2026-03-03</Dt></BookgDt><AcctSvcrRef>P1</AcctSvcrRef></Ntry>")
    out.append("</Stmt></BkToCstmrStmt></Document>\n")
    return "\n".join(out)


def bank_csv(lines: list[Line]) -> bytes:
    rows = ["工商银行 账户明细 账号:6222021234567890", "交易日期,交易流水号,借贷标志,发生额,摘要"]
    for ref, type_, amount, day in lines:
        whole, _, cents = amount.partition(".")
        grouped = f"{int(whole):,}.{cents}"
        rows.append(f"{day:%Y%m%d},{ref},{'借' if type_ == 'payout' else '贷'},"
                    f"\"{grouped}\",{'放款' if type_ == 'payout' else '入金'}")
    rows.append(f"合计,,,,{len(lines)}笔")
    return "\r\n".join(rows).encode("gb18030")


@pytest.fixture
def books(api: Any, acme: dict[str, str], aws: Any, clock: Any) -> dict[str, Any]:
    """A funded channel with two real disbursements, and the lines its bank would list."""
    product = make_product(api, acme["admin"])
    ch = channel(api, acme, "bank")["id"]
    today = clock.now.date()
    payouts: list[Line] = []
    for _ in range(2):
        loan_id = signed_loan(api, acme, aws, product["id"])
        d = api.call("GET", "/v1/disbursements/" + disburse(api, acme["partner"], loan_id)
                     .json["id"], key=acme["admin"]).json
        assert d["status"] == "settled", d
        payouts.append((d["attempts"][0]["payout_id"], "payout", d["payout"]["amount"], today))
    funding: Line = ("initial", "collection", "100000.00", today)
    return {"channel": ch, "today": today, "payouts": payouts, "funding": funding,
            "keys": acme}


def set_format(api: Any, b: dict[str, Any], **body: Any) -> Any:
    return api.call("PUT", f"/v1/channels/{b['channel']}/statement-format", body,
                    key=b["keys"]["admin"])


def run(api: Any, b: dict[str, Any], **body: Any) -> Any:
    return api.call("POST", "/v1/reconciliation/runs", {"channel": b["channel"], **body},
                    key=b["keys"]["operator"])


CLEAN = {"matched": 3, "missing_in_ledger": 0, "missing_in_statement": 0, "amount_mismatch": 0,
         "duplicate": 0}


def test_camt053_and_mapped_csv_match_the_ledger_inline_from_s3_and_nightly(api, books, aws):
    b = books
    assert set_format(api, b, format="mapped_csv", account=ACCOUNT, csv=MAPPING).status == 200
    lines = [b["funding"], *b["payouts"]]
    xml = camt([[b["funding"]], b["payouts"]])  # the two payouts in one batched entry
    r = run(api, b, format="camt053", xml=xml)
    assert r.status == 201, r.json
    assert r.json["counts"] == CLEAN and r.json["format"] == "camt053"
    assert (r.json["lines"], r.json["skipped_entries"]) == (3, 1)  # PDNG listed, not counted
    for version in (4, 8):
        again = run(api, b, format="camt053", content_base64=base64.b64encode(
            camt([[b["funding"]], *[[p] for p in b["payouts"]]], version=version).encode())
            .decode())
        assert again.json["counts"] == CLEAN, again.json
    mapped = run(api, b, format="mapped_csv",
                 content_base64=base64.b64encode(bank_csv(lines)).decode())
    assert mapped.status == 201, mapped.json
    assert mapped.json["counts"] == CLEAN and mapped.json["format"] == "mapped_csv"
    as_text = run(api, b, format="mapped_csv", csv=bank_csv(lines).decode("gb18030"))
    assert as_text.json["counts"] == CLEAN, as_text.json  # encoded in the mapping's encoding

    prefix = f"acme/statements/{b['channel']}/"
    day = b["today"].isoformat()
    aws["s3"].put_object(Bucket=settings().bucket, Key=f"{prefix}{day}-bank.xml",
                         Body=xml.encode())
    aws["s3"].put_object(Bucket=settings().bucket, Key=f"{prefix}{day}-bank.csv",
                         Body=bank_csv(lines))
    from_s3 = run(api, b, format="camt053", statement_key=f"{prefix}{day}-bank.xml")
    assert from_s3.json["counts"] == CLEAN and from_s3.json["source"] == "s3", from_s3.json
    nightly = daily_checks.reconcile_new("acme", datetime.now().astimezone())
    assert nightly["failures"] == [] and nightly["ok"], nightly
    assert sorted((x["statement"].rsplit(".", 1)[1], x["counts"] == CLEAN)
                  for x in nightly["runs"]) == [("csv", True), ("xml", True)]
    formats = eventually(lambda: sorted({x["format"] for x in api.call(  # an index: it trails
        "GET", "/v1/reconciliation/runs?limit=20", key=b["keys"]["admin"]).json["data"]}),
        ["camt053", "mapped_csv"])
    assert formats == ["camt053", "mapped_csv"]
    exceptions = api.call("GET", "/v1/reconciliation/exceptions", key=b["keys"]["operator"])
    assert exceptions.json["data"] == []


def test_a_payout_missing_from_the_bank_statement_is_one_exception(api, books):
    b = books
    set_format(api, b, account=ACCOUNT, csv=MAPPING)  # format native: runs say what they send
    missing = b["payouts"][1]
    r = run(api, b, format="camt053", xml=camt([[b["funding"]], [b["payouts"][0]]]),
            period_start=b["today"].isoformat(), period_end=b["today"].isoformat())
    assert r.status == 201, r.json
    assert r.json["counts"] == {**CLEAN, "matched": 2, "missing_in_statement": 1}
    listed = lambda: api.call("GET", "/v1/reconciliation/exceptions",  # noqa: E731
                              key=b["keys"]["operator"]).json["data"]
    assert eventually(lambda: len(listed()), 1) == 1  # an index: it trails the run
    [exc] = listed()
    assert (exc["kind"], exc["reference"]) == ("missing_in_statement", missing[0])
    mapped = run(api, b, format="mapped_csv", content_base64=base64.b64encode(
        bank_csv([b["funding"], b["payouts"][0]])).decode())
    assert mapped.json["counts"] == {**CLEAN, "matched": 2, "missing_in_statement": 1}
    assert mapped.json["known_exceptions"] == 1  # the same discrepancy, not raised twice


def line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


def nothing_written(api: Any, b: dict[str, Any], aws: Any) -> None:
    assert api.call("GET", "/v1/reconciliation/runs", key=b["keys"]["admin"]).json["data"] == []
    assert api.call("GET", "/v1/reconciliation/exceptions",
                    key=b["keys"]["operator"]).json["data"] == []
    for name in aws["dynamodb"].list_tables()["TableNames"]:  # not even a `running` run
        for page in aws["dynamodb"].get_paginator("scan").paginate(TableName=name):
            keys = [i.get("pk", {}).get("S", "") for i in page["Items"]]
            assert not [k for k in keys if "#recon-run#" in k or "#recon-exc#" in k], keys


def test_bad_files_are_refused_with_every_problem_and_nothing_written(api, books, aws):
    b = books
    set_format(api, b, account=ACCOUNT, csv=MAPPING)
    xml = camt([[b["funding"]], b["payouts"]])
    xml = xml.replace('<Amt Ccy="CNY">100000.00</Amt>', '<Amt Ccy="USD">100000.00</Amt>')
    xml = xml.replace(f"<EndToEndId>{b['payouts'][1][0]}</EndToEndId>",
                      "<EndToEndId>has space</EndToEndId>")
    xml = xml.replace("<CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>",
                      "<CdtDbtInd>DEBIT</CdtDbtInd><Sts>BOOK</Sts>")
    r = run(api, b, format="camt053", xml=xml)
    assert r.status == 422 and r.headers["content-type"].startswith("application/problem+json")
    stmt = "/body/statement/line/{}/Document/BkToCstmrStmt/Stmt[1]/Ntry[{}]/{}"
    assert [e["pointer"] for e in r.json["errors"]] == [
        stmt.format(line_of(xml, 'Ccy="USD"'), 1, "Amt/@Ccy"),
        stmt.format(line_of(xml, "DEBIT"), 2, "CdtDbtInd"),
        stmt.format(line_of(xml, "has space") - 1, 2, "NtryDtls/TxDtls[2]/Refs")]  # <TxDtls>
    assert r.json["problem_count"] == 3 and r.json["problems_not_listed"] == 0
    assert r.json["detail"] == "The statement file is not valid: 3 problem(s)."

    bad_csv = bank_csv([b["funding"], *b["payouts"]]).decode("gb18030")
    bad_csv = bad_csv.replace(f"{b['today']:%Y%m%d},initial,贷", f"{b['today']:%Y%m%d},initial,收")
    bad_csv = bad_csv.replace(f"{b['today']:%Y%m%d},{b['payouts'][0][0]}",
                              f"{b['today']:%Y-%m-%d},{b['payouts'][0][0]}")
    r = run(api, b, format="mapped_csv", content_base64=base64.b64encode(
        bad_csv.encode("gb18030")).decode())
    assert r.status == 422, r.json
    assert [(e["pointer"], e["code"]) for e in r.json["errors"]] == [
        ("/body/statement/line/3/type/column", "statement"),
        ("/body/statement/line/4/value_date", "statement")]
    assert "'收' is none of 借, 贷" in r.json["errors"][0]["detail"]
    nothing_written(api, b, aws)


def test_past_the_listed_thousand_the_problem_says_exactly_how_many_more(api, books, aws):
    b = books
    rows = ["reference,type,amount,currency,value_date"]
    rows += [f"R{i},payout,-1,CNY,2026-02-30" for i in range(700)]  # two problems a line
    r = run(api, b, csv="\n".join(rows) + "\n")
    assert r.status == 422, r.json
    assert len(r.json["errors"]) == 1000
    assert (r.json["problem_count"], r.json["problems_not_listed"]) == (1400, 400)
    assert "the first 1000 are listed, 400 more are not" in r.json["detail"]
    assert r.json["errors"][-1]["pointer"] == "/body/statement/line/501/value_date"
    nothing_written(api, b, aws)


def test_the_statement_format_is_validated_set_audited_and_read(api, books):
    b = books
    path = f"/v1/channels/{b['channel']}/statement-format"
    empty = api.call("GET", path, key=b["keys"]["operator"])
    assert empty.status == 200 and (empty.json["format"], empty.json["version"]) == ("native", 0)
    bad = {**MAPPING, "fixed_currency": "USD", "value_date": "发生额",
           "type": {"by": "columns", "debit": "借方"}}
    r = set_format(api, b, format="mapped_csv", csv=bad)
    assert r.status == 422
    assert "credit" in str(r.json["errors"])  # the schema first: credit is required
    bad["type"] = {"by": "columns", "debit": "借方", "credit": "贷方"}
    r = set_format(api, b, format="mapped_csv", csv=bad)
    assert r.status == 422, r.json
    assert [(e["pointer"], e["detail"]) for e in r.json["errors"]] == [
        ("/body/csv/amount", "with separate debit and credit columns, give no amount"),
        ("/body/csv/amount", "the same column as value_date"),
        ("/body/csv/fixed_currency", "the channel pays in CNY")]
    assert set_format(api, b, format="mapped_csv").status == 422  # no mapping
    first = set_format(api, b, format="mapped_csv", account=ACCOUNT, csv=MAPPING)
    assert first.status == 200 and first.json["version"] == 1, first.json
    second = set_format(api, b, format="camt053", account="CN12FAKE0000")
    assert second.json["version"] == 2 and second.json["csv"] is None
    got = api.call("GET", path, key=b["keys"]["admin"]).json
    assert {k: got[k] for k in ("format", "account", "version")} == {
        "format": "camt053", "account": "CN12FAKE0000", "version": 2}
    trail = api.call("GET", f"/v1/audit/statement_format/{b['channel']}",
                     key=b["keys"]["admin"]).json["data"]
    assert [(x["action"], x["seq"]) for x in trail] == [("statement_format.set", 1),
                                                       ("statement_format.set", 2)]
    assert api.call("PUT", path, {"format": "native"}, key=b["keys"]["operator"]).status == 403
    assert api.call("GET", "/v1/channels/ch_nope/statement-format",
                    key=b["keys"]["admin"]).status == 404
    r = run(api, b, format="mapped_csv", csv="x\n")
    assert r.status == 422 and r.json["errors"][0]["pointer"] == "/body/format"


def test_the_nightly_job_records_a_refused_statement_with_its_problems_and_retries_it(
        api, books, aws):
    b = books
    set_format(api, b, account=ACCOUNT)
    key = f"acme/statements/{b['channel']}/{b['today'].isoformat()}-bank.xml"
    bad = camt([[b["funding"]], b["payouts"]], account="6222 0000 0000 0000")
    aws["s3"].put_object(Bucket=settings().bucket, Key=key, Body=bad.encode())
    night = daily_checks.reconcile_new("acme", datetime.now().astimezone())
    [failure] = night["failures"]
    assert failure["statement"] == key and not night["ok"] and night["runs"] == []
    assert [e["pointer"] for e in failure["errors"]] == [
        "/body/statement/line/4/Document/BkToCstmrStmt/Stmt[1]/Acct/Id"]
    nothing_written(api, b, aws)
    aws["s3"].put_object(Bucket=settings().bucket, Key=key,
                         Body=camt([[b["funding"]], b["payouts"]]).encode())  # corrected
    [fixed] = daily_checks.reconcile_new("acme", datetime.now().astimezone())["runs"]
    assert fixed["counts"] == CLEAN
