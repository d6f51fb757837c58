"""One borrower's way through the lifecycle over HTTP, as the partner, the reviewers and the
sandbox bank would drive it: apply → (review) → accept → sign → disburse → (callback) → repay."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from standardwebhooks import Webhook

from demo.borrowers import Borrower
from demo.client import Api, DemoError
from demo.money import minor, money
from demo.seed import Channel, Tenant

#: The contract renderer's wall-clock budget (2 s) can run out on a loaded machine; the API
#: answers 422 render_timeout and changes nothing, so acceptance is tried again (counted).
RENDER_TIMEOUT = "takes too long to render"
RENDER_ATTEMPTS = 4


@dataclass
class Movement:
    """Money the sandbox bank moved for the tenant, as its statement will list it."""

    channel_id: str
    reference: str
    kind: str  # payout | collection
    amount: int
    value_date: date


@dataclass
class Outcome:
    borrower: Borrower
    app_id: str = ""
    decision: str = ""  # the automated outcome: approve | refer | decline
    final: str = ""  # approved | declined (after any review)
    reviews: int = 0
    loan_id: str | None = None
    signed: bool = False
    disbursed: int = 0  # paid out to the borrower, minor units
    financed: int = 0
    failed_attempts: int = 0  # payouts a channel refused before another one paid
    callbacks: int = 0
    duplicate_callbacks: int = 0
    movements: list[Movement] = field(default_factory=list)
    repaid: int = 0
    refunded: int = 0
    render_retries: int = 0
    error: str | None = None


def run_one(api: Api, t: Tenant, b: Borrower) -> Outcome:
    out = Outcome(b)
    try:
        _originate(api, t, b, out)
        if out.final == "approved":
            _accept_and_sign(api, t, b, out)
            _disburse(api, t, out)
            _repay(api, t, b, out)
    except DemoError as exc:
        out.error = str(exc)
    except Exception as exc:  # one loan's surprise (a timeout, an odd answer) is reported,
        out.error = f"{type(exc).__name__}: {exc}"  # not allowed to stop the other loans
    return out


def _originate(api: Api, t: Tenant, b: Borrower, out: Outcome) -> None:
    app = api.ok("POST", "/v1/applications", t.keys["partner"],
                 {"product_id": t.products[b.product], **b.body})
    out.decision = app["decision"]["outcome"]
    for reviewer in ("reviewer", "reviewer2"):  # four eyes: a second, different reviewer
        if app["status"] != "referred":
            break
        app = api.ok("POST", f"/v1/applications/{app['id']}/review", t.keys[reviewer],
                     {"decision": b.review, "comment": f"demo: {b.review}"})
        out.reviews += 1
    out.final, out.app_id = app["status"], app["id"]


def _accept_and_sign(api: Api, t: Tenant, b: Borrower, out: Outcome) -> None:
    partner = t.keys["partner"]
    for attempt in range(1, RENDER_ATTEMPTS + 1):
        r = api.call("POST", f"/v1/applications/{out.app_id}/accept", partner)
        if r.status_code != 422 or RENDER_TIMEOUT not in r.text or attempt == RENDER_ATTEMPTS:
            break
        out.render_retries += 1  # shown in the summary: a timeout is not a bad request
        time.sleep(attempt)
    if r.status_code != 201:
        raise DemoError(f"POST /v1/applications/{out.app_id}/accept → {r.status_code}: "
                        f"{r.text[:500]}")
    out.loan_id = r.json()["loan"]["id"]
    contract_id = api.ok("GET", f"/v1/loans/{out.loan_id}", partner)["contract_id"]
    code = api.ok("POST", f"/v1/contracts/{contract_id}/signing-code", partner)["code"]
    person = b.body["applicant"]
    api.ok("POST", f"/v1/contracts/{contract_id}/sign", partner, {
        "code": code, "signer": {"name": person["name"], "national_id": b.national_id}})
    out.signed = True


def _disburse(api: Api, t: Tenant, out: Outcome) -> None:
    partner = t.keys["partner"]
    d = api.ok("POST", f"/v1/loans/{out.loan_id}/disbursements", partner)
    by_id = {c.id: c for c in t.channels}
    called: set[str] = set()
    deadline = time.monotonic() + 60
    while d["status"] == "processing":
        for a in d["attempts"]:
            ch = by_id[a["channel_id"]]
            pending = a["status"] == "submitted" and a["payout_id"] not in called
            if pending and ch.settle == "callback":
                called.add(a["payout_id"])
                _settle_by_callback(api, ch, a["payout_id"], out)
        if time.monotonic() > deadline:
            raise DemoError(f"disbursement {d['id']} still processing after 60 s")
        time.sleep(0.05)
        d = api.ok("GET", f"/v1/disbursements/{d['id']}", partner)
    if d["status"] != "settled":
        raise DemoError(f"disbursement {d['id']} {d['status']}: {d.get('failure')}")
    out.disbursed, out.financed = minor(d["payout"]), minor(d["financed"])
    out.failed_attempts = sum(a["status"] == "failed" for a in d["attempts"])
    day = t.local_date(datetime.fromisoformat(d["settled_at"]))
    out.movements += [Movement(a["channel_id"], a["payout_id"], "payout", out.disbursed, day)
                      for a in d["attempts"] if a["status"] == "settled"]


def _settle_by_callback(api: Api, ch: Channel, payout_id: str, out: Outcome) -> None:
    """The sandbox bank confirms the payout with a Standard Webhooks signature; one in ten is
    delivered twice (at-least-once delivery), which must change nothing."""
    payload = json.dumps({"type": "payout.settled", "payout_id": payout_id,
                          "provider_ref": f"sbx-{payout_id}"})
    msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(ch.secret).sign(msg_id, now, payload),
               "Content-Type": "application/json"}
    for repeat in range(2 if out.borrower.n % 10 == 0 else 1):
        r = api.ok("POST", f"/v1/channel-callbacks/{ch.id}", None, data=payload.encode(),
                   headers=headers, idempotent=False)
        out.callbacks += 1
        if repeat and r["outcome"] != "duplicate":
            raise DemoError(f"a repeated callback was {r['outcome']}, not a duplicate")
        out.duplicate_callbacks += repeat


def _repay(api: Api, t: Tenant, b: Borrower, out: Outcome) -> None:
    """Payments are dated now (the tenant's clock is real until close of business moves it):
    the API accepts no payment dated in the future, and the business days after today are
    closed afterwards (books.close_business_day moves the sandbox clock past each)."""
    partner, loan = t.keys["partner"], out.loan_id
    if b.behaviour == "missed":
        return
    if b.behaviour == "payoff":
        amount = minor(api.ok("GET", f"/v1/loans/{loan}/payoff-quote", partner)["total"])
    elif b.behaviour == "prepay":
        amount = int(out.financed * b.share)
    else:  # partial: part of the first installment
        first = api.ok("GET", f"/v1/loans/{loan}", partner)["schedule"]["installments"][0]
        amount = int(minor(first["total"]) * b.share)
    paid_at, reference, channel = datetime.now(UTC), f"demo-{loan}-1", t.channels[0].id
    api.ok("POST", f"/v1/loans/{loan}/repayments", partner, {
        "amount": money(amount), "paid_at": paid_at.isoformat(), "channel": channel,
        "external_reference": reference})
    out.repaid += amount
    out.movements.append(Movement(channel, reference, "collection", amount,
                                  t.local_date(paid_at)))
    if b.behaviour == "payoff":
        # The quote (for the first open day) includes a day's interest that paying today did
        # not use: it sits on the borrower's credit balance and is refunded.
        credit = minor(api.ok("GET", f"/v1/loans/{loan}/servicing", partner)["credit"])
        if credit:
            api.ok("POST", f"/v1/loans/{loan}/refunds", t.keys["operator"], {
                "amount": money(credit), "channel": t.channels[0].id,
                "external_reference": f"demo-refund-{loan}"})
            out.refunded = credit


def loan_state(api: Api, t: Tenant, loan_id: str) -> dict[str, Any]:
    return api.ok("GET", f"/v1/loans/{loan_id}/servicing", t.keys["operator"])
