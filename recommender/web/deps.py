"""The FastAPI dependencies every router shares: the app's objects, organizer authentication
and the CSRF checks.

The app's objects (settings, service, auth, retrain runner) are made once by ``create_app``
and read from ``app.state``. Dependencies that only read request state are async: a sync one
costs a hop to the thread pool on every request (measured: four hops halved
``GET /api/suggestions``).

Organizer checks:

- API routes (``/api/*``) depend on :func:`require_organizer`: a bearer token or the
  dashboard's session; 401 without, 403 for a cookie-authenticated unsafe request without a
  matching ``X-CSRF-Token`` or from another origin.
- Dashboard pages depend on :func:`dashboard_organizer`, which raises :class:`LoginRequired`
  (answered with the login form and 401, see ``recommender.web.dashboard``), and dashboard
  forms on :func:`dashboard_form`, which also checks the form's CSRF token and origin (403).
- Wrong bearer tokens and failed logins count per client (:func:`checked_organizer`,
  :class:`recommender.web.ratelimit.FailureLimiter`): over ``auth_failure_limit`` every
  organizer request of that client answers 429 until the window frees.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import FormData

from recommender.config import Settings
from recommender.logs import one_line
from recommender.retrain.runner import RetrainRunner
from recommender.service import RecommenderService
from recommender.web.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    Organizer,
    OrganizerAuth,
    optional_organizer,
    same_origin,
    unauthorized,
)
from recommender.web.errors import HttpError
from recommender.web.forms import read_form
from recommender.web.ratelimit import FailureLimiter, client_address

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- the app's objects


async def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_service(request: Request) -> RecommenderService:
    """The process's RecommenderService (a dependency, so tests can override it)."""
    return request.app.state.service


async def get_auth(request: Request) -> OrganizerAuth:
    return request.app.state.organizer_auth


async def get_runner(request: Request) -> RetrainRunner:
    return request.app.state.retrain_runner


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
Service = Annotated[RecommenderService, Depends(get_service)]
Auth = Annotated[OrganizerAuth, Depends(get_auth)]
Runner = Annotated[RetrainRunner, Depends(get_runner)]


# --------------------------------------------------------------------------- failed authentication


def auth_client(request: Request) -> str:
    """The client whose failed authentications are counted (as the rate limiter sees it)."""
    return client_address(request.scope, list(request.app.state.settings.trusted_proxy_networks))


def refuse_if_locked_out(request: Request) -> None:
    """429 while this client is over ``auth_failure_limit`` (checked before any credential)."""
    limiter: FailureLimiter = request.app.state.auth_failures
    retry_after = limiter.blocked(auth_client(request))
    if retry_after is not None:
        raise HttpError(
            429,
            "too_many_failures",
            f"组织者令牌错误次数过多，请 {retry_after} 秒后再试。",
            headers={"Retry-After": str(retry_after)},
        )


def count_failure(request: Request) -> None:
    request.app.state.auth_failures.failed(auth_client(request))


def checked_organizer(request: Request, auth: OrganizerAuth) -> Organizer | None:
    """:func:`optional_organizer` behind the failed-authentication limit: 429 for a locked-out
    client, and a wrong bearer token (401) counts as a failure."""
    refuse_if_locked_out(request)
    try:
        return optional_organizer(auth, request)
    except HttpError as exc:
        if exc.status_code == 401:
            count_failure(request)
        raise


# --------------------------------------------------------------------------- the API

# Declares the bearer scheme in OpenAPI (the "Authorize" button of /docs); the header itself is
# checked below, so a wrong scheme gets the same 401 as a wrong token.
_bearer_scheme = HTTPBearer(auto_error=False, description="The organizer token (RECOMMENDER_ORGANIZER_TOKENS).")


async def require_organizer(
    request: Request,
    auth: Auth,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)] = None,
) -> Organizer:
    """Every organizer API route: a bearer token or a dashboard session (pure CPU: a
    constant-time compare or an HMAC, so async)."""
    who = checked_organizer(request, auth)
    if who is None:
        raise unauthorized("需要组织者令牌：请在请求头中加 Authorization: Bearer <令牌>")
    if who.via == "session" and request.method not in SAFE_METHODS:
        if not (same_origin(request) and auth.csrf_valid(who.session, request.headers.get(CSRF_HEADER))):
            raise HttpError(403, "forbidden", "缺少有效的 CSRF 令牌，或请求来自其他网站")
    return who


async def current_actor(auth: Auth, who: Annotated[Organizer, Depends(require_organizer)]) -> str:
    """The organizer's name for the audit log (see :meth:`OrganizerAuth.actor`)."""
    return auth.actor(who)


Actor = Annotated[str, Depends(current_actor)]


# --------------------------------------------------------------------------- the dashboard


class LoginRequired(Exception):
    """No organizer credentials on a dashboard page: answered with the login form (401)."""


async def dashboard_organizer(request: Request, auth: Auth) -> Organizer:
    who = checked_organizer(request, auth)
    if who is None:
        raise LoginRequired
    return who


DashboardOrganizer = Annotated[Organizer, Depends(dashboard_organizer)]


async def dashboard_form(request: Request, auth: Auth, who: DashboardOrganizer) -> FormData:
    """A dashboard form, checked: a session-authenticated form must carry its CSRF token and
    come from this site (403 otherwise); a browser never attaches a bearer header by itself."""
    form = await read_form(request)
    if who.via == "bearer":
        return form
    token = form.get(CSRF_FIELD)
    if not same_origin(request) or not auth.csrf_valid(who.session, token if isinstance(token, str) else None):
        log.warning("rejected a dashboard form without a valid CSRF token: %s", one_line(request.url.path))
        raise HttpError(403, "forbidden", "表单已过期或来自其他网站，请刷新页面后重试。")
    return form


DashboardForm = Annotated[FormData, Depends(dashboard_form)]


async def dashboard_actor(auth: Auth, who: DashboardOrganizer) -> str:
    return auth.actor(who)


DashboardActor = Annotated[str, Depends(dashboard_actor)]
