"""Organizer authentication: bearer tokens, the dashboard's session cookie, CSRF protection.

Tokens
    ``settings.organizer_token_list`` (``RECOMMENDER_ORGANIZER_TOKENS``); when that is empty,
    the one token in ``<data_dir>/organizer_token`` (written by ``serve``; created here on
    first use otherwise). Presented tokens are compared in constant time against every
    valid one and are never logged. A token shorter than ``MIN_TOKEN_LENGTH`` (16) is refused:
    configured ones when the app is built (``ValueError``, so the service does not start), a
    hand-edited token file when it is read (logged; it then opens nothing).

Session cookie (``organizer_session``; HttpOnly, SameSite=Strict, Path=/, Secure on https)
    ``<issued_at>.<nonce>.<token_fp>.<sig>``: ``token_fp`` is a keyed fingerprint of the
    token used to log in (so removing a token from the configuration ends its sessions, and
    the cookie reveals nothing about the token) and ``sig`` an itsdangerous signature
    (HMAC-SHA384) over the rest with the server secret in ``<data_dir>/session_secret``
    (shared by every worker). A session
    expires ``SESSION_MAX_AGE`` seconds after login. The cookie is stateless: logging out
    deletes it in the browser; a copied cookie stays valid until it expires (rotate
    ``session_secret`` to end every session at once).

CSRF
    Every state-changing dashboard form carries ``csrf_token``, a signature of the session
    cookie (salt "csrf"), checked in constant time, and the request's ``Origin`` (or, without
    one, ``Referer``) must name this host when the browser sends it. A cookie-authenticated
    unsafe request to ``/api/*`` needs the same token in an ``X-CSRF-Token`` header. Bearer
    requests need neither: browsers never attach that header on their own. The login form
    itself is checked for the origin only (there is no session yet).

The FastAPI dependencies built on this (``require_organizer`` for the API, the dashboard's
login and form checks) are in :mod:`recommender.web.deps`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import Response
from itsdangerous import BadSignature, Signer

from recommender.config import Settings, short_token_message, short_token_problems
from recommender.crypto import load_or_create_secret, tokens_match
from recommender.web.errors import HttpError

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "SESSION_MAX_AGE",
    "Organizer",
    "OrganizerAuth",
    "optional_organizer",
    "same_origin",
    "unauthorized",
]

log = logging.getLogger(__name__)

SESSION_COOKIE = "organizer_session"
SESSION_MAX_AGE = 8 * 3600  # one working day
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CLOCK_SKEW = 60  # seconds a cookie may claim to be from the future (several workers, one clock)
_SESSION_SALT = "organizer-session.v1"
_FINGERPRINT_CHARS = 22


@dataclass(frozen=True)
class Organizer:
    """Who passed the check: ``via`` is "bearer" (then ``token`` is the one presented) or
    "session" (then ``session`` is the cookie)."""

    via: str
    session: str | None = None
    token: str | None = None


class OrganizerAuth:
    """Tokens, session signing and CSRF tokens for one app (secrets read lazily, once)."""

    def __init__(self, settings: Settings, *, clock=time.time) -> None:
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: list[str] | None = None
        self._secret: bytes | None = None
        refused = short_token_message(settings.organizer_token_list)
        if refused:
            raise ValueError(refused)

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
                        path = Path(self.settings.data_dir) / "organizer_token"
                        token, _ = load_or_create_secret(path)
                        if token and short_token_problems([token]):
                            log.error("refusing the organizer token in %s: it is shorter than 16 characters", path)
                            token = ""
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

    def _signer(self, salt: str) -> Signer:
        # SHA-384: its 48-byte digest is exactly 64 base64 characters with no spare bits, so
        # every change to a signature's text changes the signature (no second spelling).
        return Signer(self.secret, salt=salt, sep=".", key_derivation="hmac", digest_method=hashlib.sha384)

    def _signature(self, salt: str, value: str) -> str:
        return self._signer(salt).get_signature(value.encode("utf-8")).decode("ascii")

    def sign(self, purpose: str, value: str) -> str:
        """``value`` with its signature, for a cookie of that purpose (e.g. a class answer)."""
        return self._signer(purpose).sign(value.encode("utf-8")).decode("ascii")

    def unsign(self, purpose: str, signed: str | None) -> str | None:
        """The value of a :meth:`sign`-ed text of that purpose; None if missing or forged."""
        if not signed or len(signed) > 256:
            return None
        try:
            return self._signer(purpose).unsign(signed.encode("utf-8")).decode("utf-8")
        except (BadSignature, UnicodeError):
            return None

    # ------------------------------------------------------------------ tokens
    def token_valid(self, candidate: str) -> bool:
        """Constant-time check of a presented token (empty never matches)."""
        valid = self.tokens
        return bool(candidate) and bool(valid) and tokens_match(candidate, valid)

    def _fingerprint(self, token: str) -> str:
        return self._signature("token", token)[:_FINGERPRINT_CHARS]

    def token_of(self, who: Organizer) -> str | None:
        """The configured token behind a bearer request or a session (its login token)."""
        if who.via == "bearer":
            return who.token
        if who.session:
            fingerprint = who.session.rpartition(".")[0].split(".")[-1]
            for candidate in self.tokens:
                if hmac.compare_digest(self._fingerprint(candidate), fingerprint):
                    return candidate
        return None

    def actor(self, who: Organizer) -> str:
        """Who did it, for the audit log: the organizer's name from a ``name:token`` entry, else
        ``organizer-<first 4 hex of a keyed hash of the token>`` (the token itself is never written)."""
        token = self.token_of(who)
        if token is None:
            return "organizer"
        name = self.settings.organizer_token_names.get(token)
        if name:
            return name[:100]
        return "organizer-" + hmac.new(self.secret, ("actor|" + token).encode(), hashlib.sha256).hexdigest()[:4]

    # ------------------------------------------------------------------ sessions
    def new_session(self, token: str) -> str:
        """A signed session value for someone who just logged in with ``token`` (already checked)."""
        body = f"{int(self._clock())}.{secrets.token_urlsafe(12)}.{self._fingerprint(token)}"
        return self._signer(_SESSION_SALT).sign(body.encode("utf-8")).decode("ascii")

    def session_valid(self, value: str | None) -> bool:
        if not value or len(value) > 256:
            return False
        try:
            body = self._signer(_SESSION_SALT).unsign(value.encode("utf-8")).decode("utf-8")
        except (BadSignature, UnicodeError):
            return False
        parts = body.split(".")
        if len(parts) != 3:
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
        return self._signature("csrf", session)

    def csrf_of_request(self, request: Request) -> str:
        """The form token of the request's valid session, else "" (an error page's 退出登录:
        the page is no route with an organizer dependency, but the session is there)."""
        session = request.cookies.get(SESSION_COOKIE)
        return self.csrf_token(session) if self.session_valid(session) else ""

    def csrf_valid(self, session: str | None, candidate: str | None) -> bool:
        if not session or not candidate:
            return False
        return hmac.compare_digest(candidate.encode("utf-8", "replace"), self.csrf_token(session).encode())

    # ------------------------------------------------------------------ other signed values
    def sign(self, purpose: str, value: str) -> str:
        """``value`` signed for ``purpose`` (flash messages): ``<b64 value>.<sig>``."""
        body = base64.urlsafe_b64encode(value.encode("utf-8")).rstrip(b"=")
        return self._signer(purpose).sign(body).decode("ascii")

    def unsign(self, purpose: str, signed: str | None) -> str | None:
        if not signed or len(signed) > 4096:
            return None
        try:
            body = self._signer(purpose).unsign(signed.encode("utf-8"))
            return base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)).decode("utf-8")
        except (BadSignature, ValueError):
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


def unauthorized(message: str) -> HttpError:
    """401 with the ``WWW-Authenticate: Bearer`` challenge."""
    return HttpError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def optional_organizer(auth: OrganizerAuth, request: Request) -> Organizer | None:
    """The organizer behind this request, or None; 401 for a wrong bearer token. Checks the
    credentials only; CSRF is the dependencies' job (:mod:`recommender.web.deps`)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, credentials = header.strip().partition(" ")
        token = credentials.strip()
        if scheme.lower() == "bearer" and auth.token_valid(token):
            return Organizer("bearer", token=token)
        raise unauthorized("组织者令牌无效")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and auth.session_valid(cookie):
        return Organizer("session", cookie)
    return None
