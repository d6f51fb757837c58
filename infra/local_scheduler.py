"""The local stand-in for EventBridge: runs the app's `@app.schedule` jobs at their deployed
cadence inside `make run` (infra/local_stack.py), so webhooks are delivered, pendings swept and
disbursements resumed as in AWS.

The jobs and their cadences are read from the Chalice app itself (`app.event_sources`), and each
run goes through the app's own handler with a scheduled event and a Lambda context bounded by the
function's deployed timeout (.chalice/config.json), so nothing here restates what app.py says.
Each job has its own thread: a run that outlasts its period skips the fires it missed (logged)
instead of overlapping itself; a failure is logged and the job fires again at its next time.
Close of business is a command locally (`POST /v1/cob/runs`) unless asked for (`include_cob`).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from chalice.app import Chalice, ScheduledEventConfig
from chalice.local import LambdaContext

from infra.schedule_cadence import CronCadence, RateCadence, parse

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
ACCOUNT = "123456789012"
# Started by a person locally (POST /v1/cob/runs), scheduled only with --schedule-cob.
COMMAND_ONLY = frozenset({"close_of_business", "resume_close_of_business"})
JOB_LOGGER = "lending.jobs"  # where app.py's handlers write their result line
DEFAULT_TIMEOUT_S = 60

Handler = Callable[[dict[str, Any], Any], object]
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Job:
    name: str
    expression: str  # as deployed: rate(1 minute), cron(30 1 * * ? *)
    cadence: RateCadence | CronCadence
    handler: Handler
    timeout_s: int = DEFAULT_TIMEOUT_S


@cache
def _stage_settings(config: Path = ROOT / ".chalice" / "config.json",
                    stage: str = "dev") -> dict[str, Any]:
    settings: dict[str, Any] = json.loads(config.read_text())["stages"][stage]
    return settings


def deployed_timeout(name: str) -> int:
    """A function's Lambda timeout in the deployed stage (what bounds a run in AWS)."""
    settings = _stage_settings()
    default = int(settings.get("lambda_timeout", DEFAULT_TIMEOUT_S))
    return int(settings.get("lambda_functions", {}).get(name, {}).get("lambda_timeout", default))


def scheduled_jobs(app: Chalice, *, include_cob: bool = False,
                   timeout_of: Callable[[str], int] = deployed_timeout) -> list[Job]:
    """Every `@app.schedule` job of the app, close of business only when `include_cob`."""
    jobs = []
    for source in app.event_sources:
        if not isinstance(source, ScheduledEventConfig):
            continue
        if source.name in COMMAND_ONLY and not include_cob:
            continue
        raw = source.schedule_expression
        expression = raw if isinstance(raw, str) else raw.to_string()
        jobs.append(Job(source.name, expression, parse(expression), app.handler_map[source.name],
                        timeout_of(source.name)))
    return jobs


def scheduled_event(job: str, at: datetime) -> dict[str, Any]:
    """The event EventBridge hands a scheduled Lambda (what Chalice's CloudWatchEvent reads)."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": ACCOUNT,
            "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{job}"], "detail": {}}


class _ResultLines(logging.Handler):
    """Collects what a job's handler logs on the thread that runs it (its result line)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self._local = threading.local()

    def begin(self) -> None:
        self._local.lines = []

    def end(self) -> list[str]:
        lines: list[str] = getattr(self._local, "lines", [])
        self._local.lines = None
        return lines

    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(self._local, "lines", None)
        if lines is not None:
            lines.append(record.getMessage())


_PRINTING = threading.Lock()


def _print_line(line: str) -> None:
    """One whole line per write: jobs starting together must not splice their lines (`print`
    writes the text and its newline separately, so two threads' lines could run together)."""
    with _PRINTING:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class LocalScheduler:
    """One thread per job, each waiting for its next fire; `stop` ends them within its timeout
    (a run in progress finishes on its daemon thread, or dies with the process)."""

    def __init__(self, jobs: Iterable[Job], *, out: Callable[[str], None] | None = None,
                 clock: Clock | None = None, run_at_start: bool = False) -> None:
        self.jobs = list(jobs)
        self._out = out or _print_line
        self._clock = clock or (lambda: datetime.now(UTC))
        self._run_at_start = run_at_start
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._results = _ResultLines()

    def start(self) -> None:
        logger = logging.getLogger(JOB_LOGGER)
        logger.setLevel(logging.INFO)
        logger.addHandler(self._results)
        anchor = self._clock()
        for job in self.jobs:
            first = job.cadence.next_after(anchor, anchor)
            self._out(f"scheduler: {job.name} {job.expression}, "
                      f"{'now and ' if self._run_at_start else ''}first at {_hms(first)}")
            thread = threading.Thread(target=self._loop, args=(job, anchor),
                                      name=f"schedule-{job.name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        busy = [t.name for t in self._threads if t.is_alive()]
        if busy:
            self._out(f"scheduler: left running at stop: {', '.join(busy)}")
        logging.getLogger(JOB_LOGGER).removeHandler(self._results)

    def _loop(self, job: Job, anchor: datetime) -> None:
        if self._run_at_start and not self._stop.is_set():
            self.run(job)
        fire = job.cadence.next_after(self._clock(), anchor)
        while not self._stop.wait(max(0.0, (fire - self._clock()).total_seconds())):
            if self._clock() < fire:  # woke early (a clock step): wait the rest
                continue
            self.run(job)
            now = self._clock()
            following = job.cadence.next_after(now, anchor)
            missed = _missed(job, fire, now, anchor)
            if missed:
                self._out(f"scheduler: {job.name} overran its period: {missed} fire(s) skipped")
            fire = following

    def run(self, job: Job) -> bool:
        """One run through the app's handler, logged with its duration and result line;
        False if it raised (the traceback is logged, the schedule goes on)."""
        started, at = time.monotonic(), self._clock()
        self._results.begin()
        try:
            job.handler(scheduled_event(job.name, at),
                        LambdaContext(job.name, 1024, job.timeout_s * 1000))
        except Exception as exc:
            self._results.end()
            took = time.monotonic() - started
            self._out(f"scheduler: {job.name} failed after {took:.2f} s: {exc!r}\n"
                      + "".join(traceback.format_exception(exc)).rstrip())
            return False
        took = time.monotonic() - started
        result = "; ".join(self._results.end()) or "(no result line)"
        late = f" (over its deployed timeout of {job.timeout_s} s)" if took > job.timeout_s else ""
        self._out(f"scheduler: {job.name} ran in {took:.2f} s{late}: {result}")
        return True


def _missed(job: Job, fire: datetime, now: datetime, anchor: datetime) -> int:
    """Fires that fell between `fire` (the one just run) and `now` (when it finished)."""
    count, at = 0, job.cadence.next_after(fire, anchor)
    while at <= now and count < 10_000:
        count += 1
        at = job.cadence.next_after(at, anchor)
    return count


def _hms(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
