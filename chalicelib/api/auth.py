"""The built-in Chalice authorizer: API key → tenant, role and key id.

It runs the same under API Gateway, `chalice local` and the test client. It never denies by
itself: it passes the verified identity (or why there is none) to the route, which answers with
an RFC 9457 problem rather than the gateway's bare 401/403. API Gateway does not cache results
(ttl 0); `credentials.identify` remembers verified keys in-process for at most
`credentials.CACHE_TTL_SECONDS` (30 s): a revoked key stops working at once in the process that
revoked it, and within 30 s everywhere else.
"""

from __future__ import annotations

import logging

from chalice import AuthResponse, Blueprint

from chalicelib.services import credentials

log = logging.getLogger("lending.auth")

auth_bp = Blueprint(__name__)


class UsageAuthResponse(AuthResponse):
    """Chalice's AuthResponse plus API Gateway's usageIdentifierKey (the tenant's usage plan
    key), which Chalice does not model; chalice local ignores the extra member."""

    def __init__(self, *args: object, usage_key: str | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.usage_key = usage_key

    def to_dict(self, request: object) -> dict[str, object]:
        out = super().to_dict(request)  # type: ignore[arg-type]
        if self.usage_key:
            out["usageIdentifierKey"] = self.usage_key
        return out


@auth_bp.authorizer(ttl_seconds=0)
def api_key_authorizer(auth_request: object) -> AuthResponse:
    token = getattr(auth_request, "token", "") or ""
    try:
        identity = credentials.identify(token)
    except Exception:  # the key store is unreachable: say so rather than "invalid key"
        log.exception("authorizer could not check a key")
        return AuthResponse(routes=["*"], principal_id="anonymous",
                            context={"error": "unavailable"})
    if identity is None:
        return AuthResponse(routes=["*"], principal_id="anonymous", context={"error": "invalid"})
    return UsageAuthResponse(
        routes=["*"],
        principal_id=f"{identity.tenant}/{identity.key_id}",
        context={"tenant": identity.tenant, "role": identity.role, "key_id": identity.key_id},
        usage_key=identity.usage_key,
    )
