"""One-time signing codes and the signature record: pure functions, no I/O.

Only a keyed hash of a code is stored (HMAC with the server secret, bound to the contract), so a
leaked table reveals no usable code; codes expire and allow a few attempts. The signature record
binds the signer's identity, the time, IP and user agent to the document's SHA-256, and is itself
hashed so any later edit is evident.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
MAX_CODES = 5  # codes issued per contract before it must be looked at by a person


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(secret: bytes, contract_id: str, code: str) -> str:
    return hmac.new(secret, f"signing-code:{contract_id}:{code}".encode(), "sha256").hexdigest()


@dataclass(frozen=True)
class CodeState:
    hash: str | None
    expires_at: datetime | None
    attempts: int


def precheck(state: CodeState, now: datetime) -> str | None:
    """Why no code can be accepted now (none issued, expired, attempts spent), or None."""
    if state.hash is None or state.expires_at is None:
        return "no_code"
    if now > state.expires_at:
        return "code_expired"
    if state.attempts >= MAX_ATTEMPTS:
        return "too_many_attempts"
    return None


def check_code(state: CodeState, secret: bytes, contract_id: str, code: str,
               now: datetime) -> str | None:
    """None when the code is right; otherwise why not (no code, expired, spent, wrong)."""
    problem = precheck(state, now)
    if problem:
        return problem
    if not hmac.compare_digest(state.hash, code_hash(secret, contract_id, code)):
        return "code_wrong"
    return None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def signature_record(*, contract_id: str, loan_id: str, document_sha256: str,
                     template_id: str, template_version: int, signer: dict[str, str],
                     signed_at: datetime, ip: str, user_agent: str,
                     key_id: str) -> dict[str, Any]:
    record = {
        "contract_id": contract_id, "loan_id": loan_id, "document_sha256": document_sha256,
        "template": {"id": template_id, "version": template_version},
        "signer": signer, "signed_at": signed_at.isoformat(), "ip": ip,
        "user_agent": user_agent, "method": "one-time-code", "api_key_id": key_id,
    }
    record["record_sha256"] = record_hash(record)
    return record


def record_hash(record: dict[str, Any]) -> str:
    body = {k: v for k, v in record.items() if k != "record_sha256"}
    return sha256_hex(json.dumps(body, sort_keys=True, separators=(",", ":"),
                                 ensure_ascii=False).encode())


def expiry(now: datetime) -> datetime:
    return now + CODE_TTL
