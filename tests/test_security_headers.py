"""Security headers on every answer: CSP with a per-request nonce, nosniff, referrer policy, frames."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[1] / "recommender" / "web" / "templates"
AUTH = {"Authorization": "Bearer test-organizer-token"}


def _policy(response) -> dict[str, str]:
    csp = response.headers["content-security-policy"]
    return {part.split()[0]: " ".join(part.split()[1:]) for part in csp.split(";") if part.strip()}


@pytest.mark.parametrize(
    "method,path,kwargs",
    [
        ("GET", "/", {}),
        ("GET", "/thanks", {}),
        ("GET", "/withdraw", {}),
        ("GET", "/organizer", {}),
        ("GET", "/organizer/login", {}),
        ("GET", "/healthz", {}),
        ("GET", "/static/style.css", {}),
        ("GET", "/no-such-page", {}),
        ("GET", "/api/suggestions", {}),
        ("POST", "/api/feedback", {"json": {"text": ""}}),
        ("POST", "/feedback", {"data": {"text": ""}}),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_every_answer_carries_the_headers(client, method, path, kwargs):
    """Pages, JSON, static files and errors all carry CSP, nosniff, referrer policy and frame denial."""
    response = client.request(method, path, **kwargs)
    policy = _policy(response)
    assert policy["default-src"] == "'self'"
    assert re.fullmatch(r"'self' 'nonce-[A-Za-z0-9_-]{20,}'", policy["script-src"])
    assert policy["style-src"] == "'self'" and "unsafe-inline" not in response.headers["content-security-policy"]
    assert policy["img-src"] == "'self' data:"
    assert policy["frame-ancestors"] == "'none'" and policy["form-action"] == "'self'" and policy["base-uri"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"
    assert len(response.headers.get_list("content-security-policy")) == 1


def test_body_too_large_answer_has_the_headers_too(client):
    """Even the 413 from the body-size middleware carries the policy."""
    response = client.post("/api/feedback", content=b"x" * 70000, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "nonce-" in response.headers["content-security-policy"]


def test_nonce_is_fresh_per_request(client):
    """Two requests never share a nonce."""
    first = _policy(client.get("/"))["script-src"]
    second = _policy(client.get("/"))["script-src"]
    assert first != second


def test_docs_get_their_own_policy_and_redoc_is_off(client):
    """/docs (Swagger UI, assets served by this site) gets a policy allowing its inline start-up
    script and nothing from elsewhere; /redoc is not served."""
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert _policy(docs)["script-src"] == "'self' 'unsafe-inline'" and "http" not in docs.headers["content-security-policy"]
    assert _policy(docs)["frame-ancestors"] == "'none'"
    assert client.get("/redoc").status_code == 404
    assert "cdn.jsdelivr.net" not in client.get("/").headers["content-security-policy"]


def test_templates_have_no_inline_script_or_style():
    """No template has an inline <script> without the nonce, a <style> block, a style= or on*= attribute."""
    for path in TEMPLATES.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text):
            assert "csp_nonce" in tag, (path.name, tag)
        assert "<style" not in text, path.name
        assert not re.search(r"\sstyle\s*=", text), path.name
        assert not re.search(r"\son[a-z]+\s*=", text), path.name


def test_charts_use_no_style_attributes():
    """The inline SVG charts use presentation attributes, which style-src 'self' allows."""
    from recommender.ranking import charts

    svg = charts.sparkline_svg([1, 3, 2], 120, 28, title="t") + charts.bar_chart_svg([("a", 3), ("b", 1)], 640, title="t")
    assert "style=" not in svg and "<script" not in svg
