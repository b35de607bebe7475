"""Per-client rate limit on public submission: 429 + Retry-After, per client, trusted proxies only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from recommender.web.app import create_app
from recommender.config import parse_trusted_proxies
from recommender.web.ratelimit import client_address, parse_rate_limit
from tests.helpers import assert_error


@pytest.fixture
def limited(settings, service):
    """A client of an app limited to 3 submissions a minute, with 10.0.0.1 as trusted proxy."""

    def build(peer: str = "10.9.9.9", **overrides):
        tuned = settings.model_copy(update={"rate_limit": "3/minute", "trusted_proxies": "10.0.0.1", **overrides})
        return TestClient(create_app(tuned, service), client=(peer, 50000))

    return build


def post_api(client, n: int, **headers) -> list[int]:
    return [client.post("/api/feedback", json={"text": f"想学习公文写作 {i}"}, headers=headers).status_code for i in range(n)]


def test_api_over_the_limit_answers_429_json_with_retry_after(limited):
    """The 4th POST /api/feedback in a minute is 429 in the JSON error shape with Retry-After seconds."""
    with limited() as client:
        assert post_api(client, 3) == [201, 201, 201]
        response = client.post("/api/feedback", json={"text": "再提交一条"})
        body = assert_error(response, 429, "rate_limited")
        assert "秒后再试" in body["error"]["message"]
        assert 1 <= int(response.headers["retry-after"]) <= 60


def test_form_over_the_limit_answers_an_html_page(limited):
    """The form door shares the limit and answers 429 with the HTML error page and Retry-After."""
    with limited() as client:
        post_api(client, 3)
        response = client.post("/feedback", data={"text": "想学做表格"}, follow_redirects=False)
        page = assert_error(response, 429)
        assert "retry-after" in response.headers
        assert "秒后再试" in page.text


def test_other_routes_are_not_limited(limited):
    """Reading pages and probes is never limited."""
    with limited() as client:
        post_api(client, 4)
        assert {client.get("/healthz").status_code for _ in range(10)} == {200}
        assert client.get("/").status_code == 200


def test_forwarded_for_counts_only_behind_a_trusted_proxy(limited):
    """Behind the trusted proxy each X-Forwarded-For client has its own budget; from elsewhere the header is ignored."""
    with limited() as direct:
        # The peer 10.9.9.9 is not trusted: a forged header does not buy a fresh budget.
        assert post_api(direct, 4, **{"X-Forwarded-For": "1.2.3.4"})[-1] == 429
        assert post_api(direct, 1, **{"X-Forwarded-For": "5.6.7.8"}) == [429]
    with limited(peer="10.0.0.1") as behind_proxy:
        assert post_api(behind_proxy, 4, **{"X-Forwarded-For": "1.2.3.4"}) == [201, 201, 201, 429]
        assert post_api(behind_proxy, 1, **{"X-Forwarded-For": "5.6.7.8"}) == [201]


def test_off_disables_the_limit(limited):
    """rate_limit="off" (the test default) lets every submission through."""
    with limited(rate_limit="off") as client:
        assert set(post_api(client, 8)) == {201}


@pytest.mark.parametrize(
    "peer,header,trusted,expected",
    [
        ("1.1.1.1", None, "", "1.1.1.1"),
        ("1.1.1.1", "9.9.9.9", "", "1.1.1.1"),
        ("10.0.0.1", "9.9.9.9", "10.0.0.0/8", "9.9.9.9"),
        ("10.0.0.1", "6.6.6.6, 9.9.9.9", "10.0.0.0/8", "9.9.9.9"),
        ("10.0.0.1", "9.9.9.9, 10.0.0.7", "10.0.0.0/8", "9.9.9.9"),
        ("10.0.0.1", "not-an-ip", "10.0.0.1", "10.0.0.1"),
        ("10.0.0.1", None, "10.0.0.1", "10.0.0.1"),
    ],
    ids=["plain", "untrusted-peer", "trusted", "rightmost-untrusted", "skip-inner-proxy", "garbage", "no-header"],
)
def test_client_address(peer, header, trusted, expected):
    """The counted address: the peer, or the rightmost untrusted X-Forwarded-For hop behind a trusted peer."""
    headers = [(b"x-forwarded-for", header.encode())] if header else []
    scope = {"client": (peer, 1234), "headers": headers}
    assert client_address(scope, parse_trusted_proxies(trusted)) == expected


def test_settings_are_validated():
    """Unreadable rates and proxy addresses are refused with the value named; off/empty disable."""
    assert parse_rate_limit("off") == [] and parse_rate_limit("") == []
    assert [str(i) for i in parse_rate_limit("5/second;100/hour")]
    with pytest.raises(ValueError, match="rate_limit='lots'"):
        parse_rate_limit("lots")
    with pytest.raises(ValueError, match=r"“proxy\.local”不是 IP 地址"):
        parse_trusted_proxies("10.0.0.1, proxy.local")


def test_withdrawal_has_its_own_bucket(limited):
    """Someone who just used up the submission limit can still withdraw at once; withdrawal has its
    own limit (withdraw_rate_limit), which in turn leaves submissions alone."""
    with limited(withdraw_rate_limit="2/minute") as client:
        receipts = [client.post("/api/feedback", json={"text": f"想学习公文写作 {i}"}).json()["receipt"] for i in range(3)]
        assert client.post("/api/feedback", json={"text": "再提交一条"}).status_code == 429
        assert client.post("/api/withdraw/lookup", json={"receipt": receipts[0]}).status_code == 200
        assert client.post("/api/withdraw", json={"receipt": receipts[0]}).json()["status"] == "withdrawn"
        over = client.post("/api/withdraw", json={"receipt": receipts[1]})
        assert_error(over, 429, "rate_limited")
        assert "撤回" in over.json()["error"]["message"]
    with limited(withdraw_rate_limit="1/minute") as client:
        assert client.post("/api/withdraw/lookup", json={"receipt": "7KQ4M-XH2PA"}).status_code == 404
        assert client.post("/api/withdraw/lookup", json={"receipt": "7KQ4M-XH2PA"}).status_code == 429
        assert post_api(client, 3) == [201, 201, 201]


def test_every_limited_door_documents_429(limited):
    """The OpenAPI schema lists 429 for every door the limiter counts, the post-class form
    (`POST /class/{token}`, limited by its path prefix) included: a client reading the schema
    (and schemathesis) must expect it."""
    from recommender.web.ratelimit import LIMITED, LIMITED_PREFIXES

    with limited() as client:
        paths = client.get("/openapi.json").json()["paths"]
    limited_operations = {(method.lower(), path) for method, path in LIMITED}
    limited_operations |= {
        (method.lower(), path) for method, prefix, _ in LIMITED_PREFIXES for path in paths if path.startswith(prefix)
    }
    assert ("post", "/class/{token}") in limited_operations
    for method, path in sorted(limited_operations):
        assert "429" in paths[path][method]["responses"], f"{method.upper()} {path} does not document 429"
