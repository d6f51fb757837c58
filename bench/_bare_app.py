"""A bare Chalice app for bench_latency: `GET /bare/{n}` makes n consistent GetItem calls.

Served by chalice.local's own server (LocalDevServer: the ThreadedHTTPServer + LocalGateway
that `chalice local` runs) with the local stack's setting (Nagle off, infra/chalice_local.py),
against the same moto, so the ratio endpoint / bare isolates what our code adds over Chalice +
boto3 for the same number of DynamoDB round trips.

    python bench/_bare_app.py --port 9001 --moto http://127.0.0.1:5005 --table <name>
"""

from __future__ import annotations

import argparse
import os

import boto3
from chalice import Chalice, local
from chalice.config import Config
from chalice.local import LocalDevServer

app = Chalice(app_name="bare")
TABLE = os.environ.get("BARE_TABLE", "")
_client = None


def _ddb() -> object:
    global _client
    if _client is None:
        _client = boto3.client("dynamodb")
    return _client


@app.route("/bare/{n}")
def bare(n: str) -> dict[str, int]:
    client = _ddb()
    for i in range(int(n)):
        client.get_item(TableName=TABLE, Key={"pk": {"S": f"bare#{i}"}, "sk": {"S": "x"}},
                        ConsistentRead=True)
    return {"calls": int(n)}


def main() -> None:
    global TABLE
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--table", required=True)
    ns = parser.parse_args()
    TABLE = ns.table
    local.ChaliceRequestHandler.disable_nagle_algorithm = True  # as infra/chalice_local.py
    server = LocalDevServer(app, Config(chalice_stage="local", config_from_disk={}),
                            "127.0.0.1", ns.port)
    server.serve_forever()


if __name__ == "__main__":
    main()
