"""KeepAliveMotoServer (what `make run` serves): connections stay open only when that is safe.

Werkzeug's dev server closes every connection because it cannot drain a request body before
the next request line; ours reads the body first. These tests pin what that must not break:
two requests written back to back on one socket are both answered (the second is never eaten
as the first one's leftover body), and requests whose body length is not known up front are
served as moto serves them, then closed.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import boto3
import pytest

from infra import moto_patches

AUTH = ("AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0")


@pytest.fixture
def server() -> Iterator[int]:
    moto_patches.apply()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    srv = moto_patches.KeepAliveMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    srv.start()
    yield port
    srv.stop()


def _request(target: str, body: dict, extra: str = "") -> bytes:
    payload = json.dumps(body).encode()
    head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: DynamoDB_20120810.{target}\r\n"
            f"Content-Type: application/x-amz-json-1.0\r\nAuthorization: {AUTH}\r\n{extra}")
    if "Transfer-Encoding" in extra:
        chunk = f"{len(payload):x}\r\n".encode() + payload + b"\r\n0\r\n\r\n"
        return (head + "\r\n").encode() + chunk
    return (head + f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload


def _responses(sock: socket.socket, count: int) -> list[tuple[dict[str, str], dict]]:
    """Reads `count` length-delimited responses (or up to EOF)."""
    data, out = b"", []
    sock.settimeout(10)
    while len(out) < count:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return out
            data += chunk
        head, data = data.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}
        length = int(headers["content-length"])
        while len(data) < length:
            data += sock.recv(65536)
        out.append((headers, json.loads(data[:length] or b"{}")))
        data = data[length:]
    return out


def test_back_to_back_requests_on_one_connection_are_all_answered(server: int) -> None:
    ddb = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{server}",
                       region_name="us-east-1", aws_access_key_id="local",
                       aws_secret_access_key="local")
    ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    puts = [_request("PutItem", {"TableName": "t", "Item": {"pk": {"S": f"k{i}"},
                                                            "v": {"N": str(i)}}})
            for i in range(5)]
    get = _request("GetItem", {"TableName": "t", "Key": {"pk": {"S": "k3"}},
                               "ConsistentRead": True})
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(b"".join(puts) + get)  # pipelined: bodies and next request lines adjoin
        answers = _responses(sock, 6)
    assert len(answers) == 6
    assert all("connection" not in h for h, _ in answers)  # kept open
    assert answers[-1][1]["Item"] == {"pk": {"S": "k3"}, "v": {"N": "3"}}
    assert ddb.scan(TableName="t", Select="COUNT")["Count"] == 5


def test_requests_without_a_known_length_are_served_then_closed(server: int) -> None:
    chunked = _request("ListTables", {}, "Transfer-Encoding: chunked\r\n")
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(chunked)
        answers = _responses(sock, 2)
    assert len(answers) == 1 and answers[0][0]["connection"] == "close"
    assert "TableNames" in answers[0][1]
