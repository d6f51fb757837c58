"""What manual ledger commands may not touch: the books the domain commands own.

A loan's receivables equal its servicing state, a channel's cash its fundings and payouts, the
clearing account the repayments in transit, borrower credit the overpayments not yet refunded:
each is kept true by exactly one domain command, which writes its journal in the same
transaction as its aggregate. A manual journal, post, void or reversal against them would
move the books without the aggregate (e.g. reverse a repayment's journal here, then charge it
back through the repayments API: the same money booked back twice). So for every role:

- a manual journal may not use a domain's journal id namespace (`rpy:`, `cob:`, ...), carry
  the domain marker (metadata `domain`), or post to an owned account (`loan:*`, `cash:*`,
  `channel-clearing`, `borrower-credit`);
- a pending journal is posted or voided, and a journal reversed, only if the STORED journal is
  not a domain's (its marker, else its id) and touches no owned account;
- owned accounts are not opened or closed by hand.

The refusal is a 403 `domain-owned` problem naming the command to use instead. Ownership rules
themselves live with the chart of accounts (ledger/chart.py).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from chalicelib.errors import DomainError, FieldError
from chalicelib.store.ledger import ledger
from ledger import chart
from ledger.errors import JournalNotFound
from ledger.model import JournalRequest, Posting

KIND = "domain-owned"
COMMANDS = {
    chart.LOAN: "a loan's books move only with its commands: POST /v1/loans/{loan_id}/repayments,"
                " POST /v1/repayments/{repayment_id}/reverse, POST /v1/loans/{loan_id}/refunds,"
                " POST /v1/loans/{loan_id}/write-off, close of business (POST /v1/cob/runs)"
                " and POST /v1/loans/{loan_id}/disbursements",
    chart.CHANNEL: "fund a channel with POST /v1/channels/{channel_id}/fundings; payouts move "
                   "its cash through POST /v1/loans/{loan_id}/disbursements; correct it after "
                   "a statement with POST /v1/reconciliation/exceptions/{exception_id}/resolve",
    chart.DISBURSEMENT: "a payout reservation is posted or voided only by its channel's answer"
                        " (POST /v1/channel-callbacks/{channel_id}, or the disbursement resume"
                        " job asking the channel) or, once escalated, by an operator with POST"
                        " /v1/disbursements/{disbursement_id}/attempts/{n}/resolve",
    chart.REPAYMENT: "record a repayment with POST /v1/loans/{loan_id}/repayments and reverse "
                     "(charge back) one with POST /v1/repayments/{repayment_id}/reverse",
    chart.REFUND: "refund a borrower's credit with POST /v1/loans/{loan_id}/refunds",
    chart.CLOSE_OF_BUSINESS: "accrual, fees and penalties are posted by close of business "
                             "(POST /v1/cob/runs); correct a payment with POST "
                             "/v1/repayments/{repayment_id}/reverse",
    chart.WRITE_OFF: "write a loan off with POST /v1/loans/{loan_id}/write-off",
}
# A reconciliation adjustment corrects what a channel's statement proves: its cash and the
# collections in transit, never a loan's receivables or a borrower's credit.
RECONCILIATION = frozenset({chart.CHANNEL, chart.REPAYMENT})


def refusal(owner: str, detail: str, errors: Sequence[FieldError] = (),
            **extra: str) -> DomainError:
    return DomainError(KIND, f"{detail} Use the domain command instead: {COMMANDS[owner]}.",
                       list(errors), {"owner": owner, "use": COMMANDS[owner], **extra})


def _posting_errors(postings: Sequence[Posting], base: str,
                    allowed: Collection[str]) -> list[tuple[str, FieldError]]:
    out = []
    for i, p in enumerate(postings):
        owner = chart.account_owner(p.account_id)
        if owner is not None and owner not in allowed:
            out.append((owner, FieldError(f"{base}/postings/{i}/account_id",
                                          f"{p.account_id} belongs to the {owner} commands",
                                          KIND)))
    return out


def _first(found: list[tuple[str, FieldError]], detail: str) -> None:
    if found:
        raise refusal(found[0][0], detail, [e for _, e in found])


def check_new_journal(request: JournalRequest, base: str = "/body",
                      allowed: Collection[str] = ()) -> None:
    """A manual journal: no domain id namespace, no domain marker, no owned account."""
    found = []
    owner = chart.journal_id_owner(request.journal_id)
    if owner is not None:
        found.append((owner, FieldError(f"{base}/journal_id", f"the {owner} commands' journal "
                                        "id namespace", KIND)))
    marked = request.metadata.get(chart.DOMAIN_KEY)
    if marked is not None:
        found.append((marked if marked in COMMANDS else chart.LOAN,
                      FieldError(f"{base}/metadata/{chart.DOMAIN_KEY}",
                                 "only a domain command marks its journals", KIND)))
    found += _posting_errors(request.postings, base, allowed)
    _first(found, "A manual journal may not write the domain's books.")


def check_resolving(journal_id: str, postings: Sequence[Posting] | None) -> None:
    """The id (and, for a partial post, the legs) of a journal that posts/voids/reverses."""
    found = []
    owner = chart.journal_id_owner(journal_id)
    if owner is not None:
        found.append((owner, FieldError("/body/journal_id", f"the {owner} commands' journal id "
                                        "namespace", KIND)))
    found += _posting_errors(postings or (), "/body", ())
    _first(found, "A manual journal may not write the domain's books.")


def check_stored(tenant: str, journal_id: str, action: str) -> None:
    """Refuses to post, void or reverse a stored journal a domain wrote (its marker, else its
    id) or that touches an owned account. A missing journal is left to the ledger's 404."""
    try:
        stored = ledger().get_journal(tenant, journal_id).journal
    except JournalNotFound:
        return
    owner = chart.journal_owner(stored.journal_id, stored.metadata)
    if owner is None:
        owner = next((o for p in stored.postings
                      if (o := chart.account_owner(p.account_id)) is not None), None)
    if owner is not None:
        raise refusal(owner if owner in COMMANDS else chart.LOAN,
                      f"Journal {journal_id} belongs to the {owner} commands: it cannot be "
                      f"{action} through the ledger API.", journal_id=journal_id)


def check_account(account_id: str, action: str, pointer: str | None = None) -> None:
    owner = chart.account_owner(account_id)
    if owner is not None:
        errors = [FieldError(pointer, f"{account_id} belongs to the {owner} commands", KIND)] \
            if pointer else []
        raise refusal(owner, f"Account {account_id} belongs to the {owner} commands: it cannot "
                      f"be {action} through the ledger API.", errors, account_id=account_id)
