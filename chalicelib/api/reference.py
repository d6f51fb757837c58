"""The interactive API reference at `GET /docs`: Redoc rendering this API's own contract.

The page, the Redoc bundle (vendored in reference_assets/, see its README) and the contract
(`GET /v1/openapi.yaml`) all come from the app, so the reference works under `make run` and in
the deployed Lambda alike, and nothing is loaded from another host: the page's
Content-Security-Policy allows only this origin. Its links are relative, so the page also works
under an API Gateway stage prefix (`/api/docs`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from chalice import Blueprint

from chalicelib.api.http import Context, Reply, endpoint

bp = Blueprint(__name__)
ASSETS = Path(__file__).resolve().parent / "reference_assets"
REDOC = "redoc.standalone.js"
REDOC_SHA256 = "dcaf76612bc4a3fbcc923a8966dee2f6146a5f32e5ce1b6f02dd60cbbf89500b"
# Redoc styles itself with inline <style> tags and runs its search in a blob: worker.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
       "worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
# <redoc spec-url> is the bundle's own auto-start: no inline script is needed.
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lending API reference</title>
<link rel="icon" href="data:,">
</head>
<body>
<redoc spec-url="v1/openapi.yaml"></redoc>
<script src="docs/redoc.standalone.js"></script>
</body>
</html>
"""


@cache
def redoc_bundle() -> str:
    return (ASSETS / REDOC).read_text(encoding="utf-8")


@endpoint(bp, "GET", "/docs", summary="Interactive API reference (HTML)", tag="Service",
          roles=None, responses={200: (None, "The reference page")}, content_type="text/html")
def reference_page(_ctx: Context) -> Reply:
    return Reply(PAGE, headers={"Content-Type": "text/html; charset=utf-8",
                                "Content-Security-Policy": CSP,
                                "X-Content-Type-Options": "nosniff"})


@endpoint(bp, "GET", "/docs/redoc.standalone.js", summary="The reference page's Redoc bundle",
          tag="Service", roles=None, responses={200: (None, "Redoc 2.5.4, standalone")},
          content_type="text/javascript")
def reference_script(_ctx: Context) -> Reply:
    return Reply(redoc_bundle(), headers={"Content-Type": "text/javascript; charset=utf-8",
                                          "Cache-Control": "public, max-age=86400",
                                          "X-Content-Type-Options": "nosniff"})
