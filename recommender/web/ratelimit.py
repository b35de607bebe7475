"""Per-client rate limits (pure ASGI and a helper, built on ``limits``).

Two buckets of anonymous doors, counted apart so that one does not starve the other:

- ``feedback``: ``POST /feedback`` and ``POST /api/feedback`` (``rate_limit``): they write to
  the database. Every attempt counts, valid or not, so a script cannot probe the validation
  rules for free.
- ``withdraw``: the receipt look-ups and withdrawals, pages and API (``withdraw_rate_limit``):
  someone who just sent twenty lines can still take one back at once.

Above a limit the answer is 429 with ``Retry-After`` (seconds): the JSON error shape under
``/api/*``, the HTML error page elsewhere.

Organizer authentication is limited too (:class:`FailureLimiter`, ``auth_failure_limit``):
wrong bearer tokens and failed dashboard logins count per client, and a client over the limit
gets 429 for every organizer request, right token or not, until the window frees. Only
failures count; a request without credentials is not a guess.

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
from recommender.logs import one_line
from recommender.web.errors import error_response

log = logging.getLogger(__name__)

#: (method, path) -> the bucket its requests count in.
LIMITED = {
    ("POST", "/feedback"): "feedback",
    ("POST", "/api/feedback"): "feedback",
    # Receipt look-ups: guessing a 50-bit code is hopeless, but nobody should hammer it.
    ("POST", "/withdraw/lookup"): "withdraw",
    ("POST", "/withdraw"): "withdraw",
    ("POST", "/api/withdraw/lookup"): "withdraw",
    ("POST", "/api/withdraw"): "withdraw",
}
#: (method, path prefix) -> bucket, for doors with a path parameter (a class's feedback link).
LIMITED_PREFIXES = (("POST", "/class/", "feedback"),)
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
    """ASGI middleware: 429 + Retry-After when a client exceeds its bucket's limit on the anonymous doors."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        rate_limit: str,
        withdraw_rate_limit: str = "off",
        storage_uri: str = "memory://",
        trusted_proxies: Iterable[Network] = (),
    ) -> None:
        self.app = app
        self.buckets = {
            "feedback": parse_rate_limit(rate_limit),
            "withdraw": parse_rate_limit(withdraw_rate_limit),
        }
        self.trusted = list(trusted_proxies)
        wanted = any(self.buckets.values())
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri)) if wanted else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        bucket = _bucket(scope.get("method"), scope.get("path", "")) if scope["type"] == "http" else None
        if self.limiter is None or bucket is None or not self.buckets[bucket]:
            await self.app(scope, receive, send)
            return
        key = client_address(scope, self.trusted)
        for item in self.buckets[bucket]:
            if not self.limiter.hit(item, bucket, key):
                retry_after = _retry_after(self.limiter, item, bucket, key)
                log.warning("rate limit %s exceeded by a client on %s; retry after %ss", item, one_line(scope["path"]), retry_after)
                message = (
                    f"提交太频繁（上限 {item}），请 {retry_after} 秒后再试。"
                    if bucket == "feedback"
                    else f"撤回操作太频繁（上限 {item}），请 {retry_after} 秒后再试。"
                )
                response = error_response(
                    Request(scope, receive), 429, "rate_limited", message, headers={"Retry-After": str(retry_after)}
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _bucket(method: str | None, path: str) -> str | None:
    bucket = LIMITED.get((method, path))
    if bucket is None:
        bucket = next((b for m, prefix, b in LIMITED_PREFIXES if m == method and path.startswith(prefix)), None)
    return bucket


def _retry_after(limiter: MovingWindowRateLimiter, item: RateLimitItem, *namespace: str) -> int:
    reset_at, _remaining = limiter.get_window_stats(item, *namespace)
    return max(1, math.ceil(reset_at - time.time()))


class FailureLimiter:
    """Failed organizer authentications per client (``auth_failure_limit``).

    ``blocked(client)`` is the number of seconds to wait when the client has used up its
    failures (None otherwise): checked *before* the credentials, so a locked-out client learns
    nothing from trying the right token. ``failed(client)`` counts one failure."""

    NAMESPACE = "auth-failure"

    def __init__(self, limit: str, storage_uri: str = "memory://") -> None:
        self.items = parse_rate_limit(limit)
        self.limiter = MovingWindowRateLimiter(storage_from_string(storage_uri)) if self.items else None

    def blocked(self, client: str) -> int | None:
        if self.limiter is None:
            return None
        for item in self.items:
            if not self.limiter.test(item, self.NAMESPACE, client):
                return _retry_after(self.limiter, item, self.NAMESPACE, client)
        return None

    def failed(self, client: str) -> None:
        if self.limiter is None:
            return
        for item in self.items:
            self.limiter.hit(item, self.NAMESPACE, client)
        if self.blocked(client) is not None:
            log.warning("organizer authentication failures over the limit (%s) from a client; it now gets 429",
                        ", ".join(str(i) for i in self.items))
