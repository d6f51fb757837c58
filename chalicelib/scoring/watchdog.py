"""A hard time limit on every onnxruntime session run.

onnxruntime checks `RunOptions.terminate` between kernels and on every Loop/Scan iteration, and
releases the GIL while it runs, so another thread setting the flag really stops the run: `run`
then raises, and `bounded_run` turns that into RunTimeout. One daemon thread per process holds
the deadlines of the runs in flight (a heap), so a run costs a heap push and a lock, not a new
thread (bench/bench_scoring.py prints the cost). The static checks (graph_checks) keep tenant
graphs to kernels that each finish quickly; this is the second guard, and the one that applies
to every run of every model.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

# One session run (validation's smoke run and every scoring run alike, so that what passes upload
# is what scoring can run): the shipped model scores 4,096 rows in ~5 ms, one row in ~0.1 ms.
MAX_RUN_SECONDS = 0.5


class RunTimeout(Exception):
    """The run was stopped at its time limit."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"its run was stopped at the time limit of {seconds:g} s")
        self.seconds = seconds


class Watchdog:
    """Sets `terminate` on the RunOptions of every run still going at its deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, list[Any]]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, options: Any, seconds: float) -> list[Any]:
        """A ticket [options, fired]: `disarm` it when the run ends."""
        ticket = [options, seconds <= 0]
        if seconds <= 0:  # no time at all: stopped before the first kernel, deterministically
            options.terminate = True
            return ticket
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="onnx-watchdog",
                                                daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, (time.monotonic() + seconds, next(self._seq), ticket))
            if self._heap[0][2] is ticket:
                self._cond.notify()
        return ticket

    def disarm(self, ticket: list[Any]) -> bool:
        """True if the deadline had already passed (the run was told to stop)."""
        with self._cond:
            fired = bool(ticket[1])
            ticket[0] = None  # the watcher drops it when its deadline comes
            return fired

    def _watch(self) -> None:
        with self._cond:
            while True:
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, _, ticket = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                if ticket[0] is not None:
                    ticket[1] = True
                    ticket[0].terminate = True


WATCHDOG = Watchdog()


def bounded_run(session: Any, outputs: Sequence[str], feed: Mapping[str, Any],
                seconds: float | None = None) -> list[Any]:
    """`session.run` stopped at `seconds` (MAX_RUN_SECONDS, read at call time); RunTimeout if it
    was stopped (other errors pass through unchanged)."""
    import onnxruntime as ort

    seconds = MAX_RUN_SECONDS if seconds is None else seconds
    options = ort.RunOptions()
    options.log_severity_level = 4  # the stop is reported by RunTimeout, not onnxruntime's log
    ticket = WATCHDOG.arm(options, seconds)
    try:
        result: list[Any] = session.run(list(outputs), dict(feed), options)
    except Exception:
        if WATCHDOG.disarm(ticket):
            raise RunTimeout(seconds) from None
        raise
    WATCHDOG.disarm(ticket)
    return result
