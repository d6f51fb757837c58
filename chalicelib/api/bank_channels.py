"""The `bank_http` channel's settings in the channel API: what an admin gives (the API secret is
write-only) and what is shown back (never the secret, only whether one is set)."""

from __future__ import annotations

from typing import Any

from cryptography import x509
from pydantic import BaseModel, Field, field_validator

from chalicelib.api.schemas import Strict


class BankHttpSettings(Strict):
    """How to reach a bank speaking docs/bank-protocol.md."""

    base_url: str = Field(pattern=r"^https://[^\s/?#]+(/[^\s?#]*)?$", max_length=500,
                          description="The bank's HTTPS base URL (https only).")
    client_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    api_secret: str | None = Field(default=None, min_length=16, max_length=500,
                                   description="Signs our requests. Write-only: stored "
                                   "encrypted, never shown; omit on a change to keep it.")
    connect_timeout_ms: int = Field(default=2000, ge=50, le=30_000)
    read_timeout_ms: int = Field(default=10_000, ge=50, le=120_000)
    ca_cert_pem: str | None = Field(default=None, max_length=20_000,
                                    description="A private CA (PEM) to trust for this bank.")
    callback_url: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=500,
                                     description="Where the bank posts its callbacks (our "
                                     "/v1/channel-callbacks/{channel_id}; `{channel_id}` "
                                     "is filled in).")
    max_retries: int = Field(default=1, ge=0, le=3,
                             description="Resends on a 5xx or reset, same Idempotency-Key.")

    @field_validator("ca_cert_pem")
    @classmethod
    def _pem(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                x509.load_pem_x509_certificates(value.encode())
            except ValueError:
                raise ValueError("not a PEM certificate") from None
        return value


class BankHttpOut(BaseModel):
    base_url: str
    client_id: str
    api_secret_set: bool
    connect_timeout_ms: int
    read_timeout_ms: int
    ca_cert_set: bool
    callback_url: str | None
    max_retries: int


def config_of(s: BankHttpSettings) -> dict[str, Any]:
    """The stored config before sealing (services/channels seals `api_secret`)."""
    return s.model_dump()


def shown(config: dict[str, Any]) -> BankHttpOut:
    return BankHttpOut(
        base_url=config["base_url"], client_id=config["client_id"],
        api_secret_set=bool(config.get("api_secret_sealed")),
        connect_timeout_ms=config.get("connect_timeout_ms", 2000),
        read_timeout_ms=config.get("read_timeout_ms", 10_000),
        ca_cert_set=bool(config.get("ca_cert_pem")), callback_url=config.get("callback_url"),
        max_retries=config.get("max_retries", 1))
