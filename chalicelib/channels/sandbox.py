"""The `sandbox` channel: a configurable fake bank for tests and demos.

Behaviour per payout is decided by a RNG seeded with (seed, payout id), so the same payout
always meets the same fate and a test can predict it: fail above an amount, fail a share of
payouts, time out, settle at once, or accept and leave the settlement to a signed callback.
After a timeout the status query reports, per `timeout_outcome`, that the payout never
executed (`not_executed`), that it did (`executed`: settled, or accepted in callback mode), or
that the bank cannot say yet (`unknown`). `latency_ms` really sleeps (for benchmarks).
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from chalicelib.channels.protocol import Outcome, OutcomeKind, Payout, register


@dataclass(frozen=True)
class SandboxConfig:
    latency_ms: int = 0
    failure_rate_percent: int = 0
    timeout_rate_percent: int = 0
    fail_above: int | None = None  # minor units
    settle: str = "sync"  # "sync": settled in the answer; "callback": accepted, settled later
    seed: int = 0
    timeout_outcome: str = "not_executed"  # | "executed" | "unknown": what status says later

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> SandboxConfig:
        return cls(**{k: v for k, v in config.items() if k in cls.__dataclass_fields__})


RECEIVED_KEPT = 1000


class SandboxChannel:
    #: payout id -> the beneficiary it carried, masked (what a test may check was sent)
    received: ClassVar[dict[str, str]] = {}

    def __init__(self, channel_id: str, config: Mapping[str, Any]) -> None:
        self.channel_id = channel_id
        self.config = SandboxConfig.of(config)

    def _fate(self, payout: Payout) -> OutcomeKind:
        c = self.config
        if c.fail_above is not None and payout.amount > c.fail_above:
            return OutcomeKind.FAILED
        rng = random.Random(f"{c.seed}:{payout.payout_id}")
        roll = rng.randrange(100)
        if roll < c.timeout_rate_percent:
            return OutcomeKind.TIMEOUT
        if roll < c.timeout_rate_percent + c.failure_rate_percent:
            return OutcomeKind.FAILED
        return OutcomeKind.ACCEPTED if c.settle == "callback" else OutcomeKind.SETTLED

    def submit(self, payout: Payout) -> Outcome:
        if self.config.latency_ms:
            time.sleep(self.config.latency_ms / 1000)
        received = SandboxChannel.received
        received[payout.payout_id] = repr(payout.beneficiary)
        if len(received) > RECEIVED_KEPT:  # a long-running stack: keep the latest only
            del received[next(iter(received))]
        fate = self._fate(payout)
        ref = f"sbx-{payout.payout_id}"
        reasons = {OutcomeKind.FAILED: "sandbox: payout refused",
                   OutcomeKind.TIMEOUT: "sandbox: no answer in time"}
        return Outcome(fate, None if fate is OutcomeKind.TIMEOUT else ref, reasons.get(fate, ""))

    def status(self, payout: Payout) -> Outcome:
        fate = self._fate(payout)
        if fate is OutcomeKind.TIMEOUT and self.config.timeout_outcome == "unknown":
            return Outcome(OutcomeKind.UNKNOWN, None, "sandbox: cannot tell yet")
        if fate is OutcomeKind.TIMEOUT and self.config.timeout_outcome == "executed":
            fate = OutcomeKind.ACCEPTED if self.config.settle == "callback" else \
                OutcomeKind.SETTLED
        if fate in (OutcomeKind.TIMEOUT, OutcomeKind.FAILED):
            return Outcome(OutcomeKind.NOT_FOUND, None, "sandbox: never executed")
        return Outcome(fate, f"sbx-{payout.payout_id}")


register("sandbox", SandboxChannel)
