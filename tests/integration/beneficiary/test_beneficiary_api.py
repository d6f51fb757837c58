"""The payout destination through the API: given at intake, checked field by field, sealed,
masked, changeable only before disbursement (audited), refused or referred on a holder name
that is not the applicant's, and carried on the payout the channel receives."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.channels.sandbox import SandboxChannel
from tests.integration.contracts.helpers import contract_of, sign
from tests.integration.disbursement.conftest import channel, disburse
from tests.integration.origination.conftest import (
    UNIONPAY_CARD,
    application,
    make_policy,
    make_product,
    payout_account,
)

_serial = iter(range(300, 999))


def _errors(r: Any) -> dict[str, str]:
    return {e["pointer"]: e["code"] for e in r.json.get("errors", [])}


def _apply(api: Any, keys: dict[str, str], product_id: str, **kw: Any) -> Any:
    body = application(product_id, serial=str(next(_serial)), **kw)
    return api.call("POST", "/v1/applications", body, key=keys["partner"]), body


def _signed(api: Any, keys: dict[str, str], aws: Any, product_id: str, **kw: Any) -> str:
    r, body = _apply(api, keys, product_id, **kw)
    assert r.status == 201 and r.json["status"] == "approved", r.json
    accepted = api.call("POST", f"/v1/applications/{r.json['id']}/accept", key=keys["partner"])
    assert accepted.status == 201, accepted.json
    loan_id = accepted.json["loan"]["id"]
    assert sign(api, keys, contract_of(aws, "acme", loan_id), body["applicant"]).status == 200
    return loan_id


def _scan(aws: Any) -> str:
    items = aws["dynamodb"].scan(TableName="test-main", ConsistentRead=True)["Items"]
    return json.dumps(items, ensure_ascii=False)


def _audit(api: Any, keys: dict[str, str], kind: str, ident: str) -> list[dict[str, Any]]:
    r = api.call("GET", f"/v1/audit/{kind}/{ident}", key=keys["admin"])
    assert r.status == 200, r.json
    return r.json["data"]


def test_an_application_carries_its_beneficiary_sealed_and_shows_it_masked(api, acme, product,
                                                                           aws):
    r, _ = _apply(api, acme, product["id"])
    assert r.status == 201, r.json
    assert r.json["beneficiary"] == {
        "kind": "bank_account", "holder_name": "王**", "scheme": "cn_unionpay_card",
        "bank_code": "ICBC", "account_number": "****0005", "wallet_provider": None,
        "wallet_id": None}
    assert r.json["decision"]["facts"]["beneficiary"] == {
        "present": True, "kind": "bank_account", "scheme": "cn_unionpay_card",
        "name_matches": True}
    stored = _scan(aws)
    assert "beneficiary_enc" in stored and UNIONPAY_CARD not in stored
    accepted = api.call("POST", f"/v1/applications/{r.json['id']}/accept", key=acme["partner"])
    assert accepted.json["loan"]["beneficiary"]["account_number"] == "****0005"
    assert UNIONPAY_CARD not in _scan(aws) and UNIONPAY_CARD not in accepted.body.decode()


def test_account_numbers_are_refused_at_the_field_with_the_scheme_s_reason(api, acme, product):
    cases = {
        ("cn_unionpay_card", "6200000000000006"): "luhn_check_failed",
        ("cn_unionpay_card", "4111111111111111"): "not_unionpay_bin",
        ("cn_unionpay_card", "62000000005"): "length_out_of_range",
        ("cn_bank_account", "12ab5678901"): "not_digits",
        ("iban", "GB82WEST12345698765433"): "iban_check_failed",
    }
    for (scheme, number), code in cases.items():
        account = {**payout_account(number=number), "scheme": scheme}
        r, _ = _apply(api, acme, product["id"], beneficiary=account)
        assert r.status == 422, r.json
        assert _errors(r) == {"/body/beneficiary/account_number": code}, (number, r.json)
    r, _ = _apply(api, acme, product["id"], beneficiary={"kind": "ewallet", "provider": "alipay",
                                                          "holder_name": "王小明"})
    assert _errors(r) == {"/body/beneficiary/wallet_id": "missing"}


def test_a_valid_iban_and_an_ewallet_are_taken(api, acme, product):
    iban = {**payout_account(number="GB82 WEST 1234 5698 7654 32"), "scheme": "iban"}
    r, _ = _apply(api, acme, product["id"], beneficiary=iban)
    assert r.status == 201 and r.json["beneficiary"]["account_number"] == "****5432", r.json
    wallet = {"kind": "ewallet", "provider": "alipay", "wallet_id": "13812345678",
              "holder_name": "王小明"}
    r, _ = _apply(api, acme, product["id"], beneficiary=wallet)
    assert r.status == 201 and r.json["beneficiary"]["wallet_id"] == "****5678", r.json


def test_a_holder_name_matching_after_normalisation_is_the_applicant(api, acme, product):
    for holder in ("王 小明", "王·小明", "王　小明"):
        r, _ = _apply(api, acme, product["id"], beneficiary=payout_account(holder))
        assert r.status == 201 and r.json["status"] == "approved", (holder, r.json)


def test_another_holder_is_refused_by_default(api, acme, product, aws):
    before = _scan(aws).count("application#")
    r, _ = _apply(api, acme, product["id"], beneficiary=payout_account("李四"))
    assert r.status == 422, r.json
    assert _errors(r) == {"/body/beneficiary/holder_name": "beneficiary_name_mismatch"}
    assert _scan(aws).count("application#") == before  # nothing stored


def test_another_holder_is_referred_when_the_policy_says_refer(api, acme):
    policy = make_policy(api, acme["admin"], beneficiary={"name_mismatch": "refer"})
    product = make_product(api, acme["admin"], references={"decision_policy_id": policy["id"]})
    r, _ = _apply(api, acme, product["id"], beneficiary=payout_account("李四"))
    assert r.status == 201 and r.json["status"] == "referred", r.json
    assert "beneficiary_name_mismatch" in [x["code"] for x in r.json["decision"]["reasons"]]
    assert r.json["decision"]["facts"]["beneficiary"]["name_matches"] is False


def test_a_cel_rule_sees_the_beneficiary_facts(api, acme):
    rule = {"id": "card_only", "expression": "beneficiary.scheme == 'cn_unionpay_card'",
            "reason_code": "CARD_ONLY", "reason_text": "We pay to UnionPay cards only."}
    policy = make_policy(api, acme["admin"], rules=[rule])
    product = make_product(api, acme["admin"], references={"decision_policy_id": policy["id"]})
    ok, _ = _apply(api, acme, product["id"])
    assert ok.json["status"] == "approved", ok.json
    iban = {**payout_account(number="GB82WEST12345698765432"), "scheme": "iban"}
    no, _ = _apply(api, acme, product["id"], beneficiary=iban)
    assert no.json["status"] == "declined" and no.json["decision"]["reasons"][0]["code"] == \
        "CARD_ONLY", no.json


def test_a_loan_without_a_beneficiary_is_not_disbursed_until_one_is_set(api, acme, product,
                                                                        aws):
    ch = channel(api, acme, "bank-a")
    loan_id = _signed(api, acme, aws, product["id"], beneficiary=None)
    r = disburse(api, acme["partner"], loan_id)
    assert r.status == 409 and r.json["type"].endswith(":beneficiary-required"), r.json
    card = "6212345678901265"
    put = api.call("PUT", f"/v1/loans/{loan_id}/beneficiary",
                   {"beneficiary": payout_account(number=card)}, key=acme["partner"], idem=True)
    assert put.status == 200 and put.json["beneficiary"]["account_number"] == "****1265", put.json
    r = disburse(api, acme["partner"], loan_id)
    assert r.status == 202, r.json
    attempt = api.call("GET", f"/v1/disbursements/{r.json['id']}",
                       key=acme["partner"]).json["attempts"][0]
    assert attempt["channel_id"] == ch["id"] and attempt["status"] == "settled"
    assert SandboxChannel.received[attempt["payout_id"]] == "Beneficiary(bank_account, ****1265)"
    again = api.call("PUT", f"/v1/loans/{loan_id}/beneficiary",
                     {"beneficiary": payout_account()}, key=acme["partner"], idem=True)
    assert again.status == 409 and again.json["loan_status"] == "active", again.json
    trail = _audit(api, acme, "loan", loan_id)
    changed = [t for t in trail if t["action"] == "loan.beneficiary_changed"]
    assert len(changed) == 1 and card not in json.dumps(trail, ensure_ascii=False)
    assert changed[0]["data"]["beneficiary"]["account_number"] == "****1265"
    assert card not in _scan(aws)


def test_a_changed_application_beneficiary_is_the_loan_s(api, acme, product):
    r, _ = _apply(api, acme, product["id"])
    card = "6212345678901265"
    put = api.call("PUT", f"/v1/applications/{r.json['id']}/beneficiary",
                   {"beneficiary": payout_account(number=card)}, key=acme["partner"], idem=True)
    assert put.status == 200 and put.json["beneficiary"]["account_number"] == "****1265", put.json
    accepted = api.call("POST", f"/v1/applications/{r.json['id']}/accept", key=acme["partner"])
    assert accepted.json["loan"]["beneficiary"]["account_number"] == "****1265"
    late = api.call("PUT", f"/v1/applications/{r.json['id']}/beneficiary",
                    {"beneficiary": payout_account()}, key=acme["partner"], idem=True)
    assert late.status == 409, late.json


def test_a_referred_change_waits_for_a_reviewer_and_blocks_the_payout(api, acme, aws):
    from tests.integration.contracts.helpers import tenant_keys

    policy = make_policy(api, acme["admin"], beneficiary={"name_mismatch": "refer"})
    product = make_product(api, acme["admin"], references={"decision_policy_id": policy["id"]})
    channel(api, acme, "bank-a")
    loan_id = _signed(api, acme, aws, product["id"])
    other = payout_account("李四", number="6212345678901265")
    put = api.call("PUT", f"/v1/loans/{loan_id}/beneficiary", {"beneficiary": other},
                   key=acme["partner"], idem=True)
    assert put.status == 200, put.json
    assert put.json["beneficiary"]["account_number"] == "****0005"  # unchanged until approved
    assert put.json["beneficiary_pending"]["account_number"] == "****1265"
    blocked = disburse(api, acme["partner"], loan_id)
    assert blocked.status == 409 and blocked.json["type"].endswith(
        ":beneficiary-change-pending"), blocked.json
    review = {"decision": "approve", "comment": "called the borrower: their spouse's card"}
    path = f"/v1/loans/{loan_id}/beneficiary/review"
    assert api.call("POST", path, review, key=acme["partner"]).status == 403  # not a reviewer
    done = api.call("POST", path, review, key=acme["reviewer"])
    assert done.status == 200 and done.json["beneficiary"]["account_number"] == "****1265", \
        done.json
    assert done.json["beneficiary_pending"] is None
    assert disburse(api, acme["partner"], loan_id).status == 202
    # another tenant sees none of it
    keys2 = tenant_keys(api, "acme2")
    assert api.call("PUT", f"/v1/loans/{loan_id}/beneficiary", {"beneficiary": other},
                    key=keys2["partner"], idem=True).status == 404


def test_a_requester_cannot_approve_their_own_held_change(api, acme, aws):
    policy = make_policy(api, acme["admin"], beneficiary={"name_mismatch": "refer"})
    product = make_product(api, acme["admin"], references={"decision_policy_id": policy["id"]})
    loan_id = _signed(api, acme, aws, product["id"])
    put = api.call("PUT", f"/v1/loans/{loan_id}/beneficiary",
                   {"beneficiary": payout_account("李四")}, key=acme["admin"])
    assert put.status == 200 and put.json["beneficiary_pending"]["requested_by"], put.json
    review = {"decision": "approve", "comment": "mine"}
    own = api.call("POST", f"/v1/loans/{loan_id}/beneficiary/review", review, key=acme["admin"])
    assert own.status == 403, own.json
    declined = api.call("POST", f"/v1/loans/{loan_id}/beneficiary/review",
                        {"decision": "decline", "comment": "not the borrower's"},
                        key=acme["reviewer"])
    assert declined.status == 200 and declined.json["beneficiary_pending"] is None
    assert declined.json["beneficiary"]["holder_name"] == "王**"  # the old one stands
    actions = [t["action"] for t in _audit(api, acme, "loan", loan_id)]
    assert "loan.beneficiary_change_held" in actions
    assert "loan.beneficiary_change_declined" in actions


def test_a_loan_level_mismatch_is_refused_by_default(api, acme, product, aws):
    loan_id = _signed(api, acme, aws, product["id"])
    r = api.call("PUT", f"/v1/loans/{loan_id}/beneficiary",
                 {"beneficiary": payout_account("李四")}, key=acme["partner"])
    assert r.status == 422 and _errors(r) == {
        "/body/beneficiary/holder_name": "beneficiary_name_mismatch"}, r.json


def test_the_sealed_beneficiary_opens_only_for_its_own_record(api, acme, product):
    import pytest
    from cryptography.exceptions import InvalidTag

    from chalicelib.services import beneficiaries
    from chalicelib.store.loans import get_loan
    from chalicelib.store.origination import get_application

    r, _ = _apply(api, acme, product["id"])
    accepted = api.call("POST", f"/v1/applications/{r.json['id']}/accept", key=acme["partner"])
    app_item = get_application("acme", r.json["id"])
    loan = get_loan("acme", accepted.json["loan"]["id"])
    assert beneficiaries.unseal("acme", loan.loan_id, loan.beneficiary_enc).account_number == \
        UNIONPAY_CARD
    with pytest.raises(InvalidTag):  # the application's envelope pasted onto the loan
        beneficiaries.unseal("acme", loan.loan_id, app_item.beneficiary_enc)
    with pytest.raises(InvalidTag):  # or read as another tenant's
        beneficiaries.unseal("acme2", loan.loan_id, loan.beneficiary_enc)


def test_a_holder_mismatch_is_listed_with_the_other_business_problems(api, acme, product):
    r, _ = _apply(api, acme, product["id"], amount="99999999.00",
                  beneficiary=payout_account("李四"))
    assert r.status == 422, r.json
    assert _errors(r) == {"/body/amount": "amount_out_of_range",
                          "/body/beneficiary/holder_name": "beneficiary_name_mismatch"}
