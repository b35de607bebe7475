"""Organizer authentication: tokens, the dashboard session cookie, CSRF, and no open organizer route."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from recommender.config import Settings
from recommender.web.app import create_app
from recommender.web.auth import CSRF_HEADER, SESSION_COOKIE, SESSION_MAX_AGE, OrganizerAuth
from tests.conftest import ORGANIZER_TOKEN
from tests.helpers import assert_error, parse_html

# Paths anyone may use. Everything else must answer 401 without credentials.
PUBLIC_PATHS = frozenset(
    {
        "/",
        "/feedback",
        "/thanks",
        "/api/feedback",
        # withdrawal by receipt code: the code is the credential (see tests/test_withdrawal.py)
        "/withdraw",
        "/withdraw/lookup",
        "/withdraw/done",
        "/api/withdraw",
        "/api/withdraw/lookup",
        "/healthz",
        "/readyz",
        "/metrics",
        "/organizer/login",
        "/docs",
        "/docs/oauth2-redirect",
        "/openapi.json",
        "/redoc",
        # the post-class form: the class's unguessable link is the credential (tests/test_web_class_feedback.py)
        "/class/{token}",
        "/class-feedback/thanks",
    }
)
PUBLIC_PREFIXES = ("/static",)


def _route_methods(app) -> list[tuple[str, str]]:
    """(method, path) of every HTTP route, including routers FastAPI includes lazily."""
    found: list[tuple[str, str]] = []

    def walk(routes) -> None:
        for route in routes:
            contexts = getattr(route, "effective_route_contexts", None)
            if contexts is not None:  # FastAPI >= 0.16x keeps included routers as one entry
                walk(list(contexts()))
                continue
            if hasattr(route, "routes") and not hasattr(route, "methods"):  # a Mount
                if not str(getattr(route, "path", "")).startswith(PUBLIC_PREFIXES):
                    walk(route.routes)
                continue
            for method in sorted(getattr(route, "methods", None) or ()):
                found.append((method, route.path))

    walk(app.routes)
    return found


def _login(client: TestClient, token: str = ORGANIZER_TOKEN, **kwargs):
    return client.post("/organizer/login", data={"token": token, "next": "/organizer"}, follow_redirects=False, **kwargs)


def _csrf_from(page_html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page_html)
    assert match, "the page carries a CSRF token"
    return match.group(1)


# --------------------------------------------------------------------------- every route is closed


def test_every_non_public_route_answers_401_without_credentials(client):
    """Walk app.routes: each method of each non-public route answers 401 without credentials."""
    checked = []
    for method, path in _route_methods(client.app):
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            continue
        url = re.sub(r"\{[^}]+\}", "T0001", path)
        response = client.request(method, url, follow_redirects=False)
        assert response.status_code == 401, (method, path, response.status_code, response.text[:200])
        checked.append((method, path))
    must_have = {("GET", "/api/suggestions"), ("POST", "/api/admin/retrain"), ("GET", "/organizer"),
                 ("POST", "/organizer/sessions"), ("GET", "/api/topics/{topic_id}/export")}
    assert must_have <= set(checked), must_have - set(checked)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic dGVzdC10b2tlbg=="},
     {"Authorization": "Bearer "}, {"Authorization": f"bearer  {ORGANIZER_TOKEN}x"}],
    ids=["no-header", "wrong-token", "basic-scheme", "empty-token", "token-prefix"],
)
def test_api_rejects_missing_or_wrong_credentials_with_the_json_error(client, headers):
    """No header, a wrong token, another scheme: 401 in the JSON error shape with WWW-Authenticate."""
    response = client.get("/api/topics", headers=headers)
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    message = response.json()["error"]["message"]  # one language: Chinese, the header's syntax as typed
    assert "组织者令牌" in message and not re.search(r"[a-z]+ [a-z]+", message.replace("Authorization: Bearer", ""))


def test_bearer_token_scheme_is_case_insensitive(client):
    """`bearer <token>` works like `Bearer <token>` (RFC 7235 schemes are case-insensitive)."""
    response = client.get("/api/admin/retrain", headers={"Authorization": f"bearer {ORGANIZER_TOKEN}"})
    assert response.status_code == 200


def test_dashboard_without_login_answers_401_with_the_login_form(client):
    """GET /organizer without a session: 401 HTML page with the token form that returns here."""
    response = client.get("/organizer?segment=网格员", follow_redirects=False)
    assert response.status_code == 401
    page = parse_html(response.text)
    form = page.find("form", action="/organizer/login")
    assert form is not None
    assert form.find("input", name="token", type="password") is not None
    assert unquote(form.find("input", name="next").get("value")) == "/organizer?segment=网格员"


def test_token_comes_from_the_data_folder_when_not_configured(tmp_path, service):
    """Without RECOMMENDER_ORGANIZER_TOKENS the token in <data_dir>/organizer_token is created and used."""
    settings = Settings(
        database_url=service.settings.database_url,
        data_dir=tmp_path / "data2",
        models_dir=tmp_path / "models2",
        organizer_tokens=None,
    )
    with TestClient(create_app(settings, service)) as client:
        assert client.get("/api/admin/retrain", headers={"Authorization": "Bearer x"}).status_code == 401
        token = (tmp_path / "data2" / "organizer_token").read_text().strip()
        assert len(token) >= 32
        ok = client.get("/api/admin/retrain", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        assert client.get("/api/admin/retrain", headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"}).status_code == 401


# --------------------------------------------------------------------------- login, cookie, logout


def test_login_sets_a_hardened_session_cookie_without_the_token(client):
    """POST /organizer/login: 303, cookie HttpOnly + SameSite=Strict + Path=/, token not in it."""
    response = _login(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/organizer"
    set_cookie = response.headers["set-cookie"]
    assert set_cookie.startswith(f"{SESSION_COOKIE}=")
    flags = [part.strip().lower() for part in set_cookie.split(";")]
    assert "httponly" in flags
    assert "samesite=strict" in flags
    assert "path=/" in flags
    assert f"max-age={SESSION_MAX_AGE}" in flags
    assert "secure" not in flags  # plain http in this test
    assert ORGANIZER_TOKEN not in set_cookie
    page = client.get("/organizer")
    assert page.status_code == 200
    assert parse_html(page.text).find("h1").text == "下一节课讲什么？"


def test_login_over_https_marks_the_cookie_secure(settings, service):
    """Behind https the session cookie also carries Secure."""
    with TestClient(create_app(settings, service), base_url="https://testserver") as client:
        response = _login(client)
    assert response.status_code == 303
    assert "secure" in [p.strip().lower() for p in response.headers["set-cookie"].split(";")]


def test_wrong_token_login_answers_401_and_sets_no_cookie(client, caplog):
    """A wrong token: the login page again with an error, 401, no cookie, and the token never logged."""
    with caplog.at_level("DEBUG"):
        response = _login(client, token="guessed-token-123")
    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    assert "令牌不正确" in response.text
    assert "guessed-token-123" not in caplog.text
    assert "guessed-token-123" not in response.text


def test_login_never_redirects_off_site(client):
    """`next` pointing elsewhere (another host, //host, a non-dashboard path) lands on /organizer."""
    for target in ("https://evil.example/", "//evil.example/organizer", "/api/topics", "/organizer/login"):
        response = client.post("/organizer/login", data={"token": ORGANIZER_TOKEN, "next": target}, follow_redirects=False)
        assert response.headers["location"] == "/organizer", target


def test_login_from_another_site_is_refused(client):
    """A login form posted from another origin (login CSRF) answers 403."""
    response = _login(client, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403


def test_session_cookie_also_opens_the_api_and_exports(client):
    """The dashboard session works for GET /api/* (so export links work when clicked)."""
    _login(client)
    assert client.get("/api/admin/retrain").status_code == 200


def test_logout_clears_the_cookie_and_needs_csrf(client):
    """POST /organizer/logout with the page's CSRF token ends the session; without it, 403."""
    _login(client)
    assert client.post("/organizer/logout", data={}, follow_redirects=False).status_code == 403
    csrf = _csrf_from(client.get("/organizer").text)
    response = client.post("/organizer/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/organizer/login?out=1"
    assert 'max-age=0' in response.headers["set-cookie"].lower() or "expires=" in response.headers["set-cookie"].lower()
    assert client.get("/organizer", follow_redirects=False).status_code == 401


# --------------------------------------------------------------------------- CSRF


def test_dashboard_post_without_valid_csrf_token_is_403(client):
    """A dashboard form without, or with a wrong, CSRF token is refused with 403."""
    _login(client)
    form = {"topic_id": "T0001", "title": "消防", "date": "2026-05-01", "status": "held"}
    assert client.post("/organizer/sessions", data=form, follow_redirects=False).status_code == 403
    bad = client.post("/organizer/sessions", data={**form, "csrf_token": "x" * 43}, follow_redirects=False)
    assert bad.status_code == 403
    assert_error(bad, 403)


def test_dashboard_post_from_another_origin_is_403_even_with_the_token(client):
    """A valid CSRF token does not help a request whose Origin (or Referer) is another site."""
    _login(client)
    csrf = _csrf_from(client.get("/organizer").text)
    form = {"csrf_token": csrf, "topic_id": "T0001", "title": "消防", "date": "2026-05-01", "status": "held"}
    assert client.post("/organizer/sessions", data=form, headers={"Origin": "https://evil.example"},
                       follow_redirects=False).status_code == 403
    assert client.post("/organizer/sessions", data=form, headers={"Origin": "null"},
                       follow_redirects=False).status_code == 403
    assert client.post("/organizer/sessions", data=form, headers={"Referer": "https://evil.example/x"},
                       follow_redirects=False).status_code == 403
    same = client.post("/organizer/sessions", data=form, headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert same.status_code == 303  # accepted (the unknown topic comes back as a flash message)


def test_csrf_token_of_one_session_does_not_fit_another(client, settings, service):
    """The CSRF token is bound to the session it was issued for."""
    _login(client)
    csrf = _csrf_from(client.get("/organizer").text)
    with TestClient(create_app(settings, service)) as other:
        _login(other)
        response = other.post("/organizer/sessions", data={"csrf_token": csrf, "topic_id": "T0001", "title": "x",
                                                            "date": "2026-05-01", "status": "held"}, follow_redirects=False)
    assert response.status_code == 403


def test_cookie_authenticated_api_writes_need_the_csrf_header(client):
    """A cookie-authenticated POST to /api/* needs X-CSRF-Token; with the token it goes through."""
    _login(client)
    csrf = _csrf_from(client.get("/organizer").text)
    body = {"topic_id": "T0001", "title": "消防", "date": "2026-05-01", "status": "held"}
    assert_error(client.post("/api/sessions", json=body), 403, "forbidden")
    accepted = client.post("/api/sessions", json=body, headers={CSRF_HEADER: csrf})
    assert accepted.status_code == 404  # past auth and CSRF; the topic is unknown without a model


# --------------------------------------------------------------------------- the signer itself


def _auth(tmp_path: Path, tokens: str = "a-token-0123456789,b-token-0123456789", clock=lambda: 1_000_000.0) -> OrganizerAuth:
    return OrganizerAuth(Settings(organizer_tokens=tokens, data_dir=tmp_path), clock=clock)


def test_session_values_expire_and_resist_tampering(tmp_path):
    """A session is valid until SESSION_MAX_AGE; any change to it, or a future date, invalidates it."""
    now = [1_000_000.0]
    auth = _auth(tmp_path, clock=lambda: now[0])
    value = auth.new_session("a-token-0123456789")
    assert auth.session_valid(value)
    assert "a-token-0123456789" not in value
    issued, nonce, fp, sig = value.split(".")
    assert not auth.session_valid(f"{int(issued) + 100}.{nonce}.{fp}.{sig}")
    assert not auth.session_valid(value[:-1] + ("A" if value[-1] != "A" else "B"))
    assert not auth.session_valid("")
    assert not auth.session_valid("garbage")
    now[0] += SESSION_MAX_AGE - 1
    assert auth.session_valid(value)
    now[0] += 1
    assert not auth.session_valid(value)


def test_removing_a_token_ends_its_sessions(tmp_path):
    """Sessions remember (a fingerprint of) their token: drop the token and they stop working."""
    auth = _auth(tmp_path)
    value = auth.new_session("b-token-0123456789")
    assert auth.session_valid(value)
    reconfigured = _auth(tmp_path, tokens="a-token-0123456789")  # same session_secret file
    assert not reconfigured.session_valid(value)
    assert reconfigured.session_valid(reconfigured.new_session("a-token-0123456789"))


def test_session_secret_is_shared_through_the_data_folder(tmp_path):
    """Two workers (two OrganizerAuth on one data folder) accept each other's sessions."""
    first, second = _auth(tmp_path), _auth(tmp_path)
    assert second.session_valid(first.new_session("a-token-0123456789"))
    assert (tmp_path / "session_secret").stat().st_mode & 0o777 == 0o600


def test_signed_values_round_trip_and_reject_other_purposes(tmp_path):
    """sign/unsign (flash messages) round-trips Chinese text and refuses another purpose or a change."""
    auth = _auth(tmp_path)
    signed = auth.sign("flash", "已记录课程“消防”")
    assert auth.unsign("flash", signed) == "已记录课程“消防”"
    assert auth.unsign("other", signed) is None
    assert auth.unsign("flash", "x" + signed) is None


def test_organizer_pages_are_not_cached_or_framed(client):
    """Login and dashboard pages: no-store, and no framing by other sites (clickjacking)."""
    _login(client)
    for path in ("/organizer/login", "/organizer"):
        response = client.get(path)
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


# --------------------------------------------------------------------------- guessing and limits


def _limited_client(settings, service, limit: str = "10/minute", address: str = "203.0.113.7") -> TestClient:
    limited = settings.model_copy(update={"auth_failure_limit": limit})
    return TestClient(create_app(limited, service), client=(address, 50000))


def test_wrong_bearer_tokens_are_rate_limited_per_client(settings, service):
    """400 wrong tokens in a row: the first 10 answer 401, the rest 429 with Retry-After — and then
    even the right token gets 429 from that client (no oracle), while another client is unaffected."""
    with _limited_client(settings, service) as client:
        statuses = [
            client.get("/api/topics", headers={"Authorization": f"Bearer guess-{i:020d}"}).status_code
            for i in range(400)
        ]
        assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}
        locked = client.get("/api/topics", headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"})
        assert_error(locked, 429, "too_many_failures")
        assert 1 <= int(locked.headers["retry-after"]) <= 60
    app = create_app(settings.model_copy(update={"auth_failure_limit": "10/minute"}), service)
    with TestClient(app, client=("203.0.113.8", 50000)) as other:
        assert other.get("/api/topics", headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"}).status_code != 429


def test_requests_without_credentials_are_not_failures(settings, service):
    """A missing token is no guess: many anonymous requests stay 401, never 429."""
    with _limited_client(settings, service, limit="3/minute") as client:
        assert {client.get("/api/topics").status_code for _ in range(20)} == {401}


def test_failed_dashboard_logins_are_rate_limited(settings, service):
    """Failed logins count like wrong bearer tokens: after the limit the login page answers 429."""
    with _limited_client(settings, service, limit="5/minute") as client:
        statuses = [_login(client, token=f"guess-{i:020d}").status_code for i in range(8)]
        assert statuses == [401] * 5 + [429] * 3
        page = assert_error(_login(client), 429)  # the right token too, while locked out
        assert "秒后再试" in page.find("main").text


@pytest.mark.parametrize("tokens", ["short-token", f"{'a' * 20},tiny", "王老师:abc123"])
def test_short_organizer_tokens_are_refused_at_start_up(settings, service, tokens):
    """Tokens shorter than 16 characters: the app is not built (the error names the rule, not the token)."""
    with pytest.raises(ValueError, match="至少 16 个字符") as info:
        create_app(settings.model_copy(update={"organizer_tokens": tokens}), service)
    assert "abc123" not in str(info.value) and "tiny" not in str(info.value)


def test_serve_refuses_a_short_token_before_listening(settings, monkeypatch, capsys):
    """`recommender serve` with a short token exits 1 with a message and never starts uvicorn."""
    import uvicorn

    from recommender import cli

    monkeypatch.setenv("RECOMMENDER_ORGANIZER_TOKENS", "short-token")
    monkeypatch.setenv("RECOMMENDER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RECOMMENDER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("uvicorn started"))
    assert cli.main(["serve"]) == 1
    err = capsys.readouterr().err
    assert "组织者令牌太短（至少 16 个字符）：第 1 个只有 11 个字符。" in err and "short-token" not in err
    assert not re.search(r"[A-Za-z]+ [A-Za-z]+", err.split("生成：")[0])  # one language before the command


def test_a_short_token_file_opens_nothing(settings, service, caplog):
    """A hand-edited organizer_token file with a short token: logged, and no token opens the API."""
    unset = settings.model_copy(update={"organizer_tokens": None})
    path = Path(unset.data_dir) / "organizer_token"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("tiny-token\n", encoding="utf-8")
    with TestClient(create_app(unset, service)) as client:
        assert client.get("/api/topics", headers={"Authorization": "Bearer tiny-token"}).status_code == 401
    assert "shorter than 16" in caplog.text and "tiny-token" not in caplog.text
