"""Request signatures of the bank payout protocol (docs/bank-protocol.md), pure.

HMAC-SHA256 with the channel's API secret over "METHOD\\nPATH\\nTIMESTAMP\\nhex(SHA-256(body))",
sent as `X-Signature: v1=<hex>` beside `X-Timestamp` and `X-Client-Id`. Shared by our adapter
(signs) and the fake bank (verifies), so both read the one definition.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

TOLERANCE_SECONDS = 300


class BankSignatureError(Exception):
    pass


def canonical(method: str, path: str, timestamp: int, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path}\n{timestamp}\n{digest}".encode()


def signature(secret: str, method: str, path: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), canonical(method, path, timestamp, body), hashlib.sha256)
    return "v1=" + mac.hexdigest()


def headers(client_id: str, secret: str, method: str, path: str, timestamp: int,
            body: bytes) -> dict[str, str]:
    return {"X-Client-Id": client_id, "X-Timestamp": str(timestamp),
            "X-Signature": signature(secret, method, path, timestamp, body)}


def verify(secret: str, received: Mapping[str, str], method: str, path: str, body: bytes,
           now: float) -> None:
    """Raises BankSignatureError unless the signature holds and the timestamp is fresh."""
    stamp, given = received.get("X-Timestamp") or "", received.get("X-Signature") or ""
    try:
        timestamp = int(stamp)
    except ValueError:
        raise BankSignatureError("X-Timestamp missing or not an integer") from None
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise BankSignatureError("X-Timestamp outside the 5-minute tolerance")
    if not hmac.compare_digest(signature(secret, method, path, timestamp, body), given):
        raise BankSignatureError("X-Signature does not match")
