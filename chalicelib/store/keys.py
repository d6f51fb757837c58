"""DynamoDB key construction: every key starts with the tenant id and '#'.

'#' cannot occur in a tenant id, so tenant 'acme' can never read 'acme-corp' by prefix.
"""

from __future__ import annotations

import re

from chalicelib.ids import TENANT_PATTERN

SEP = "#"
TENANT_ID = re.compile(TENANT_PATTERN)
PLATFORM = "_platform"  # owner of platform-level items; not a valid tenant id (leading '_')


def is_valid_tenant_id(value: str) -> bool:
    return bool(TENANT_ID.fullmatch(value)) and "--" not in value


def key(tenant: str, *parts: str) -> str:
    if tenant != PLATFORM and not is_valid_tenant_id(tenant):
        raise ValueError(f"invalid tenant id in key: {tenant!r}")
    return SEP.join((tenant, *parts))
