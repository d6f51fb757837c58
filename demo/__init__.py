"""`make demo`: one tenant's loan book run through the whole lifecycle over HTTP.

Starts the embedded local stack (`python -m infra.local_stack`, what `make run` runs), seeds a
tenant (scoring model, decision policy, weekly and monthly products, two sandbox channels),
then drives LOANS synthetic borrowers through apply → review → accept → sign → disburse →
repay, closes a few business days, reconciles the channels' statements, verifies the ledger
and the audit trail, and prints a summary. Everything goes through the public API: the demo is
a partner, a reviewer, an operator and a (sandbox) bank, never a backdoor.
"""
