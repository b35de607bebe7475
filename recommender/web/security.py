"""Security headers on every response (pure ASGI middleware).

Every answer — pages, JSON, static files, errors, 413 and 429 from the other middleware —
carries:

- ``Content-Security-Policy``: ``default-src 'self'; script-src 'self' 'nonce-<n>';
  style-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none';
  form-action 'self'; base-uri 'none'``. The nonce is fresh per request (18 bytes of the
  OS random source, pooled: :func:`recommender.crypto.random_bytes`) and reaches the
  templates as ``request.state.csp_nonce``: the only way an inline ``<script>`` can run.
  No template has inline scripts or ``style`` attributes (the charts use SVG presentation
  attributes), so ``style-src 'self'`` needs no ``'unsafe-inline'``.
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` (no referrer ever
  leaves the site; ``no-referrer`` would be stricter but makes browsers send ``Origin: null``
  on our own form posts, which the CSRF origin check must refuse),
  ``X-Frame-Options: DENY``, ``Cross-Origin-Opener-Policy: same-origin``.

``/docs`` (Swagger UI) loads its script and CSS from this site (``/static/swagger-ui/``, the
installed ``swagger-ui-bundle`` package: no CDN, works offline) and starts with an inline
script FastAPI writes; that page alone gets a policy allowing that inline script
(``DOCS_CSP``). It shows no user data. ``/redoc`` is switched off.

Headers the application set itself with these names are replaced, so there is one policy.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recommender.crypto import token_urlsafe

DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self'; "
    "img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'"
)
_REPLACED = frozenset(
    {
        b"content-security-policy",
        b"x-content-type-options",
        b"referrer-policy",
        b"x-frame-options",
        b"cross-origin-opener-policy",
    }
)


def page_csp(nonce: str) -> str:
    """The policy of every page but /docs."""
    return (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    )


class SecurityHeaders:
    """Adds the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = token_urlsafe(18)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        policy = DOCS_CSP if scope["path"] in DOCS_PATHS else page_csp(nonce)
        extra = [
            (b"content-security-policy", policy.encode("latin-1")),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in _REPLACED]
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)
