"""Personal data at rest: envelope encryption with KMS, and the blind index for look-ups.

Envelope: each record is sealed with AES-256-GCM under a data key from KMS GenerateDataKey
(key: the `personal-data` alias; encryption context {tenant, purpose}), and stores the
KMS-wrapped data key beside the ciphertext. The GCM associated data binds the ciphertext to its
tenant, record type and id, so a ciphertext copied onto another item does not decrypt.

Data-key cache: one data key per tenant and process is reused for at most 5 minutes and 10,000
records (random 96-bit nonces stay far below GCM's 2^32-messages bound), so a burst of
applications costs one KMS call. Unwrapped keys for decryption are cached the same 5 minutes,
by the SHA-256 of the wrapped key. The plaintext keys live only in this process's memory.

Blind index: HMAC-SHA256 over (tenant, ID type, normalized number) with a server secret derived
from the API key pepper; it finds a borrower's other applications without the ID ever being a
key, and is unrelated across tenants. Rotating the secret means re-indexing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3

from chalicelib.config import settings

DATA_KEY_TTL = 300.0  # seconds
DATA_KEY_USES = 10_000
PURPOSE = "personal-data"
_lock = threading.Lock()


@dataclass
class _DataKey:
    plaintext: bytes
    wrapped: bytes
    key_id: str
    born: float
    uses: int = 0


_encrypting: dict[str, _DataKey] = {}
_unwrapped: dict[bytes, tuple[bytes, float]] = {}
stats = {"generate": 0, "decrypt": 0}  # KMS calls made, for tests and the bench


@cache
def kms() -> Any:
    return boto3.client("kms", region_name=settings().region)


def reset() -> None:
    """Forgets cached keys and clients (tests switch AWS accounts between cases)."""
    with _lock:
        _encrypting.clear()
        _unwrapped.clear()
    kms.cache_clear()
    stats.update(generate=0, decrypt=0)


def _context(tenant: str) -> dict[str, str]:
    return {"tenant": tenant, "purpose": PURPOSE}


def _data_key(tenant: str) -> _DataKey:
    now = time.monotonic()
    with _lock:
        current = _encrypting.get(tenant)
        if current and now - current.born < DATA_KEY_TTL and current.uses < DATA_KEY_USES:
            current.uses += 1
            return current
    answer = kms().generate_data_key(KeyId=settings().kms_alias, KeySpec="AES_256",
                                     EncryptionContext=_context(tenant))
    fresh = _DataKey(answer["Plaintext"], answer["CiphertextBlob"], answer["KeyId"], now, 1)
    with _lock:
        stats["generate"] += 1
        _encrypting[tenant] = fresh
        _unwrapped[hashlib.sha256(fresh.wrapped).digest()] = (fresh.plaintext, now)
    return fresh


def _unwrap(tenant: str, wrapped: bytes) -> bytes:
    digest = hashlib.sha256(wrapped).digest()
    now = time.monotonic()
    with _lock:
        hit = _unwrapped.get(digest)
        if hit and now - hit[1] < DATA_KEY_TTL:
            return hit[0]
    plaintext = kms().decrypt(CiphertextBlob=wrapped, EncryptionContext=_context(tenant),
                              KeyId=settings().kms_alias)["Plaintext"]
    with _lock:
        stats["decrypt"] += 1
        _unwrapped[digest] = (plaintext, now)
    return plaintext


def _aad(tenant: str, record_type: str, record_id: str) -> bytes:
    return f"{tenant}|{record_type}|{record_id}".encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def seal(tenant: str, record_type: str, record_id: str, data: dict[str, Any]) -> str:
    """The JSON envelope to store in place of `data`."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = _data_key(tenant)
    nonce = os.urandom(12)
    plaintext = json.dumps(data, sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False).encode()
    ciphertext = AESGCM(key.plaintext).encrypt(nonce, plaintext,
                                                _aad(tenant, record_type, record_id))
    return json.dumps({"v": 1, "alg": "AES-256-GCM", "kms_key": key.key_id,
                       "edk": _b64(key.wrapped), "iv": _b64(nonce), "ct": _b64(ciphertext)},
                      separators=(",", ":"))


def unseal(tenant: str, record_type: str, record_id: str, envelope: str) -> dict[str, Any]:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    sealed = json.loads(envelope)
    key = _unwrap(tenant, base64.b64decode(sealed["edk"]))
    plaintext = AESGCM(key).decrypt(base64.b64decode(sealed["iv"]),
                                    base64.b64decode(sealed["ct"]),
                                    _aad(tenant, record_type, record_id))
    result: dict[str, Any] = json.loads(plaintext)
    return result


def _index_secret() -> bytes:
    return hmac.new(settings().api_key_pepper, b"lending/blind-index/national-id/v1",
                    hashlib.sha256).digest()


def blind_index(tenant: str, id_type: str, normalized_number: str) -> str:
    message = f"{tenant}|{id_type}|{normalized_number}".encode()
    return hmac.new(_index_secret(), message, hashlib.sha256).hexdigest()
