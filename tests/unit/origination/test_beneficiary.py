"""The payout destination's pure rules: account checks from published examples, holder-name
normalisation (Chinese, transliterated minority names, full-width), masking, decision facts."""

from __future__ import annotations

import copy

import pytest

from chalicelib.lending import beneficiary as rules
from chalicelib.lending.beneficiary import Beneficiary
from chalicelib.lending.decision import SAMPLE_FACTS, PolicyConfig, ScoreBands, decide


def _codes(scheme: str, raw: str) -> list[str]:
    return [p.code for p in rules.account_problems(scheme, rules.normalize_account(scheme, raw))]


@pytest.mark.parametrize("number", [
    "6200000000000005",  # UnionPay test card (Stripe's published test numbers)
    "6205500000000000004",  # 19 digits, UnionPay test card (Stripe)
    "6250941006528599",  # UnionPay test card (Adyen's published test cards)
    "6200 0000 0000 0005",  # spaces as printed on the card
    "".join(chr(ord(c) + 0xFEE0) for c in "6200000000000005"),  # full-width digits
])
def test_valid_unionpay_cards_pass(number):
    assert _codes("cn_unionpay_card", number) == []


@pytest.mark.parametrize("number, code", [
    ("6200000000000006", "luhn_check_failed"),  # last digit off by one
    ("6250941006528598", "luhn_check_failed"),
    ("4111111111111111", "not_unionpay_bin"),  # a Visa test number: Luhn-valid, not 62
    ("620000000005", "length_out_of_range"),
    ("62000000000000000000", "length_out_of_range"),
    ("62000000000000O5", "not_digits"),  # letter O
])
def test_invalid_unionpay_cards_are_refused_with_the_reason(number, code):
    assert _codes("cn_unionpay_card", number) == [code]


@pytest.mark.parametrize("number", [
    "GB82 WEST 1234 5698 7654 32",  # the ISO 13616 / ECBS example
    "DE89370400440532013000",  # the German example from the IBAN registry
    "gb82west12345698765432",  # lower case is normalized
])
def test_valid_ibans_pass(number):
    assert _codes("iban", number) == []


def test_ibans_failing_mod_97_or_the_country_format_are_refused():
    assert _codes("iban", "GB82WEST12345698765433") == ["iban_check_failed"]
    assert _codes("iban", "DE89370400440532013001") == ["iban_check_failed"]
    from stdnum import iban

    short = "37040044053201300"  # a German BBAN one digit short, with valid mod-97 digits
    assert _codes("iban", f"DE{iban.calc_check_digits('DE00' + short)}{short}") == [
        "iban_invalid"]


def test_mainland_accounts_have_length_bounds_and_no_check_digit():
    assert _codes("cn_bank_account", "6222 0212 3456 7890") == []  # Luhn-invalid is fine
    assert _codes("cn_bank_account", "1234567") == ["length_out_of_range"]
    assert _codes("cn_bank_account", "1" * 31) == ["length_out_of_range"]
    assert _codes("cn_bank_account", "12345678ab") == ["not_digits"]


@pytest.mark.parametrize("holder, applicant", [
    ("王小明", "王小明"),
    ("王 小明", "王小明"),
    ("王　小明", "王小明"),  # ideographic space
    ("艾力·买买提", "艾力买买提"),  # a Uyghur name with its middle dot
    ("艾力•买买提", "艾力·买买提"),  # bullet typed for the middle dot
    ("阿卜杜拉.买买提", "阿卜杜拉·买买提"),  # full stop typed for it
    ("ＷＡＮＧ　Ｘｉａｏｍｉｎｇ", "wang xiaoming"),  # full-width Latin
    ("René Dupont", "Rene\u0301 Dupont"),  # composed vs decomposed
])
def test_names_match_after_normalisation(holder, applicant):
    assert rules.names_match(holder, applicant)


@pytest.mark.parametrize("holder, applicant", [
    ("王小明", "王晓明"), ("李四", "王小明"), ("Wang Xiaoming", "王小明"), ("王小", "王小明")])
def test_other_names_do_not_match(holder, applicant):
    assert not rules.names_match(holder, applicant)


def test_masked_and_repr_show_only_the_last_four_and_the_first_character():
    b = Beneficiary("bank_account", "王小明", bank_code="ICBC",
                    account_number="6200000000000005", scheme="cn_unionpay_card")
    shown = rules.masked(b)
    assert shown["account_number"] == "****0005" and shown["holder_name"] == "王**"
    assert "6200000000000005" not in repr(b) + str(b) + str(shown)
    assert "小明" not in repr(b) + str(shown)
    assert Beneficiary.of(b.as_json()) == b


def _facts(payee: dict) -> dict:
    facts = copy.deepcopy(SAMPLE_FACTS)
    facts["beneficiary"] = payee
    return facts


def test_a_mismatching_holder_refers_an_approval():
    policy = PolicyConfig(score_bands=ScoreBands(approve_from=500, decline_below=400))
    mine = Beneficiary("ewallet", "王小明", wallet_provider="alipay", wallet_id="13812345678")
    ok = decide(policy, _facts(rules.facts(mine, "王小明")), 100, [])
    assert ok.outcome == "approve"
    other = decide(policy, _facts(rules.facts(mine, "李四")), 100, [])
    assert other.outcome == "refer"
    assert [r.code for r in other.reasons] == ["beneficiary_name_mismatch"]
    assert rules.facts(None, "x") == {"present": False, "kind": "", "scheme": "",
                                      "name_matches": False}
    assert decide(policy, _facts(rules.facts(None, "x")), 100, []).outcome == "approve"
