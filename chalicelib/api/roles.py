"""Who may call what: every route names one of these sets, so the role table is reviewed here.

Separation of duties (least privilege): admins configure the tenant (products, policies, models,
templates, channels, routing, webhooks, settings) and read everything, but never move money or
change a loan's servicing state; operators run the money and the books (fundings, repayments
corrections, refunds, write-offs, close of business and its exceptions, reconciliation, manual
journals, webhook replays); partners originate and collect through their own integration;
reviewers decide referred applications. The platform key only administers tenants. The table is
written out again in tests/security/matrix.py and in docs/security.md; a change here fails the suite
until both agree.
"""

from __future__ import annotations

ADMIN, PARTNER, REVIEWER, OPERATOR = "admin", "partner", "reviewer", "operator"
PLATFORM_ROLE = "platform"
TENANT_ROLES = frozenset({ADMIN, PARTNER, REVIEWER, OPERATOR})

EVERYONE = TENANT_ROLES
CONFIGURERS = frozenset({ADMIN})
OPERATORS = frozenset({OPERATOR})  # money movement, servicing corrections, running the day
BOOKKEEPERS = frozenset({ADMIN, OPERATOR})  # read the books: ledger, audit, reconciliation
COLLECTORS = frozenset({PARTNER, OPERATOR})  # start payouts, record repayments
ORIGINATORS = frozenset({ADMIN, PARTNER})  # quotes and applications
REVIEWERS = frozenset({ADMIN, REVIEWER})
SCORERS = frozenset({ADMIN, PARTNER, REVIEWER})
ANALYSTS = frozenset({ADMIN, OPERATOR, REVIEWER})  # portfolio and origination reports
DOCUMENT_READERS = frozenset({ADMIN, PARTNER, OPERATOR})  # the contract PDF (personal data)
SIGNERS = frozenset({PARTNER})  # the borrower signs through the partner's integration
PLATFORM = frozenset({PLATFORM_ROLE})
TENANT_READERS = PLATFORM | TENANT_ROLES  # a tenant reads its own record only
TIME_ZONE_SETTERS = frozenset({PLATFORM_ROLE, ADMIN})
