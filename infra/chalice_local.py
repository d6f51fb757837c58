"""`chalice local` for the local stack: Nagle's algorithm off on its connections, and the
gateway's own 401/403 as the deployed gateway answers them (infra/gateway_problems.py).

Why: the dev server writes a response's headers and its body in two sends. On a kept-alive
connection the body then waits for the client's ACK of the headers, which Linux delays by
40 ms, so every request from a keep-alive client took >= 40 ms (measured 46.7 ms for a moto
GetItem against 3.3 ms with TCP_NODELAY; the same stall as in infra/moto_patches, 5).

    python -m infra.chalice_local --host 127.0.0.1 --port 8000 --stage local --no-autoreload
"""

from __future__ import annotations

import sys

from chalice import local
from chalice.cli import main as chalice_main

from infra import gateway_problems


def main(argv: list[str]) -> int:
    local.ChaliceRequestHandler.disable_nagle_algorithm = True
    gateway_problems.install_local()
    sys.argv = ["chalice", "local", *argv]
    return int(chalice_main() or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
