"""The smaller items of issue 15 (item 7): /docs offline, the licence metadata."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_docs_load_every_asset_from_this_site(client):
    """/docs references only local URLs, and each of them is served (no CDN needed)."""
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?['"]([^'"]+)['"]""", page.text)
    urls = [a or b for a, b in urls]
    assert urls, page.text[:500]
    assert not [u for u in urls if re.match(r"(?:https?:)?//", u)], urls
    assert "cdn.jsdelivr.net" not in page.text and "fastapi.tiangolo.com" not in page.text
    for url in urls:
        answer = client.get(url)
        assert answer.status_code == 200, url
    script = client.get("/static/swagger-ui/swagger-ui-bundle.js")
    assert "javascript" in script.headers["content-type"] and len(script.content) > 100_000
    assert "text/css" in client.get("/static/swagger-ui/swagger-ui.css").headers["content-type"]
    assert client.get("/docs/oauth2-redirect").status_code == 200


def test_licence_is_an_spdx_expression():
    """pyproject: license = "MIT" (SPDX) with setuptools>=77, so builds print no licence deprecation."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"
    assert "setuptools>=77" in project["build-system"]["requires"]
    assert not any("License ::" in c for c in project["project"].get("classifiers", []))
