"""Who must act on an in-flight disbursement, derived from its stored state alone (pure).

Every `processing` disbursement (its loan `disbursing`) has exactly one open item naming one
actor, so no loan waits without someone being responsible:
- `system`: the driver or the resume job moves it on (routing the next channel, submitting a
  reservation a crash left unsent);
- `channel`: the payout was accepted; the channel's callback (or the resume job's status
  query) decides it;
- `operator`: the channel cannot say (`unknown`) or never answered (`escalated`): an operator
  settles it with the bank's reference or fails it (the resume job keeps asking meanwhile);
- `second_operator`: an operator proposed a resolution above the tenant's four-eyes threshold;
  a different operator must confirm or reject it.
A settled or failed disbursement has none. Derived, never stored separately, so it cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Actor = Literal["channel", "operator", "second_operator", "system"]
ACTORS: tuple[Actor, ...] = ("channel", "operator", "second_operator", "system")
OPERATOR_RESOLVABLE = ("unknown", "escalated")  # sent, and no channel answer decides it


@dataclass(frozen=True)
class ActionRequired:
    by: Actor
    reason: str
    since: datetime


def pending_proposal(attempt: dict[str, Any]) -> dict[str, Any] | None:
    """The attempt's proposal awaiting a second operator (None: none, or it was decided)."""
    proposal = attempt.get("proposal")
    if proposal and proposal.get("state") == "pending":
        return proposal
    return None


def proposal_state(attempt: dict[str, Any]) -> str | None:
    """pending | confirmed | rejected | lapsed (the channel decided first), None: none."""
    proposal = attempt.get("proposal")
    if not proposal:
        return None
    if proposal["state"] == "pending" and attempt["status"] not in OPERATOR_RESOLVABLE:
        return "lapsed"
    return str(proposal["state"])


def action_required(status: str, attempts: list[dict[str, Any]],
                    updated_at: datetime) -> ActionRequired | None:
    """The one open item of a disbursement in `status` with `attempts` (oldest first)."""
    if status != "processing":
        return None
    last = attempts[-1] if attempts else None
    if last is None or last["status"] in ("settled", "failed"):
        return ActionRequired("system", "routing the next channel", updated_at)
    started = datetime.fromisoformat(last["started_at"])
    state = last["status"]
    if state == "reserved":
        return ActionRequired("system", "reserved, not yet sent: the payout is submitted "
                              "again under the same payout id", started)
    if state == "submitted":
        return ActionRequired("channel", "accepted by the channel: awaiting its callback",
                              started)
    proposal = pending_proposal(last)
    if proposal is not None:
        return ActionRequired("second_operator", f"{proposal['outcome']} proposed by "
                              f"{proposal['by']}: a different operator must confirm or reject",
                              datetime.fromisoformat(proposal["at"]))
    if state == "unknown":
        return ActionRequired("operator", "the channel cannot say whether it paid: settle with "
                              "the bank's reference or fail it (the channel is still asked)",
                              started)
    since = datetime.fromisoformat(last.get("escalated_at") or last["started_at"])
    return ActionRequired("operator", "escalated: the channel never answered; settle with the "
                          "bank's reference or fail it", since)
