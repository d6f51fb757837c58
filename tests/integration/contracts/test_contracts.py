"""Contracts through the API: created on acceptance, signed once with evidence, verified."""

from __future__ import annotations

import io
from typing import Any

import pypdf
import pytest
import requests

from tests.integration.contracts.helpers import (
    accepted_loan,
    contract_of,
    make_product,
    sign,
    tenant_keys,
)


@pytest.fixture
def acme(api: Any) -> dict[str, str]:
    return tenant_keys(api, "acme")


@pytest.fixture
def loan(api: Any, acme: dict[str, str], aws: Any) -> dict[str, Any]:
    product = make_product(api, acme["admin"])
    accepted = accepted_loan(api, acme, product["id"])
    accepted["contract_id"] = contract_of(aws, "acme", accepted["loan"]["id"])
    return accepted


def _pdf_text(aws: Any, key: str) -> str:
    body = aws["s3"].get_object(Bucket="test-documents", Key=key)["Body"].read()
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(body)).pages)


def test_render_sign_verify(api, acme, loan, aws):
    cid = loan["contract_id"]
    c = api.call("GET", f"/v1/contracts/{cid}", key=acme["reviewer"])
    assert c.status == 200 and c.json["status"] == "pending_signature", c.json
    assert c.json["template_id"] == "default" and c.json["loan_id"] == loan["loan"]["id"]
    key = f"acme/contracts/{cid}/document.pdf"
    text = _pdf_text(aws, key)
    assert "借款合同" in text and "Loan Agreement" in text and "王小明" in text
    assert loan["loan"]["apr_percent"] in text and "10000.00" in text
    # the document link is a presigned GET of the tenant's own object, and serves the bytes
    d = api.call("GET", f"/v1/contracts/{cid}/document", key=acme["partner"])
    assert d.status == 200 and f"/acme/contracts/{cid}/document.pdf" in d.json["url"]
    fetched = requests.get(d.json["url"], timeout=10)
    assert fetched.status_code == 200 and fetched.content[:5] == b"%PDF-"

    r = sign(api, acme, cid, loan["applicant"], headers={"User-Agent": "test-agent/1.0"})
    assert r.status == 200, r.json
    sig = r.json["signature"]
    assert r.json["status"] == "signed" and sig["document_sha256"] == c.json["document_sha256"]
    assert sig["user_agent"] == "test-agent/1.0" and sig["ip"]
    v = api.call("POST", f"/v1/contracts/{cid}/verify", key=acme["operator"])
    assert v.status == 200 and v.json["match"] is True, v.json
    signed = api.call("GET", f"/v1/contracts/{cid}/document", key=acme["partner"])
    assert "/signed/document.pdf" in signed.json["url"] and signed.json["signed"]
    # the loan awaits disbursement now, and the audit chains verify
    audit = api.call("POST", "/v1/audit/verify", key=acme["admin"])
    assert audit.json["ok"], audit.json


def test_second_signature_refused_and_signed_contract_unchanged(api, acme, loan):
    cid = loan["contract_id"]
    assert sign(api, acme, cid, loan["applicant"]).status == 200
    again = api.call("POST", f"/v1/contracts/{cid}/signing-code", key=acme["partner"])
    assert again.status == 409
    body = {"code": "123456", "signer": {"name": "王小明", "national_id": "x" * 18}}
    r = api.call("POST", f"/v1/contracts/{cid}/sign", body, key=acme["partner"])
    assert r.status == 409 and "signed once" in r.json["detail"]


def test_tampered_document_is_detected_and_cannot_be_signed(api, acme, loan, aws):
    cid = loan["contract_id"]
    key = f"acme/contracts/{cid}/document.pdf"
    aws["s3"].put_object(Bucket="test-documents", Key=key, Body=b"%PDF-1.4 forged")
    v = api.call("POST", f"/v1/contracts/{cid}/verify", key=acme["admin"])
    assert v.status == 200 and v.json["match"] is False
    assert v.json["document_sha256"] != v.json["recorded_sha256"]
    r = sign(api, acme, cid, loan["applicant"])
    assert r.status == 409 and r.json["type"].endswith("document-tampered")


def test_tampering_after_signing_is_detected(api, acme, loan, aws):
    cid = loan["contract_id"]
    assert sign(api, acme, cid, loan["applicant"]).status == 200
    aws["s3"].put_object(Bucket="test-documents", Key=f"acme/contracts/{cid}/signed/document.pdf",
                         Body=b"%PDF-1.4 forged")
    v = api.call("POST", f"/v1/contracts/{cid}/verify", key=acme["admin"])
    assert v.json["match"] is False and v.json["document_sha256"] == v.json["recorded_sha256"]


def test_wrong_codes_are_limited_and_signer_must_be_the_borrower(api, acme, loan):
    cid = loan["contract_id"]
    code = api.call("POST", f"/v1/contracts/{cid}/signing-code", key=acme["partner"]).json
    assert "code" in code and code["sent_to"] == "***5678"
    wrong = "000000" if code["code"] != "000000" else "111111"
    applicant = loan["applicant"]
    signer = {"name": applicant["name"], "national_id": applicant["national_id"]["number"]}
    r = api.call("POST", f"/v1/contracts/{cid}/sign", {"code": code["code"], "signer": {
        **signer, "name": "李四"}}, key=acme["partner"])
    assert r.status == 422 and r.json["errors"][0]["code"] == "signer_mismatch"
    for _ in range(3):
        r = api.call("POST", f"/v1/contracts/{cid}/sign", {"code": wrong, "signer": signer},
                     key=acme["partner"])
        assert r.status == 422 and r.json["errors"][0]["code"] == "code_wrong"
    # five attempts in all (the mismatch spent one): the right code no longer works
    r = api.call("POST", f"/v1/contracts/{cid}/sign", {"code": wrong, "signer": signer},
                 key=acme["partner"])
    assert r.json["errors"][0]["code"] == "code_wrong"
    r = api.call("POST", f"/v1/contracts/{cid}/sign", {"code": code["code"], "signer": signer},
                 key=acme["partner"])
    assert r.status == 422 and r.json["errors"][0]["code"] == "too_many_attempts"
    # a new code resets the attempts
    assert sign(api, acme, cid, applicant).status == 200


SANDBOX_ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ loan.__class__ }}",
    "{% for c in ''.__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ schedule.append(1) }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{{ 'x' * 100000000 }}",
    "{{ unclosed",
]


@pytest.mark.parametrize("source", SANDBOX_ESCAPES)
def test_templates_that_escape_the_sandbox_are_refused_with_422(api, acme, source):
    r = api.call("POST", "/v1/contract-templates", {"name": "evil", "body": source},
                 key=acme["admin"])
    assert r.status == 422, r.json
    assert r.json["errors"][0]["pointer"] == "/body/body"


def test_templates_version_immutably_and_a_product_uses_its_template(api, acme, aws):
    body = "# 合同 {{ contract_id }}\n借款人 {{ borrower.name }} 金额 {{ loan.principal }}\n"
    t = api.call("POST", "/v1/contract-templates", {"name": "简版", "body": body},
                 key=acme["admin"])
    assert t.status == 201 and t.json["version"] == 1, t.json
    tid = t.json["id"]
    v2 = api.call("POST", f"/v1/contract-templates/{tid}/versions",
                  {"body": body + "版本二 v2\n"}, key=acme["admin"])
    assert v2.status == 201 and v2.json["current_version"] == 2
    v1 = api.call("GET", f"/v1/contract-templates/{tid}?version=1", key=acme["reviewer"])
    assert v1.json["body"] == body and v1.json["sha256"] == t.json["sha256"]
    listed = api.call("GET", "/v1/contract-templates", key=acme["reviewer"])
    assert [x["id"] for x in listed.json["data"]] == [tid]
    product = make_product(api, acme["admin"], references={"contract_template_id": tid})
    loan = accepted_loan(api, acme, product["id"])
    cid = contract_of(aws, "acme", loan["loan"]["id"])
    c = api.call("GET", f"/v1/contracts/{cid}", key=acme["admin"]).json
    assert (c["template_id"], c["template_version"]) == (tid, 2)
    assert "版本二" in _pdf_text(aws, f"acme/contracts/{cid}/document.pdf")


def test_an_offer_accepted_right_after_a_new_template_version_uses_it(api, acme, aws):
    """The template version is read consistently: 2 s after its creation, on lagging reads, the
    acceptance finds it (it was a 500) and the contract is rendered from it."""
    from tests.integration.origination.conftest import application
    from tests.lag import lag

    t = api.call("POST", "/v1/contract-templates", {"name": "简版", "body": "# 合同 v1\n"},
                 key=acme["admin"]).json
    product = make_product(api, acme["admin"], references={"contract_template_id": t["id"]})
    submitted = api.call("POST", "/v1/applications", application(product["id"]),
                         key=acme["partner"])
    assert submitted.status == 201 and submitted.json["status"] == "approved", submitted.json
    with lag(index_ms=2000, base_ms=2000):
        v2 = api.call("POST", f"/v1/contract-templates/{t['id']}/versions",
                      {"body": "# 合同 版本二\n"}, key=acme["admin"])
        assert v2.status == 201, v2.json
        accepted = api.call("POST", f"/v1/applications/{submitted.json['id']}/accept",
                            key=acme["partner"])
        assert accepted.status == 201, accepted.json
        cid = contract_of(aws, "acme", accepted.json["loan"]["id"])
        c = api.call("GET", f"/v1/contracts/{cid}", key=acme["admin"]).json
    assert (c["template_id"], c["template_version"]) == (t["id"], 2)
    assert "版本二" in _pdf_text(aws, f"acme/contracts/{cid}/document.pdf")


def test_other_tenants_see_404_and_roles_are_enforced(api, acme, loan):
    other = tenant_keys(api, "acme-corp")
    cid = loan["contract_id"]
    t = api.call("POST", "/v1/contract-templates", {"name": "t", "body": "# hi\n"},
                 key=acme["admin"]).json
    for method, path in [("GET", f"/v1/contracts/{cid}"),
                         ("GET", f"/v1/contracts/{cid}/document"),
                         ("POST", f"/v1/contracts/{cid}/signing-code"),
                         ("POST", f"/v1/contracts/{cid}/verify"),
                         ("GET", f"/v1/contract-templates/{t['id']}")]:
        key = other["partner"] if "signing" in path else other["admin"]
        assert api.call(method, path, key=key).status == 404, path
    r = api.call("POST", f"/v1/contracts/{cid}/sign", {"code": "123456", "signer": {
        "name": "x", "national_id": "12345678"}}, key=other["partner"])
    assert r.status == 404
    assert api.call("POST", "/v1/contract-templates", {"name": "t", "body": "x"},
                    key=acme["partner"]).status == 403
    assert api.call("POST", f"/v1/contracts/{cid}/signing-code",
                    key=acme["admin"]).status == 403
    assert api.call("GET", f"/v1/contracts/{cid}/document", key=acme["reviewer"]).status == 403
