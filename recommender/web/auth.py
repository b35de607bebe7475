"""Organizer authentication: bearer tokens, the dashboard's session cookie, CSRF protection.

Tokens
    ``settings.organizer_token_list`` (``RECOMMENDER_ORGANIZER_TOKENS``); when that is empty,
    the one token in ``<data_dir>/organizer_token`` (written by ``serve``; created here on
    first use otherwise). Presented tokens are compared in constant time against every
    valid one and are never logged.

Session cookie (``organizer_session``; HttpOnly, SameSite=Strict, Path=/, Secure on https)
    ``<issued_at>.<nonce>.<token_fp>.<sig>``: ``token_fp`` is a keyed fingerprint of the
    token used to log in (so removing a token from the configuration ends its sessions, and
    the cookie reveals nothing about the token) and ``sig`` an HMAC-SHA256 over the rest with
    the server secret in ``<data_dir>/session_secret`` (shared by every worker). A session
    expires ``SESSION_MAX_AGE`` seconds after login. The cookie is stateless: logging out
    deletes it in the browser; a copied cookie stays valid until it expires (rotate
    ``session_secret`` to end every session at once).

CSRF
    Every state-changing dashboard form carries ``csrf_token`` = HMAC(secret, "csrf|" +
    session cookie), checked in constant time, and the request's ``Origin`` (or, without
    one, ``Referer``) must name this host when the browser sends it. A cookie-authenticated
    unsafe request to ``/api/*`` needs the same token in an ``X-CSRF-Token`` header. Bearer
    requests need neither: browsers never attach that header on their own. The login form
    itself is checked for the origin only (there is no session yet).

Unauthenticated requests: ``/api/*`` answers 401 in the JSON error shape (from
:func:`require_organizer`); dashboard pages answer 401 with the login form (see
``recommender.web.dashboard``), not a redirect, so "every organizer route answers 401" holds
for browsers and scripts alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from recommender.config import Settings
from recommender.crypto import load_or_create_secret, tokens_match

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "SESSION_MAX_AGE",
    "Organizer",
    "OrganizerAuth",
    "get_auth",
    "optional_organizer",
    "require_organizer",
    "same_origin",
]

SESSION_COOKIE = "organizer_session"
SESSION_MAX_AGE = 8 * 3600  # one working day
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CLOCK_SKEW = 60  # seconds a cookie may claim to be from the future (several workers, one clock)
_SESSION_PREFIX = "organizer-session.v1"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Organizer:
    """Who passed the check: ``via`` is "bearer" or "session" (then ``session`` is the cookie)."""

    via: str
    session: str | None = None


class OrganizerAuth:
    """Tokens, session signing and CSRF tokens for one app (secrets read lazily, once)."""

    def __init__(self, settings: Settings, *, clock=time.time) -> None:
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: list[str] | None = None
        self._secret: bytes | None = None

    # ------------------------------------------------------------------ secrets
    @property
    def tokens(self) -> list[str]:
        if self._tokens is None:
            with self._lock:
                if self._tokens is None:
                    configured = self.settings.organizer_token_list
                    if configured:
                        self._tokens = configured
                    else:
                        token, _ = load_or_create_secret(Path(self.settings.data_dir) / "organizer_token")
                        self._tokens = [token] if token else []
        return self._tokens

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            with self._lock:
                if self._secret is None:
                    value, _ = load_or_create_secret(Path(self.settings.data_dir) / "session_secret")
                    self._secret = value.encode("utf-8")
        return self._secret

    def _mac(self, message: str) -> str:
        return _b64(hmac.new(self.secret, message.encode("utf-8"), hashlib.sha256).digest())

    # ------------------------------------------------------------------ tokens
    def token_valid(self, candidate: str) -> bool:
        """Constant-time check of a presented token (empty never matches)."""
        valid = self.tokens
        return bool(candidate) and bool(valid) and tokens_match(candidate, valid)

    def _fingerprint(self, token: str) -> str:
        return self._mac("token|" + token)[:22]

    # ------------------------------------------------------------------ sessions
    def new_session(self, token: str) -> str:
        """A signed session value for someone who just logged in with ``token`` (already checked)."""
        issued = int(self._clock())
        nonce = secrets.token_urlsafe(12)
        body = f"{issued}.{nonce}.{self._fingerprint(token)}"
        return f"{body}.{self._mac(_SESSION_PREFIX + '|' + body)}"

    def session_valid(self, value: str | None) -> bool:
        if not value or len(value) > 256:
            return False
        body, _, sig = value.rpartition(".")
        parts = body.split(".")
        if len(parts) != 3 or not sig:
            return False
        if not hmac.compare_digest(sig.encode(), self._mac(_SESSION_PREFIX + "|" + body).encode()):
            return False
        issued_s, _nonce, token_fp = parts
        try:
            issued = int(issued_s)
        except ValueError:
            return False
        age = self._clock() - issued
        if age < -_CLOCK_SKEW or age >= SESSION_MAX_AGE:
            return False
        # The token used to log in must still be configured.
        return tokens_match(token_fp, [self._fingerprint(t) for t in self.tokens])

    # ------------------------------------------------------------------ CSRF
    def csrf_token(self, session: str) -> str:
        return self._mac("csrf|" + session)

    def csrf_valid(self, session: str | None, candidate: str | None) -> bool:
        if not session or not candidate:
            return False
        return hmac.compare_digest(candidate.encode("utf-8", "replace"), self.csrf_token(session).encode())

    # ------------------------------------------------------------------ other signed values
    def sign(self, purpose: str, value: str) -> str:
        """``value`` with an HMAC for ``purpose`` (flash messages): ``<b64 value>.<sig>``."""
        body = _b64(value.encode("utf-8"))
        return f"{body}.{self._mac(purpose + '|' + body)}"

    def unsign(self, purpose: str, signed: str | None) -> str | None:
        if not signed or len(signed) > 4096:
            return None
        body, _, sig = signed.rpartition(".")
        if not body or not hmac.compare_digest(sig.encode(), self._mac(purpose + "|" + body).encode()):
            return None
        try:
            return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
        except ValueError:
            return None

    # ------------------------------------------------------------------ cookies
    def set_session_cookie(self, request: Request, response: Response, session: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            session,
            max_age=SESSION_MAX_AGE,
            path="/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    def clear_session_cookie(self, request: Request, response: Response) -> None:
        response.delete_cookie(
            SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https"
        )


def get_auth(request: Request) -> OrganizerAuth:
    """The app's :class:`OrganizerAuth` (made by ``create_app``)."""
    return request.app.state.organizer_auth


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site (Origin, else Referer)."""
    host = (request.headers.get("host") or "").lower()
    origin = request.headers.get("origin")
    if origin is not None:
        if origin == "null":  # sandboxed frames, data: URLs, some cross-site redirects
            return False
        return urlsplit(origin).netloc.lower() == host
    referer = request.headers.get("referer")
    if referer:
        return urlsplit(referer).netloc.lower() == host
    return True  # neither sent (privacy settings): the CSRF token still has to match


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "Bearer"})


def optional_organizer(request: Request) -> Organizer | None:
    """The organizer behind this request, or None. Raises 401 for a wrong bearer token.

    Checks the credentials only; CSRF for cookie-authenticated unsafe requests is the
    caller's job (:func:`require_organizer` for the API, the dashboard's form check)."""
    auth = get_auth(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, credentials = header.strip().partition(" ")
        if scheme.lower() == "bearer" and auth.token_valid(credentials.strip()):
            return Organizer("bearer")
        raise _unauthorized("组织者令牌无效 (invalid bearer token)")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and auth.session_valid(cookie):
        return Organizer("session", cookie)
    return None


# Declares the bearer scheme in OpenAPI (the "Authorize" button of /docs); the header itself is
# checked below, so a wrong scheme gets the same 401 as a wrong token.
_bearer_scheme = HTTPBearer(auto_error=False, description="The organizer token (RECOMMENDER_ORGANIZER_TOKENS).")


async def require_organizer(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)] = None,
) -> Organizer:
    """FastAPI dependency of every organizer API route: a bearer token or a dashboard session.

    401 (JSON error shape under ``/api``) without valid credentials; 403 for a
    cookie-authenticated unsafe request without a matching ``X-CSRF-Token`` or from another
    origin. Async (pure CPU: a constant-time compare or an HMAC), so it costs no hop to the
    thread pool."""
    who = optional_organizer(request)
    if who is None:
        raise _unauthorized("需要组织者令牌：Authorization: Bearer <token> (organizer token required)")
    if who.via == "session" and request.method not in SAFE_METHODS:
        auth = get_auth(request)
        if not (same_origin(request) and auth.csrf_valid(who.session, request.headers.get(CSRF_HEADER))):
            raise HTTPException(status_code=403, detail="缺少有效的 CSRF 令牌，或请求来自其他网站")
    return who
