"""What the fake bank checks of the beneficiary a payout names, and how its statement names
the creditor (pure).

A real bank refuses to pay an account it cannot route to: the number must pass its scheme's
check (Luhn for a UnionPay card, mod-97 for an IBAN), with the same rules our side applies
(chalicelib/lending/beneficiary.py), so the fake bank catches an instruction our side built
wrong instead of paying it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.lending.beneficiary import SCHEMES, account_problems


@dataclass(frozen=True)
class Problem:
    field: str  # JSON path inside the request body, e.g. beneficiary.account_number
    code: str


@dataclass(frozen=True)
class Creditor:
    """The camt.053 creditor: `Cdtr/Pty/Nm` and `CdtrAcct/Id` (`IBAN`, or `Othr/Id` with its
    scheme in `Othr/SchmeNm/Prtry`)."""

    name: str
    iban: str | None = None
    other_id: str | None = None
    other_scheme: str | None = None


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def problems(beneficiary: Any) -> list[Problem]:
    """Why the bank will not pay to `beneficiary` (the request body's object); [] if it will."""
    if not isinstance(beneficiary, dict):
        return [Problem("beneficiary", "missing")]
    out = []
    if not _text(beneficiary, "holder_name"):
        out.append(Problem("beneficiary.holder_name", "missing"))
    kind = beneficiary.get("kind")
    if kind == "ewallet":
        out += [Problem(f"beneficiary.{f}", "missing")
                for f in ("wallet_provider", "wallet_id") if not _text(beneficiary, f)]
        return out
    if kind != "bank_account":
        return [*out, Problem("beneficiary.kind", "unknown")]
    scheme, number = _text(beneficiary, "scheme"), _text(beneficiary, "account_number")
    if scheme not in SCHEMES:
        out.append(Problem("beneficiary.scheme", "unknown"))
    elif not number:
        out.append(Problem("beneficiary.account_number", "missing"))
    else:
        out += [Problem("beneficiary.account_number", p.code)
                for p in account_problems(scheme, number)]
    if scheme != "iban" and not _text(beneficiary, "bank_code"):
        out.append(Problem("beneficiary.bank_code", "missing"))
    return out


def account_key(beneficiary: dict[str, Any]) -> str:
    """The account as the bank files it (a closed-accounts list is keyed by this)."""
    return _text(beneficiary, "account_number") or _text(beneficiary, "wallet_id")


def creditor(beneficiary: dict[str, Any] | None) -> Creditor | None:
    if not beneficiary:
        return None
    name = _text(beneficiary, "holder_name")
    if beneficiary.get("kind") == "ewallet":
        return Creditor(name, other_id=_text(beneficiary, "wallet_id"),
                        other_scheme=_text(beneficiary, "wallet_provider"))
    if beneficiary.get("scheme") == "iban":
        return Creditor(name, iban=_text(beneficiary, "account_number"))
    return Creditor(name, other_id=_text(beneficiary, "account_number"),
                    other_scheme=_text(beneficiary, "scheme") or None)
