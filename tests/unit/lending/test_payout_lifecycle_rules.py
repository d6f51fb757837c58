"""Pure rules of issue 17: who must act on an in-flight disbursement, and when an accepted
loan expires (business days from acceptance; never while disbursing)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chalicelib.lending.acceptance_expiry import expires_on, is_expired
from chalicelib.lending.payout_actions import action_required, proposal_state

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _attempt(status: str, **extra: object) -> dict[str, object]:
    return {"n": 1, "status": status, "started_at": T0.isoformat(), **extra}


@pytest.mark.parametrize(("attempts", "by"), [
    ([], "system"),
    ([_attempt("failed")], "system"),
    ([_attempt("reserved")], "system"),
    ([_attempt("submitted")], "channel"),
    ([_attempt("unknown")], "operator"),
    ([_attempt("escalated", escalated_at=T0.isoformat())], "operator"),
    ([_attempt("unknown", proposal={"state": "pending", "outcome": "failed", "by": "k1",
                                    "at": T0.isoformat()})], "second_operator"),
    ([_attempt("escalated", proposal={"state": "rejected", "outcome": "failed", "by": "k1",
                                      "at": T0.isoformat()})], "operator"),
])
def test_every_in_flight_state_names_exactly_one_actor(attempts, by):
    action = action_required("processing", attempts, T0)
    assert action is not None and action.by == by and action.reason


@pytest.mark.parametrize("status", ["settled", "failed"])
def test_a_finished_disbursement_waits_for_nobody(status):
    assert action_required(status, [_attempt("settled")], T0) is None


def test_a_pending_proposal_lapses_once_the_channel_decided():
    proposal = {"state": "pending", "outcome": "failed", "by": "k1", "at": T0.isoformat()}
    assert proposal_state(_attempt("unknown", proposal=proposal)) == "pending"
    assert proposal_state(_attempt("settled", proposal=proposal)) == "lapsed"
    assert proposal_state(_attempt("unknown")) is None


def test_expiry_is_counted_in_business_days_from_acceptance():
    accepted = date(2026, 1, 31)
    assert expires_on(accepted, 30) == date(2026, 3, 2)
    assert not is_expired("pending_contract", accepted, 30, date(2026, 3, 1))  # day 29
    assert is_expired("pending_contract", accepted, 30, date(2026, 3, 2))  # day 30
    assert is_expired("pending_disbursement", accepted, 30, date(2026, 6, 1))


@pytest.mark.parametrize("status", ["disbursing", "active", "cancelled", "closed"])
def test_only_loans_waiting_for_signature_or_payout_expire(status):
    assert not is_expired(status, date(2026, 1, 1), 30, date(2027, 1, 1))
