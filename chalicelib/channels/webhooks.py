"""Standard Webhooks signatures (HMAC-SHA256 over `id.timestamp.body`), pure.

Headers: `webhook-id`, `webhook-timestamp` (Unix seconds), `webhook-signature` (space-separated
`v1,<base64>` entries, any of which may match, so secrets can rotate). Secrets are
`whsec_<base64>`. A timestamp more than five minutes from now is refused (replay window).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime

TOLERANCE_SECONDS = 300
PREFIX = "whsec_"


class SignatureError(Exception):
    pass


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(PREFIX))


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret, msg_id, timestamp, body)}


def verify(secret: str, received: Mapping[str, str], body: bytes, now: datetime) -> str:
    """Returns the message id when the signature and timestamp hold; raises SignatureError."""
    msg_id = received.get("webhook-id") or ""
    stamp = received.get("webhook-timestamp") or ""
    given = received.get("webhook-signature") or ""
    if not msg_id or len(msg_id) > 255 or not stamp or not given:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureError("webhook-timestamp is not an integer") from None
    if abs(now.timestamp() - timestamp) > TOLERANCE_SECONDS:
        raise SignatureError("webhook-timestamp outside the 5-minute tolerance")
    expected = sign(secret, msg_id, timestamp, body)
    if not any(hmac.compare_digest(expected, part) for part in given.split()
               if part.startswith("v1,")):
        raise SignatureError("no signature matches")
    return msg_id
