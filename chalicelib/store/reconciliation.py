"""Where reconciliation runs, exceptions, processed-statement markers and daily verification
results live in the main table.

- run: pk `t#recon-run#<id>`, sk `run`; gsi1pk `t#recon-runs`, gsi1sk `<started>#<id>`.
- exception: pk `t#recon-exc#<id>`, sk `exception`; gsi1pk `t#recon-exceptions`,
  gsi1sk `<status>#<first seen>#<id>` (list by status with begins_with). The id is derived from
  what the exception is about (channel, kind, reference, line or journal), so a nightly run
  that meets the same discrepancy again finds it instead of raising it twice.
- statement marker: pk `t#recon-stmt`, sk `<s3 key>#<etag>`: that object was reconciled.
- verification: pk `t#verification#<day>`, sk `verification`; gsi1pk `t#verifications`,
  gsi1sk `<day>`; `complete` false while statements were deferred to the next invocation.
- nightly day marker: pk `_platform#nightly#<day>`, sk `started`: the nightly job began that
  day (its resume schedule continues only started days).
"""

from __future__ import annotations

from chalicelib.store.keys import PLATFORM, key

RUN_SK = "run"
EXCEPTION_SK = "exception"
VERIFICATION_SK = "verification"


def run_pk(tenant: str, run_id: str) -> str:
    return key(tenant, "recon-run", run_id)


def runs_index_pk(tenant: str) -> str:
    return key(tenant, "recon-runs")


def exception_pk(tenant: str, exception_id: str) -> str:
    return key(tenant, "recon-exc", exception_id)


def exceptions_index_pk(tenant: str) -> str:
    return key(tenant, "recon-exceptions")


def exception_sk(status: str, first_seen: str, exception_id: str) -> str:
    return f"{status}#{first_seen}#{exception_id}"


def statement_marker_pk(tenant: str) -> str:
    return key(tenant, "recon-stmt")


def verification_pk(tenant: str, day: str) -> str:
    return key(tenant, "verification", day)


def verifications_index_pk(tenant: str) -> str:
    return key(tenant, "verifications")


def nightly_marker_pk(day: str) -> str:
    return key(PLATFORM, "nightly", day)
