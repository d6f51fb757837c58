"""Personal data (OWASP API3, excessive data exposure): after the fixture worlds' whole flow
(applications with national ID and phone, decisions, contracts rendered to PDF and signed,
disbursement, repayment, close of business, reconciliation, webhooks delivered) plus the
reports and CSV exports, no national ID or phone number is in clear in any DynamoDB item, any
S3 object (PDF text extracted and raw streams inflated), any log line the app emitted at DEBUG,
anything printed, or any webhook payload."""

from __future__ import annotations

import io
import json
import re
import zlib
from datetime import date, timedelta

import pytest
from pypdf import PdfReader

from tests.integration.origination.conftest import UNIONPAY_CARD, application
from tests.security.conftest import BUCKET, Env
from tests.security.world import PHONE_DIGITS

pytestmark = pytest.mark.xdist_group("security")  # one shared world, one worker


def _forms(env: Env) -> list[str]:
    ids = [*env.acme.secrets(), *env.acme2.secrets()]
    sample = application("p", serial="777")["applicant"]["national_id"]["number"]
    ids.append(sample)  # sent (and refused) by the mass-assignment and limits checks
    out = set(ids)
    for value in ids:
        if len(value) == 18:
            out.add(value[:14])  # region + birth date + serial: identifying on its own
    out |= {"+86" + PHONE_DIGITS, "138 1234 5678", "138-1234-5678"}
    out |= {UNIONPAY_CARD, UNIONPAY_CARD[:12]}  # the payout account: in clear only sealed
    return sorted(out)


def _holder(env: Env) -> str:
    """The beneficiary's holder name (the applicant's): printed on the contract, so checked
    where it must never be, logs, output and webhooks."""
    return str(application("p")["beneficiary"]["holder_name"])


def _pdf_texts(data: bytes) -> list[str]:
    """The PDF's extracted text, and every Flate stream inflated (content and ToUnicode)."""
    texts = ["".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)]
    for raw in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            texts.append(zlib.decompress(raw).decode("latin-1"))
        except zlib.error:
            texts.append(raw.decode("latin-1"))
    return texts


def _stored(env: Env) -> tuple[list[str], list[str], list[str]]:
    ddb = env.aws["dynamodb"]
    items = []
    for table in ddb.list_tables()["TableNames"]:
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            items += [json.dumps(i, ensure_ascii=False) for i in page["Items"]]
    objects, pdf_text = [], []
    s3 = env.aws["s3"]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", []):
            data = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
            objects.append(obj["Key"] + "\n" + data.decode("utf-8", "replace"))
            if obj["Key"].endswith(".pdf"):
                pdf_text += _pdf_texts(data)
    return items, objects, pdf_text


def _run_reports(env: Env) -> list[bytes]:
    today = date.today()
    span = f"from={(today - timedelta(days=30)).isoformat()}&to={today.isoformat()}"
    bodies = []
    for w in (env.acme, env.acme2):
        for path in ("/v1/reports/portfolio", "/v1/reports/portfolio.csv",
                     f"/v1/reports/origination?{span}", f"/v1/reports/origination.csv?{span}"):
            r = env.api.call("GET", path, key=w.keys["reviewer"])
            assert r.status == 200, (path, r.status, r.body[:200])
            bodies.append(r.body)
    return bodies


def _found(forms: list[str], text: str) -> list[str]:
    return [f for f in forms if f in text]


def test_no_national_id_or_phone_in_clear_anywhere(env: Env) -> None:
    forms = _forms(env)
    reports = _run_reports(env)
    items, objects, pdf_text = _stored(env)
    # The scans are not vacuous: each source holds what it should.
    assert any("applicant_enc" in i for i in items)
    assert any(env.acme.ids["contract_id"] in t for t in pdf_text), "PDF text not extracted"
    assert any("**" in t and "5678" in t for t in pdf_text), "the masked phone is in the PDF"
    assert env.acme.ids["application_id"] in "\n".join(env.logs.lines)
    assert env.acme.delivered and any(env.acme.ids["loan_id"].encode() in p
                                      for p in env.acme.delivered)
    assert any(b"," in r for r in reports)
    for name, texts in (("DynamoDB", items), ("S3", objects), ("PDF text", pdf_text),
                        ("log", env.logs.lines), ("stdout", [env.stdout.getvalue()]),
                        ("webhook", [p.decode("utf-8", "replace") for w in (env.acme, env.acme2)
                                     for p in w.delivered]),
                        ("report", [r.decode("utf-8", "replace") for r in reports])):
        leaks = {f: t[:200] for t in texts for f in _found(forms, t)}
        assert leaks == {}, (name, leaks)
    assert any("beneficiary_enc" in i for i in items)
    for name, texts in (("log", env.logs.lines), ("stdout", [env.stdout.getvalue()])):
        assert _found([_holder(env)], "\n".join(texts)) == [], name


def test_responses_show_personal_data_masked(env: Env) -> None:
    w = env.acme
    for path in (f"/v1/applications/{w.ids['application_id']}",
                 f"/v1/applications/{w.ids['open_application_id']}", "/v1/applications",
                 f"/v1/loans/{w.ids['loan_id']}", f"/v1/contracts/{w.ids['contract_id']}",
                 "/v1/reviews"):
        r = env.api.call("GET", path, key=w.keys["admin"])
        assert r.status == 200, (path, r.status)
        text = r.body.decode()
        assert _found(_forms(env), text) == [], path




def test_signature_evidence_keeps_the_signer_sealed_and_masked(env: Env) -> None:
    """Regression: the Object-Locked evidence record held the signer's national ID in clear."""
    from chalicelib.services import personal_data

    w = env.acme
    keys = [o["Key"] for o in env.aws["s3"].list_objects_v2(
        Bucket=BUCKET, Prefix=f"acme/contracts/{w.ids['contract_id']}/signed/signature-")
        .get("Contents", [])]
    assert len(keys) == 1, keys
    record = json.loads(env.aws["s3"].get_object(Bucket=BUCKET, Key=keys[0])["Body"].read())
    signer = record["signer"]
    national_id = w.national_ids[0]
    assert signer["national_id"] == "*" * 14 + national_id[-4:]
    assert national_id not in json.dumps(record)
    opened = personal_data.unseal("acme", "signature", w.ids["contract_id"], signer["sealed"])
    assert opened["national_id"] == national_id and opened["name"] == "王小明"
