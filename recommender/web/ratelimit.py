"""Per-client rate limit on public feedback submission (pure ASGI, built on ``limits``).

Only ``POST /feedback`` and ``POST /api/feedback`` are limited: they are the anonymous
doors that write to the database. Every attempt counts, valid or not, so a script cannot
probe the validation rules for free. Above the limit the answer is 429 with
``Retry-After`` (seconds): the JSON error shape under ``/api/*``, the HTML error page for
the form.

The client is the direct peer (uvicorn runs with ``proxy_headers=False``). Only when the
peer is one of ``trusted_proxies`` is ``X-Forwarded-For`` read, from the right, skipping
trusted proxies, so a client cannot forge its address by sending the header itself.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Iterable

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from recommender.config import Network
from recommender.web.errors import error_response

log = logging.getLogger(__name__)

LIMITED = frozenset(
    {
        ("POST", "/feedback"),
        ("POST", "/api/feedback"),
        # Receipt look-ups: guessing a 50-bit code is hopeless, but nobody should hammer it.
        ("POST", "/withdraw/lookup"),
        ("POST", "/withdraw"),
        ("POST", "/api/withdraw/lookup"),
        ("POST", "/api/withdraw"),
    }
)
OFF = frozenset({"", "off", "none", "0", "false", "disabled"})



def parse_rate_limit(value: str | None) -> list[RateLimitItem]:
    """``"20/minute"`` → limits items; ``""``/``"off"`` → no limit; ``ValueError`` if unreadable."""
    text = (value or "").strip()
    if text.lower() in OFF:
        return []
    try:
        return list(parse_many(text))
    except ValueError as exc:
        raise ValueError(f"rate_limit={value!r} is not a rate like '20/minute' or 'off': {exc}") from None


def _is_trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(scope: Scope, trusted: list[Network]) -> str:
    """The address to count: the peer, or the first untrusted hop of X-Forwarded-For behind a trusted peer."""
    client = scope.get("client")
    peer = client[0] if client else "unknown"
    if not trusted or not _is_trusted(peer, trusted):
        return peer
    forwarded: list[str] = []
    for name, raw in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            forwarded.extend(h.strip() for h in raw.decode("latin-1").split(","))
    for hop in reversed([h for h in forwarded if h]):
        if not _is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage from behind the proxy: count it against the proxy's peer
    return peer


class RateLimit:
    """ASGI middleware: 429 + Retry-After when a client exceeds ``rate_limit`` on the feedback doors."""

    def __init__(
        self, app: ASGIApp, *, rate_limit: str, storage_uri: str = "memory://", trusted_proxies: Iterable[Network] = ()
    ) -> None:
        self.app = app
        self.items = parse_rate_limit(rate_limit)
        self.trusted = list(trusted_proxies)
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri)) if self.items else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.limiter is None or scope["type"] != "http" or (scope["method"], scope["path"]) not in LIMITED:
            await self.app(scope, receive, send)
            return
        key = client_address(scope, self.trusted)
        for item in self.items:
            if not self.limiter.hit(item, "feedback", key):
                reset_at, _remaining = self.limiter.get_window_stats(item, "feedback", key)
                retry_after = max(1, math.ceil(reset_at - time.time()))
                log.warning("rate limit %s exceeded by a client on %s; retry after %ss", item, scope["path"], retry_after)
                request = Request(scope, receive)
                response = error_response(
                    request,
                    429,
                    "rate_limited",
                    f"提交太频繁（上限 {item}），请 {retry_after} 秒后再试。",
                    headers={"Retry-After": str(retry_after)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
