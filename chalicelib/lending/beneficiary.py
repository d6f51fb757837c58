"""Where a payout goes: the borrower's bank account or e-wallet (personal data, pure).

The value a payout instruction carries to a channel (`channels.protocol.Payout.beneficiary`).
Stored only sealed (services/personal_data), shown only masked, never logged: `__repr__`
masks too, so an exception or a debug line that prints a Payout cannot leak it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.lending.identity import mask_name

Kind = Literal["bank_account", "ewallet"]


@dataclass(frozen=True)
class Beneficiary:
    kind: Kind
    holder_name: str  # NFC, as the account holder is named at the bank or wallet
    bank_code: str | None = None  # bank_account: the bank's code (e.g. CNAPS/SWIFT/clearing)
    account_number: str | None = None  # bank_account: digits (or an IBAN), normalized
    scheme: str | None = None  # bank_account: how the number is checked, e.g. cn_unionpay_card
    wallet_provider: str | None = None  # ewallet: e.g. alipay, wechat_pay
    wallet_id: str | None = None  # ewallet: the provider's account id

    def __repr__(self) -> str:
        tail = (self.account_number or self.wallet_id or "")[-4:]
        return f"Beneficiary({self.kind}, ****{tail})"

    __str__ = __repr__

    def as_json(self) -> dict[str, Any]:
        """The full instruction (for a channel's request body and the sealed record only)."""
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def of(cls, data: dict[str, Any]) -> Beneficiary:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


# --- the pure rules: account formats, holder names, masking ------------------------------

NAME_MISMATCH_CODE = "beneficiary_name_mismatch"
Scheme = Literal["cn_unionpay_card", "cn_bank_account", "iban"]
SCHEMES: tuple[str, ...] = ("cn_unionpay_card", "cn_bank_account", "iban")
CN_ACCOUNT_DIGITS = (8, 30)  # mainland settlement accounts vary by bank: no check digit
CARD_DIGITS = (16, 19)
UNIONPAY_BIN = "62"
# Separators transliterated and minority names carry between parts (艾力·买买提, Anna.Li),
# written in several ways: the middle dot, bullets, the katakana and hyphenation dots.
NAME_DOTS = "·•.・‧∙⋅"
_ACCOUNT_SEPARATORS = str.maketrans("", "", " -\u00a0\u3000")


@dataclass(frozen=True)
class AccountProblem:
    code: str
    msg: str


def normalize_account(scheme: str, raw: str) -> str:
    """The number as stored and sent: full-width digits folded, spaces and dashes dropped,
    an IBAN in upper case."""
    text = unicodedata.normalize("NFKC", raw).translate(_ACCOUNT_SEPARATORS)
    return text.upper() if scheme == "iban" else text


def account_problems(scheme: str, number: str) -> list[AccountProblem]:
    """Why a normalized account number cannot be paid to under its scheme ([]: it can)."""
    from stdnum import iban, luhn  # imported on use: the cold path never needs it
    from stdnum.exceptions import InvalidChecksum, ValidationError

    if scheme == "iban":
        try:
            iban.validate(number)
        except InvalidChecksum:
            return [AccountProblem("iban_check_failed", "the IBAN's mod-97 check digits do "
                                   "not match")]
        except ValidationError as exc:
            return [AccountProblem("iban_invalid", f"not a valid IBAN: {exc.message}")]
        return []
    if not number.isascii() or not number.isdigit():
        return [AccountProblem("not_digits", "must contain only digits")]
    if scheme == "cn_bank_account":
        lo, hi = CN_ACCOUNT_DIGITS
        if not lo <= len(number) <= hi:
            return [AccountProblem("length_out_of_range", f"must be {lo} to {hi} digits")]
        return []
    lo, hi = CARD_DIGITS
    if not lo <= len(number) <= hi:
        return [AccountProblem("length_out_of_range", f"a UnionPay card has {lo} to {hi} "
                               "digits")]
    if not number.startswith(UNIONPAY_BIN):
        return [AccountProblem("not_unionpay_bin", "a UnionPay card number starts with 62")]
    if not luhn.is_valid(number):
        return [AccountProblem("luhn_check_failed", "the card number's check digit (Luhn) "
                               "does not match")]
    return []


def normalize_name(name: str) -> str:
    """A name reduced for comparison: NFKC (full-width to half-width), case-folded, without
    spaces or the dots between the parts of a transliterated name."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(c for c in folded if not c.isspace() and c not in NAME_DOTS)


def names_match(holder_name: str, applicant_name: str) -> bool:
    return normalize_name(holder_name) == normalize_name(applicant_name)


def _mask_tail(value: str | None) -> str | None:
    return None if value is None else "****" + value[-4:]


def masked(b: Beneficiary) -> dict[str, Any]:
    """What responses and audit records show: the last four characters, the name's first."""
    return {"kind": b.kind, "holder_name": mask_name(b.holder_name), "scheme": b.scheme,
            "bank_code": b.bank_code, "account_number": _mask_tail(b.account_number),
            "wallet_provider": b.wallet_provider, "wallet_id": _mask_tail(b.wallet_id)}


def facts(b: Beneficiary | None, applicant_name: str) -> dict[str, Any]:
    """The beneficiary as decision rules see it (CEL `beneficiary.*`), without personal data."""
    if b is None:
        return {"present": False, "kind": "", "scheme": "", "name_matches": False}
    return {"present": True, "kind": b.kind, "scheme": b.scheme or b.wallet_provider or "",
            "name_matches": names_match(b.holder_name, applicant_name)}
