"""`make run`: the whole product on one machine.

Starts moto as a real HTTP endpoint (DynamoDB, S3, KMS, SQS) with our transaction patch, creates
the tables, queues and bucket from infra/storage.yaml, and serves the API with `chalice local`.
Close-of-business chunks sent to the queue are worked by polling threads in this process
(`--cob-workers`, default 1), through the app's own SQS handler. The app's `@app.schedule` jobs
run at their deployed cadence on a local scheduler (infra/local_scheduler.py; close of business
only with `--schedule-cob`). Once healthy it writes `.local/stack.env` (API, ADMIN, MOTO for
`source`), removed on stop. Ctrl-C (or SIGTERM) stops everything it started.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from infra import stack_env

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "lending-local-"
BUCKET = "lending-local-documents"
REGION = "us-east-1"


def aws_env(moto_port: int) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }


def app_env(moto_port: int) -> dict[str, str]:
    """Environment of the API process; secrets come from ours or are made up for this run."""
    env = {**aws_env(moto_port), "LENDING_TABLE_PREFIX": PREFIX, "LENDING_BUCKET": BUCKET,
           "LENDING_STAGE": "local"}
    for name in ("PLATFORM_ADMIN_KEY", "API_KEY_PEPPER", "TOKEN_SIGNING_SECRET"):
        env[name] = os.environ.get(name) or secrets.token_urlsafe(24)
    return env


def start_moto(port: int) -> Any:
    import logging

    from infra import moto_lag, moto_patches

    moto_patches.apply()
    moto_lag.from_environment()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call is noise
    # moto's server with keep-alive connections (moto_patches, 5): no TCP connect per call.
    server = moto_patches.KeepAliveMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


def provision(moto_port: int) -> None:
    import boto3

    from infra.tables import provision as provision_all

    endpoint = f"http://127.0.0.1:{moto_port}"
    clients = {name: boto3.client(name, endpoint_url=endpoint, region_name=REGION,
                                  aws_access_key_id="local", aws_secret_access_key="local")
               for name in ("dynamodb", "s3", "kms", "sqs")}
    provision_all(clients, PREFIX, BUCKET)


def start_api(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "infra.chalice_local", "--host", "127.0.0.1", "--port", str(port),
         "--stage", "local", "--no-autoreload"],
        cwd=ROOT, env={**os.environ, **env}, start_new_session=True,
    )


def start_cob_workers(env: dict[str, str], count: int, stop: threading.Event) -> None:
    """`chalice local` has no SQS trigger: these threads poll the close-of-business queue and
    hand each message to the app's own handler (`close_of_business_chunk`) as a one-record
    SQS event, deleting it on success, as Lambda's event source mapping does. A failed
    message comes back after 30 s."""
    os.environ.update(env)  # the app's settings, read when it first needs them
    import boto3
    from chalice.local import LambdaContext

    import app as app_module

    handler = app_module.app.handler_map["close_of_business_chunk"]
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=f"{PREFIX}cob-chunks")["QueueUrl"]

    def poll() -> None:
        while not stop.is_set():
            try:
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1,
                                          WaitTimeSeconds=1, VisibilityTimeout=900)
            except Exception:  # moto stopping under us: try again
                time.sleep(1)
                continue
            for m in got.get("Messages", []):
                event = {"Records": [{
                    "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"], "attributes": {}, "messageAttributes": {},
                    "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:{PREFIX}cob-chunks",
                    "awsRegion": REGION}]}
                try:
                    handler(event, LambdaContext("close_of_business_chunk", 1769, 900_000))
                except Exception as exc:  # Lambda would retry it too
                    print(f"close-of-business worker: {exc!r}", flush=True)
                    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                                  VisibilityTimeout=30)
                    continue
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    for k in range(count):
        threading.Thread(target=poll, name=f"cob-worker-{k}", daemon=True).start()


def start_scheduler(env: dict[str, str], *, include_cob: bool, run_at_start: bool) -> Any:
    """The app's scheduled jobs in this process, with the API's settings (its stage, tables and
    secrets), so they read the same data and the same sandbox clocks as the API."""
    os.environ.update(env)
    import app as app_module
    from infra.local_scheduler import LocalScheduler, scheduled_jobs

    scheduler = LocalScheduler(scheduled_jobs(app_module.app, include_cob=include_cob),
                               run_at_start=run_at_start)
    scheduler.start()
    return scheduler


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def wait_healthy(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the API did not become healthy on port {port} within {timeout:.0f}s")


def _banner(port: int, moto_port: int, admin_key: str, env_file: Path | None,
            jobs: list[str]) -> str:
    base = f"http://127.0.0.1:{port}"
    source = (f"source {_shown(env_file)}   # sets API, ADMIN (the admin key) and MOTO"
              if env_file else f"export API={base} ADMIN='{admin_key}'")
    scheduled = ", ".join(jobs) if jobs else "none (--no-schedule)"
    return f"""
Lending API on {base}  (AWS stand-in: moto on http://127.0.0.1:{moto_port})
Platform admin key: {admin_key}
Scheduled jobs at their deployed cadence: {scheduled}

In another terminal:
  {source}
  curl $API/v1/health
then follow the README's walk (it uses $API and $ADMIN). Locally: docs/local-stack.md.

The contract: {base}/v1/openapi.yaml   Ctrl-C stops everything.
"""


def _shown(path: Path) -> str:
    """The env file as a shell in the repository would name it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MOTO_PORT", 5005)))
    parser.add_argument("--cob-workers", type=int,
                        default=int(os.environ.get("COB_WORKERS", 1)),
                        help="threads draining the close-of-business queue (0: none)")
    parser.add_argument("--schedule-cob", action="store_true",
                        default=_flag("LOCAL_SCHEDULE_COB"),
                        help="also schedule close of business (env LOCAL_SCHEDULE_COB=1); "
                             "otherwise it is a command: POST /v1/cob/runs")
    parser.add_argument("--schedule-at-start", action="store_true",
                        default=_flag("LOCAL_SCHEDULE_AT_START"),
                        help="run every scheduled job once at start too, then at its cadence "
                             "(env LOCAL_SCHEDULE_AT_START=1)")
    parser.add_argument("--no-schedule", action="store_true",
                        default=os.environ.get("LOCAL_SCHEDULE", "1") == "0",
                        help="run no scheduled job (env LOCAL_SCHEDULE=0)")
    parser.add_argument("--fake-bank", action="store_true", default=_flag("FAKE_BANK"),
                        help="also start the fake bank (python -m fakebank; env FAKE_BANK=1); "
                             "its URL, control URL and CA file go to the env file")
    parser.add_argument("--env-file", default=os.environ.get("LOCAL_STACK_ENV_FILE",
                                                             str(stack_env.DEFAULT_ENV_FILE)),
                        help="where to write API/ADMIN/MOTO for `source` ('' for nowhere)")
    args = parser.parse_args()
    stop_workers = threading.Event()

    moto = start_moto(args.moto_port)
    api: subprocess.Popen[bytes] | None = None
    scheduler: Any = None
    bank: Any = None
    env_file = Path(args.env_file) if args.env_file else None
    env_text = ""

    def stop(*_: object) -> None:
        """Every step is bounded: a stuck child or server must not keep the stack alive."""
        stop_workers.set()
        if env_file and env_text:
            stack_env.remove(env_file, env_text)
        if scheduler is not None:
            print("stopping the scheduler ...", flush=True)
            scheduler.stop(timeout=3)
        print("stopping the API ...", flush=True)
        if api and api.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(api.pid, signal.SIGTERM)
            try:
                api.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(api.pid, signal.SIGKILL)
        if bank is not None:
            print("stopping the fake bank ...", flush=True)
            bank.stop()
        print("stopping moto ...", flush=True)
        stopper = threading.Thread(target=moto.stop, daemon=True)  # its server thread is a daemon
        stopper.start()
        stopper.join(timeout=5)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # A parent may have left SIGINT ignored (shells do for background jobs, and Python keeps an
    # inherited "ignore"): install the handler ourselves so Ctrl-C always stops the stack.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        provision(args.moto_port)
        env = app_env(args.moto_port)
        api = start_api(args.port, env)
        start_cob_workers(env, args.cob_workers, stop_workers)
        if not args.no_schedule:
            scheduler = start_scheduler(env, include_cob=args.schedule_cob,
                                        run_at_start=args.schedule_at_start)
        if args.fake_bank:
            from infra import fake_bank_process

            bank = fake_bank_process.spawn(port=int(os.environ.get("FAKE_BANK_PORT", 0)))
            print(f"fake bank on {bank.url} (control {bank.control_url}, CA {bank.ca_file})",
                  flush=True)
        wait_healthy(args.port)
        if env_file:
            extra = {} if bank is None else {"BANK": bank.url, "BANK_CONTROL": bank.control_url,
                                             "BANK_CA": str(bank.ca_file)}
            env_text = stack_env.render(args.port, args.moto_port, env["PLATFORM_ADMIN_KEY"],
                                        extra)
            stack_env.write(env_file, env_text)
        jobs = [job.name for job in scheduler.jobs] if scheduler else []
        print(_banner(args.port, args.moto_port, env["PLATFORM_ADMIN_KEY"], env_file, jobs),
              flush=True)
        # Not `api.wait()`: a process-directed SIGINT may land on any thread (moto's handlers,
        # the COB pollers) and then never interrupts the main thread's waitpid, so the handler
        # would wait for ever. Short sleeps let the main thread run it within 0.2 s.
        while (code := api.poll()) is None:
            time.sleep(0.2)
        return code
    except KeyboardInterrupt:
        return 0
    finally:
        stop()
        print("local stack stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
