"""Partner webhooks, the pure part: event catalogue, Standard Webhooks signing, retry schedule,
and the URL rules that keep deliveries off private networks.

Standard Webhooks (standardwebhooks.com): the secret is `whsec_<base64 key>`; each request
carries `webhook-id` (stable across retries, so receivers dedupe), `webhook-timestamp` (Unix
seconds of this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import random
import secrets
from collections.abc import Mapping
from urllib.parse import urlsplit

from chalicelib.lending import events

EVENT_TYPES = events.EVENT_TYPES  # the one list: lending/events.py
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
SIGNATURE_VERSION = "v1"

# Retry schedule: exponential from BASE, capped, with equal jitter (half fixed, half random) so
# a receiver that comes back is not hit by every queued delivery in the same second.
MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 30
BACKOFF_CAP_S = 6 * 3600

# Keys whose presence in an event payload means someone is about to leak personal data.
PII_KEYS = frozenset({
    "name", "full_name", "first_name", "last_name", "phone", "phone_number", "mobile", "email",
    "id_number", "national_id", "address", "birth_date", "date_of_birth", "applicant",
    "bank_account", "account_number", "card_number",
})


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    return base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }


def backoff_seconds(attempt: int, rng: random.Random | None = None) -> int:
    """Delay before attempt `attempt + 1`, after `attempt` failures (1-based): in
    [d/2, d] where d = min(cap, base * 2^(attempt-1))."""
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** min(attempt - 1, 30))
    half = ceiling // 2
    return half + (rng or random).randint(0, ceiling - half)


def pii_keys(value: object, path: str = "") -> list[str]:
    """Paths of keys in a payload that name personal data (the outbox refuses them)."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            here = f"{path}/{k}"
            if str(k).lower() in PII_KEYS:
                found.append(here)
            found += pii_keys(v, here)
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found += pii_keys(v, f"{path}/{i}")
    return found


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why a webhook URL is refused, or None. Private, loopback, link-local and other
    non-global literal addresses are refused unless `allow_private` (local and test stages);
    host names are resolved and checked again at delivery time (see address_allowed)."""
    if len(url) > 2048:
        return "the URL is longer than 2048 characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"the URL is not valid: {exc}"
    if parts.scheme not in ("https", "http"):
        return "the URL must be https (http is accepted only on local and test stages)"
    if parts.scheme == "http" and not allow_private:
        return "the URL must be https"
    if not parts.hostname:
        return "the URL has no host"
    if parts.username or parts.password:
        return "the URL must not carry credentials"
    if parts.fragment:
        return "the URL must not have a fragment"
    if port == 0:
        return "the URL's port is not valid"
    if allow_private:
        return None
    host = parts.hostname.lower().rstrip(".")
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return "the URL points to a private network"
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return None
    return None if address_allowed(str(literal)) else "the URL points to a private network"


def address_allowed(address: str) -> bool:
    """Only globally routable unicast addresses (no loopback, private, link-local - including
    the 169.254.169.254 metadata service - CGNAT, multicast, reserved or IPv4-mapped tricks)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast
