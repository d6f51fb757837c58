"""Where a payout goes: the borrower's bank account or e-wallet (personal data, pure).

The value a payout instruction carries to a channel (`channels.protocol.Payout.beneficiary`).
Stored only sealed (services/personal_data), shown only masked, never logged: `__repr__`
masks too, so an exception or a debug line that prints a Payout cannot leak it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

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
