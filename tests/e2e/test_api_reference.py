"""`GET /docs` on the real local stack: the page, its assets and its contract all come from the
app itself, and nothing is loaded from another host."""

from __future__ import annotations

import hashlib
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import yaml

from chalicelib.api.reference import REDOC_SHA256

pytestmark = pytest.mark.e2e
SPEC_FILE = Path(__file__).resolve().parents[2] / "openapi.yaml"


class References(HTMLParser):
    """Every URL the page makes the browser load: src, href, and Redoc's spec-url."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url") and value is not None:
                self.urls.append((tag, name, value))


def _references(html: str) -> list[tuple[str, str, str]]:
    parser = References()
    parser.feed(html)
    return parser.urls


def test_reference_page_loads_only_local_assets_and_the_spec(stack):
    page = stack.call("GET", "/docs")
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    page_url = stack.base + "/docs"
    refs = _references(page.text)
    assert {tag for tag, _, _ in refs} >= {"script", "redoc"}
    for tag, _, ref in refs:
        if ref.startswith("data:"):
            continue
        url = urljoin(page_url, ref)
        assert urlsplit(url).netloc == urlsplit(stack.base).netloc, (tag, ref)
        asset = stack.call("GET", urlsplit(url).path)
        assert asset.status_code == 200, ref
        if tag == "script":
            assert asset.headers["Content-Type"].startswith("text/javascript")
            assert hashlib.sha256(asset.content).hexdigest() == REDOC_SHA256
            assert 'getAttribute("spec-url")' in asset.text  # the bundle starts from the tag
        if tag == "redoc":
            assert asset.headers["Content-Type"].startswith("application/yaml")
            assert asset.text == SPEC_FILE.read_text(encoding="utf-8")
            assert yaml.safe_load(asset.text)["openapi"].startswith("3.1")


def test_reference_page_policy_allows_no_other_host(stack):
    policy = stack.call("GET", "/docs").headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "img-src", "connect-src", "style-src", "font-src", "worker-src"):
        sources = directives[name].split()
        assert "'self'" in sources, name
        assert all(s in ("'self'", "'unsafe-inline'", "data:", "blob:") for s in sources), name
    assert "'unsafe-inline'" not in directives["script-src"]


def test_contract_stays_at_its_address_beside_the_page(stack):
    r = stack.call("GET", "/v1/openapi.yaml")
    assert r.status_code == 200 and r.text == SPEC_FILE.read_text(encoding="utf-8")
