"""Many threads posting against the same accounts through the adapter and a moto HTTP server:
no update lost, no limit breached, and the floor really refuses some of them."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import boto3
import pytest
from botocore.config import Config

from infra.tables import create_tables
from ledger import (
    AccountSpec,
    AccountType,
    BalancePolicy,
    JournalRequest,
    LimitExceeded,
    Posting,
    Side,
)
from ledger.dynamodb import DynamoLedger

THREADS, PER_THREAD, FUNDS = 8, 25, 5_000
TENANT = "race"


@pytest.fixture
def server_client() -> Iterator[Any]:
    from moto.server import ThreadedMotoServer

    try:
        from infra import moto_patches

        moto_patches.apply()
    except ImportError:
        pass
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client(
        "dynamodb", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(max_pool_connections=THREADS * 2, retries={"max_attempts": 3}),
    )
    create_tables(client, "c-")
    try:
        yield client
    finally:
        server.stop()


@pytest.mark.slow
def test_concurrent_postings_lose_nothing_and_respect_the_floor(server_client: Any) -> None:
    ledger = DynamoLedger(server_client, "c-")
    ledger.open_accounts(TENANT, [
        AccountSpec("cash", "cash", AccountType.ASSET, "CNY", floor=0),
        AccountSpec("loan", "loan", AccountType.ASSET, "CNY", floor=0),
        AccountSpec("funding", "funding", AccountType.EQUITY, "CNY", BalancePolicy.SHARDED, 8),
        AccountSpec("fees", "fees", AccountType.INCOME, "CNY", BalancePolicy.SHARDED, 8),
    ])
    ledger.post(TENANT, JournalRequest("seed", (
        Posting("cash", Side.DEBIT, FUNDS, "CNY"),
        Posting("funding", Side.CREDIT, FUNDS, "CNY")), date(2024, 5, 1)))

    def worker(n: int) -> tuple[list[int], list[LimitExceeded]]:
        rng = random.Random(n)
        accepted, refused = [], []
        for i in range(PER_THREAD):
            amount, fee = rng.randint(20, 80), rng.randint(1, 5)
            request = JournalRequest(f"t{n}-{i}", (
                Posting("loan", Side.DEBIT, amount + fee, "CNY"),
                Posting("cash", Side.CREDIT, amount, "CNY"),
                Posting("fees", Side.CREDIT, fee, "CNY")), date(2024, 5, 1))
            try:
                ledger.post(TENANT, request)
                accepted.append(amount)
            except LimitExceeded as err:
                refused.append(err)
        return accepted, refused

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(worker, range(THREADS)))
    accepted = [a for ok, _ in results for a in ok]
    refused = [e for _, ko in results for e in ko]

    assert len(accepted) + len(refused) == THREADS * PER_THREAD
    assert accepted and refused  # demand (~10,600) exceeds the funds: the floor was hit
    assert all(e.account_id == "cash" and e.resulting < 0 for e in refused)
    cash = ledger.balance(TENANT, "cash")
    assert cash.posted == FUNDS - sum(accepted) >= 0
    assert ledger.balance(TENANT, "loan").posted == (
        sum(accepted) + ledger.balance(TENANT, "fees").posted)
    report = ledger.verify(TENANT)
    assert report.ok, report.discrepancies
    assert report.journals == 1 + len(accepted)
