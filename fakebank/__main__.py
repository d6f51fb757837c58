"""`python -m fakebank`: serve the fake bank until Ctrl-C; its addresses go to --info-file."""

from __future__ import annotations

import argparse
import json
import signal
import tempfile
import threading
from pathlib import Path

from fakebank.bank import Bank, Behaviour, Client
from fakebank.server import Servers
from fakebank.tls import make_cert


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="TLS protocol port (0: any free)")
    parser.add_argument("--control-port", type=int, default=0)
    parser.add_argument("--dir", default=None, help="where cert.pem and info.json go")
    parser.add_argument("--client", action="append", default=[],
                        metavar="ID:API_SECRET[:WEBHOOK_SECRET]", help="a client to accept")
    for name, default in vars(Behaviour()).items():
        flag = f"--{name.replace('_', '-')}"
        if isinstance(default, bool):
            parser.add_argument(flag, action="store_true")
        elif isinstance(default, list):  # --closed-accounts A --closed-accounts B
            parser.add_argument(flag, action="append", default=[])
        else:
            parser.add_argument(flag, type=type(default), default=default)
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="fakebank-"))
    bank = Bank(Behaviour(**{k: getattr(args, k) for k in vars(Behaviour())}))
    for spec in args.client:
        client_id, api_secret, *rest = spec.split(":", 2)
        bank.clients[client_id] = Client(client_id, api_secret, rest[0] if rest else None)
    cert, key = make_cert(folder)
    servers = Servers(bank, args.port, args.control_port, cert, key)
    info = {"url": servers.url, "control_url": servers.control_url, "ca_file": str(cert)}
    (folder / "info.tmp").write_text(json.dumps(info))
    (folder / "info.tmp").replace(folder / "info.json")  # whole, once listening
    print(f"fake bank on {servers.url} (control {servers.control_url}, CA {cert})", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
