"""Applicant text is refused at intake when the contract could not print it faithfully (issue
16): invisible controls (bidi overrides, zero-width characters) and characters the contract
fonts have no glyph for are a 422 at the field, so an approved application always accepts."""

from __future__ import annotations

import io

import pypdf
import pytest

from tests.integration.contracts.helpers import contract_of
from tests.integration.origination.conftest import application


def _rows(aws, table: str = "test-main") -> int:
    return aws["dynamodb"].scan(TableName=table, Select="COUNT", ConsistentRead=True)["Count"]


def _submit(api, acme, product, name: str):
    body = application(product["id"])
    body["applicant"]["name"] = body["beneficiary"]["holder_name"] = name
    return api.call("POST", "/v1/applications", body, key=acme["partner"])


@pytest.mark.parametrize("name, code_point", [
    ("王小\u202e明", "U+202E"),   # RIGHT-TO-LEFT OVERRIDE: would reorder the printed name
    ("Wang\u200bXiaoming", "U+200B"),  # ZERO WIDTH SPACE
    ("王\u2066小明\u2069", "U+2066"),   # LEFT-TO-RIGHT ISOLATE
    ("\ufeff王小明", "U+FEFF"),  # BOM / zero-width no-break space
    ("王小明\u0007", "U+0007"),  # a control character
])
def test_invisible_controls_are_a_422_at_the_name_and_nothing_is_written(
        api, acme, product, aws, name, code_point):
    before = _rows(aws)
    r = _submit(api, acme, product, name)
    assert r.status == 422, r.json
    errors = {e["pointer"]: e for e in r.json["errors"]}
    assert errors["/body/applicant/name"]["code"] == "undrawable_character"
    assert code_point in errors["/body/applicant/name"]["detail"]
    assert _rows(aws) == before
    listed = api.call("GET", "/v1/applications", key=acme["partner"]).json["data"]
    assert listed == []


@pytest.mark.parametrize("name", ["王小明😀", "\U00020000小明", "Ⅻ Smith"])
def test_characters_the_contract_fonts_cannot_draw_are_a_422(api, acme, product, aws, name):
    from chalicelib.contracts.document import covered

    assert any(ord(c) not in covered() for c in name)  # the premise: the font lacks a glyph
    r = _submit(api, acme, product, name)
    assert r.status == 422, r.json
    assert [e["code"] for e in r.json["errors"] if e["pointer"] == "/body/applicant/name"] == [
        "undrawable_character"]


def test_blank_after_normalising_is_refused(api, acme, product):
    r = _submit(api, acme, product, "   ")
    assert r.status == 422
    assert "/body/applicant/name" in {e["pointer"] for e in r.json["errors"]}


def test_a_chinese_name_with_a_middle_dot_passes_and_its_contract_renders(api, acme, product,
                                                                          aws):
    name = "阿卜杜拉·买买提"
    r = _submit(api, acme, product, name)
    assert r.status == 201 and r.json["status"] == "approved", r.json
    accepted = api.call("POST", f"/v1/applications/{r.json['id']}/accept", key=acme["partner"])
    assert accepted.status == 201, accepted.json
    cid = accepted.json["contract_id"]
    assert cid == contract_of(aws, "acme", accepted.json["loan"]["id"])
    assert api.call("GET", f"/v1/contracts/{cid}", key=acme["partner"]).status == 200
    pdf = aws["s3"].get_object(Bucket="test-documents", Key=f"acme/contracts/{cid}/document.pdf")
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf["Body"].read())).pages)
    assert "买买提" in text


def test_a_decomposed_name_is_stored_composed(api, acme, product):
    """NFC before checking and storing: 'e' + COMBINING ACUTE is the one glyph 'é'."""
    r = _submit(api, acme, product, "Rene\u0301 Dupont")
    assert r.status == 201, r.json
    from chalicelib.services import applications

    item = applications.get("acme", r.json["id"])
    assert applications.applicant_of("acme", item)["name"] == "René Dupont"


def test_the_borrower_signs_with_the_name_as_typed_in_either_normal_form(api, acme, product):
    """The stored name is NFC; a signer typing the decomposed form still matches."""
    from tests.integration.contracts.helpers import sign

    body = application(product["id"])
    body["applicant"]["name"] = body["beneficiary"]["holder_name"] = "Rene\u0301 Dupont"
    r = api.call("POST", "/v1/applications", body, key=acme["partner"])
    accepted = api.call("POST", f"/v1/applications/{r.json['id']}/accept", key=acme["partner"])
    assert accepted.status == 201, accepted.json
    signed = sign(api, acme, accepted.json["contract_id"], body["applicant"])
    assert signed.status == 200, signed.json


def test_a_tenant_name_the_contract_cannot_print_is_refused(api):
    """The lender's name is on every contract: a bad one would make every acceptance fail."""
    body = {"tenant_id": "spoof", "name": "Lender\u202eredneL", "base_currency": "CNY",
            "time_zone": "UTC"}
    r = api.call("POST", "/v1/tenants", body, key=api.platform_key)
    assert r.status == 422
    assert [e["code"] for e in r.json["errors"] if e["pointer"] == "/body/name"] == [
        "undrawable_character"]
    assert api.call("POST", "/v1/tenants", {**body, "name": "示例贷款·Lender"},
                    key=api.platform_key).status == 201
