"""docs/ builds as a site with no warning (strict MkDocs, links and anchors validated), and the
README's links into it resolve."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    built = _build(ROOT / "mkdocs.yml", out)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "WARNING" not in built.stdout + built.stderr
    return out


def test_config_is_strict_and_validates_links_and_anchors():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["strict"] is True and config["theme"]["name"] == "material"
    for check in ("not_found", "anchors", "unrecognized_links", "omitted_files"):
        assert config["validation"][check] == "warn", check  # strict turns warn into failure


def test_every_page_is_built(site):
    pages = sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    for page in pages:
        index = site / ("index.html" if page == "index" else f"{page}/index.html")
        assert index.is_file(), page


def test_a_broken_anchor_fails_the_build(tmp_path):
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    page = tmp_path / "docs" / "index.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n[gone](ledger.md#no-such-heading)\n",
                    encoding="utf-8")
    built = _build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert built.returncode != 0 and "no-such-heading" in built.stdout + built.stderr


def _readme_links() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [t for t in LINK.findall(text) if not urlsplit(t).scheme]


def test_readme_links_resolve_to_files_and_doc_anchors(site):
    links = _readme_links()
    assert any(t.startswith("docs/") for t in links), "the README links into docs/"
    for target in links:
        path, _, anchor = target.partition("#")
        assert (ROOT / path).exists(), target
        if path.startswith("docs/") and path.endswith(".md"):
            stem = Path(path).stem
            html = site / ("index.html" if stem == "index" else f"{stem}/index.html")
            assert html.is_file(), target
            if anchor:
                assert f'id="{anchor}"' in html.read_text(encoding="utf-8"), target
