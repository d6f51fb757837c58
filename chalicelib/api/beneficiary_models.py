"""Request and response shapes of a payout destination (`beneficiary`): a tagged union on
`kind`, checked field by field (the scheme's length, BIN and check digit), shown masked.

A discriminated union's errors are located under the tag (`/beneficiary/bank_account/...`),
which is not a pointer into the body: `_untagged` drops the tag so every error points at the
field the client sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from chalicelib.api.schemas import Strict
from chalicelib.contracts import drawable
from chalicelib.lending import beneficiary as rules
from chalicelib.lending.beneficiary import Beneficiary

HOLDER = ("As the bank or wallet names the holder; compared with the applicant's name after "
          "normalisation (NFKC, case, spaces and middle dots), and the decision policy says "
          "what a mismatch does.")


class BankAccountIn(Strict):
    kind: Literal["bank_account"]
    scheme: rules.Scheme = Field(description="How the number is checked: `cn_unionpay_card` "
                                 "(16-19 digits, starts 62, Luhn), `cn_bank_account` (8-30 "
                                 "digits), `iban` (ISO 13616, mod-97).")
    bank_code: str = Field(min_length=2, max_length=20, pattern=r"^[A-Za-z0-9]+$",
                           examples=["ICBC"],
                           description="The bank's code (CNAPS, SWIFT/BIC or clearing code).")
    account_number: str = Field(min_length=4, max_length=42, examples=["6200000000000005"],
                                description="Spaces and dashes are ignored; full-width "
                                            "digits are read as digits.")
    holder_name: str = Field(min_length=1, max_length=100, description=HOLDER,
                             examples=["王小明"])

    @field_validator("account_number")
    @classmethod
    def _number(cls, value: str, info: ValidationInfo) -> str:
        scheme = info.data.get("scheme")
        if scheme is None:
            return value  # the scheme's own error says why
        number = rules.normalize_account(scheme, value)
        found = rules.account_problems(scheme, number)
        if found:
            raise PydanticCustomError(found[0].code, found[0].msg)
        return number

    @field_validator("holder_name")
    @classmethod
    def _holder(cls, value: str) -> str:
        return drawable.checked(value)  # NFC, no invisible or bidi characters

    def value(self) -> Beneficiary:
        return Beneficiary("bank_account", self.holder_name, bank_code=self.bank_code.upper(),
                           account_number=self.account_number, scheme=self.scheme)


class EwalletIn(Strict):
    kind: Literal["ewallet"]
    provider: Literal["alipay", "wechat_pay", "unionpay_quickpass"]
    wallet_id: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@+-]+$",
                           examples=["13812345678"],
                           description="The provider's account id (phone, e-mail or id).")
    holder_name: str = Field(min_length=1, max_length=100, description=HOLDER,
                             examples=["王小明"])

    @field_validator("holder_name")
    @classmethod
    def _holder(cls, value: str) -> str:
        return drawable.checked(value)

    def value(self) -> Beneficiary:
        return Beneficiary("ewallet", self.holder_name, wallet_provider=self.provider,
                           wallet_id=self.wallet_id)


def _untagged(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError as exc:
        kinds = ("bank_account", "ewallet")
        raise ValidationError.from_exception_data(exc.title, [InitErrorDetails(
            type=PydanticCustomError(e["type"], e["msg"].replace("{", "(").replace("}", ")")),
            loc=e["loc"][1:] if e["loc"] and e["loc"][0] in kinds else e["loc"],
            input=None) for e in exc.errors()]) from None


BeneficiaryIn = Annotated[BankAccountIn | EwalletIn, Field(discriminator="kind"),
                          WrapValidator(_untagged)]


class BeneficiaryOut(BaseModel):
    """Masked: the account number or wallet id shows its last four characters only."""

    kind: Literal["bank_account", "ewallet"]
    holder_name: str = Field(description="Masked.")
    scheme: str | None
    bank_code: str | None
    account_number: str | None = Field(description="Masked.")
    wallet_provider: str | None
    wallet_id: str | None = Field(description="Masked.")


class PendingBeneficiaryOut(BeneficiaryOut):
    requested_by: str = Field(description="The API key id that asked for the change.")
    requested_at: datetime


class BeneficiaryChange(Strict):
    beneficiary: BeneficiaryIn


class BeneficiaryReview(Strict):
    decision: Literal["approve", "decline"]
    comment: str = Field(min_length=1, max_length=2000, description="Why; kept in the audit.")
