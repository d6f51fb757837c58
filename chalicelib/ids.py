"""The one shape of every id a request may carry: ASCII, bounded, so bytes = characters.

An id enters DynamoDB keys (`<tenant>#<kind>#<id>#...`); real DynamoDB refuses a partition
key over 2,048 bytes or a sort key over 1,024 with a ValidationException, which would be a 500.
With every id at most ID_MAX ASCII characters and every key made of a tenant id, a few fixed
words and at most a few ids, no key can come near those limits (a few hundred bytes at most).
Every id the system mints (`<prefix>_<16 hex>`, 16-hex key ids) and every id tenants choose
(ledger accounts and journals, references, channels) fits the pattern.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

ID_MAX = 128
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
TENANT_MAX = 40
TENANT_PATTERN = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"
# What the system mints: `<prefix>_<16 hex>` (prod_, app_, loan_, pol_, ...).
MINTED_MAX = 25
MINTED_PATTERN = r"^[a-z]{1,8}_[0-9a-f]{16}$"
VERSION_MAX = 32
VERSION_PATTERN = r"^[0-9A-Za-z.+-]+$"

EntityId = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=ID_MAX,
                                            pattern=ID_PATTERN)]
MintedId = Annotated[str, StringConstraints(strict=True, max_length=MINTED_MAX,
                                            pattern=MINTED_PATTERN)]
TenantId = Annotated[str, StringConstraints(strict=True, min_length=3, max_length=TENANT_MAX,
                                            pattern=TENANT_PATTERN)]
VersionId = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=VERSION_MAX,
                                             pattern=VERSION_PATTERN)]
# Names a kind of aggregate in the audit trail ("loan", "contract_template", ...).
KindName = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=40,
                                            pattern=r"^[a-z][a-z0-9_]*$")]
# An opaque pagination cursor (base64url payload '.' signature, see api/pagination); its
# structure and signature are checked by pagination.decode (400), its alphabet here (422).
Cursor = Annotated[str, StringConstraints(max_length=2048, pattern=r"^[A-Za-z0-9_.-]+$"),
                   Field(description="Opaque cursor from a previous page's next_cursor.")]
