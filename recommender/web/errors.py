"""One error shape: ``{"error": {"code", "message"}}`` for ``/api/*``, an HTML page elsewhere.

Every error is translated here, once: the domain's errors (:mod:`recommender.errors`), the
web layer's own :class:`HttpError` (its code and Chinese message), request validation, and
what the framework raises itself (404 for no route, 405, 400 for a body it cannot parse),
which is answered by its status alone.

Anything else is a bug, answered 500 by :class:`ServerErrors`, a pure ASGI middleware that
logs it once and does *not* re-raise. (Starlette's own handler for ``Exception`` answers and
then re-raises, and uvicorn then resets the connection: the next request a client sends on
that kept-alive connection failed with "Connection reset by peer".)

A 405 lists in ``Allow`` every method the path supports (Starlette names only those of the
first route that matched the path, e.g. ``GET`` for ``/withdraw``, which also takes ``POST``).
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recommender.logs import one_line
from recommender.errors import Conflict, NoModelError, NotFound, RetrainInProgress, ValidationFailed
from recommender.store import UNAVAILABLE_ERRORS, is_disk_full

log = logging.getLogger(__name__)

STATUS_MESSAGES = {
    400: "请求有误",
    401: "需要组织者登录",
    403: "没有权限",
    404: "页面不存在",
    405: "不支持这种请求方式",
    409: "操作冲突",
    413: "提交的内容太大",
    415: "不支持的内容类型",
    422: "提交的内容有误",
    429: "请求太频繁，请稍后再试",
    500: "服务器内部错误",
    503: "服务暂不可用",
}


#: The code and message of an error the framework raised, by status.
FRAMEWORK_ERRORS = {
    400: ("invalid_body", "请求体无法解析：请用 UTF-8 编码的 JSON 或表单提交"),
    401: ("unauthorized", STATUS_MESSAGES[401]),
    403: ("forbidden", STATUS_MESSAGES[403]),
    404: ("not_found", STATUS_MESSAGES[404]),
    405: ("method_not_allowed", STATUS_MESSAGES[405]),
}


#: pydantic error types → the code the domain's own validation uses for the same mistake.
VALIDATION_CODES = {"string_too_long": "too_long", "too_long": "too_long"}
VALIDATION_MESSAGES = {"too_long": "过长，请缩短后再提交"}


class HttpError(StarletteHTTPException):
    """An HTTP error the web layer answers with its own ``code`` and Chinese ``message``."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)
        self.code = code


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path in ("/healthz", "/readyz")


def error_response(
    request: Request, status: int, code: str, message: str, *, details: list | None = None, headers=None
):
    if wants_json(request):
        body: dict = {"error": {"code": code, "message": message}}
        if details:
            body["error"]["details"] = details
        return JSONResponse(body, status_code=status, headers=headers)
    templates = request.app.state.templates
    organizer = request.url.path == "/organizer" or request.url.path.startswith("/organizer/")
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "status": status,
            "title": STATUS_MESSAGES.get(status, "出错了"),
            "message": message,
            # An organizer's error page keeps the organizer navigation and leads back to the
            # dashboard; with a session, its 退出登录 too (the logout form needs the CSRF token).
            "organizer": organizer,
            "csrf_token": _logout_token(request) if organizer else "",
        },
        status_code=status,
        headers=headers,
    )


def _logout_token(request: Request) -> str:
    """The logout form's token for the request's organizer session ("" without one)."""
    auth = getattr(request.app.state, "organizer_auth", None)
    return auth.csrf_of_request(request) if auth is not None else ""


def _invalid_message(details: list[dict], fields: str) -> str:
    """What is wrong, in words: a missing or unknown field by name, a body that is no JSON
    object as such (not 「请求 的格式不对」), else each field with what it should be
    (「top 应不大于 50」, 「status 应为 planned、held、cancelled 之一」) where pydantic says so,
    「… 的格式不对」 otherwise."""
    kinds = {d["type"] for d in details}
    if not any(d["field"] for d in details):
        if "missing" in kinds:
            return "缺少请求体（JSON 对象）"
        return "请求体应为 JSON 对象" if kinds & _NOT_AN_OBJECT else "请求的格式不对"
    if kinds == {"missing"}:
        return f"缺少 {fields}"
    if kinds == {"extra_forbidden"}:
        return f"不接受的字段：{fields}"
    said = [f"{d['field']} {d['should']}" for d in details if d["field"] and d.get("should")]
    vague = sorted({d["field"] for d in details if d["field"] and not d.get("should")})
    if vague:
        said.append(f"{'、'.join(vague)} 的格式不对")
    return "；".join(dict.fromkeys(said))


#: What a value should be, by pydantic's error type (its ``ctx`` fills the braces).
_SHOULD = {
    "greater_than_equal": "应不小于 {ge}", "less_than_equal": "应不大于 {le}",
    "greater_than": "应大于 {gt}", "less_than": "应小于 {lt}",
    "int_parsing": "应为整数", "int_type": "应为整数", "int_from_float": "应为整数",
    "float_parsing": "应为数字", "float_type": "应为数字", "bool_parsing": "应为 true 或 false",
    "bool_type": "应为 true 或 false", "string_type": "应为文字", "list_type": "应为列表",
    "literal_error": "应为 {expected} 之一", "enum": "应为 {expected} 之一",
    "string_too_long": "过长（最多 {max_length} 个字符），请缩短后再提交", "too_long": "最多 {max_length} 项",
    "string_too_short": "至少 {min_length} 个字符", "too_short": "至少 {min_length} 项",
    "date_parsing": "应为日期 YYYY-MM-DD", "date_from_datetime_parsing": "应为日期 YYYY-MM-DD",
    "date_type": "应为日期 YYYY-MM-DD",
}


def _should(err: dict) -> str | None:
    """What the value should be, in Chinese, or None when pydantic's type is not one we word."""
    template = _SHOULD.get(err.get("type", ""))
    if template is None:
        return None
    ctx = {k: str(v) for k, v in (err.get("ctx") or {}).items()}
    if "expected" in ctx:  # "'planned', 'held' or 'cancelled'" → planned、held、cancelled
        ctx["expected"] = "、".join(re.findall(r"'([^']*)'", ctx["expected"])) or ctx["expected"]
    try:
        return template.format(**ctx)
    except (KeyError, IndexError):
        return None


#: Pydantic's error types for a body that is not a JSON object (a list, a string, null).
_NOT_AN_OBJECT = frozenset({"model_attributes_type", "dict_type", "model_type"})


def _public(details: list[dict]) -> list[dict]:
    """The details as the API answers them: field, pydantic's message and type."""
    return [{k: d[k] for k in ("field", "message", "type")} for d in details]


def _validation_details(exc: RequestValidationError) -> list[dict]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        out.append({"field": ".".join(loc) or None, "message": err.get("msg", ""), "type": err.get("type", ""),
                    "should": _should(err)})
    return out


#: Methods a route of this app may answer (probed for ``Allow``).
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app fully matches on this request's path (for ``Allow``).
    Probed through each route's public ``matches`` (included routers are nested, not flat)."""
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if isinstance(exc, HttpError):
            code, message = exc.code, exc.detail
        else:  # raised by the framework, in English: answered by its status
            code, message = FRAMEWORK_ERRORS.get(
                exc.status_code, (f"http_{exc.status_code}", STATUS_MESSAGES.get(exc.status_code, "出错了"))
            )
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            allowed = allowed_methods(request)
            if allowed:
                headers["Allow"] = ", ".join(allowed)
        return error_response(request, exc.status_code, code, message, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError):
        details = _validation_details(exc)
        if any(d["type"] == "json_invalid" for d in details):
            return error_response(request, 422, "invalid_json", "请求体不是有效的 JSON", details=_public(details))
        fields = "、".join(sorted({d["field"] for d in details if d["field"]})) or "请求"
        codes = {VALIDATION_CODES.get(d["type"]) for d in details}
        if len(codes) == 1 and None not in codes:  # one kind of mistake: the code the service would give
            code = codes.pop()
            message = _invalid_message(details, fields) if all(d.get("should") for d in details) else None
            details = _public(details)
            return error_response(request, 422, code, message or f"{fields} {VALIDATION_MESSAGES[code]}", details=details)
        message = _invalid_message(details, fields)
        return error_response(request, 422, "invalid_request", message, details=_public(details))

    @app.exception_handler(ValidationFailed)
    async def feedback_invalid(request: Request, exc: ValidationFailed):
        details = [{"field": exc.field, "message": exc.message, "type": exc.code}]
        return error_response(request, 422, exc.code, exc.message, details=details)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound):
        return error_response(request, 404, "not_found", str(exc))

    @app.exception_handler(NoModelError)
    async def no_model(request: Request, exc: NoModelError):
        return error_response(request, 503, "no_model", str(exc))

    @app.exception_handler(Conflict)
    async def conflict(request: Request, exc: Conflict):
        return error_response(request, 409, exc.code, exc.message)

    @app.exception_handler(RetrainInProgress)
    async def retrain_busy(request: Request, exc: RetrainInProgress):
        return error_response(request, 409, "retrain_in_progress", str(exc))

    async def store_unavailable(request: Request, exc: Exception):
        # The database is locked past the busy timeout or unreachable: a passing condition,
        # so say "try again" (503 + Retry-After) rather than 500. Nothing was half-stored:
        # every write is one transaction. A full disk is said as such: waiting will not help.
        if is_disk_full(exc):
            log.error("database write failed on %s %s: the disk is full", request.method, one_line(request.url.path))
            return error_response(request, 503, "disk_full", DISK_FULL_MESSAGE, headers={"Retry-After": "60"})
        log.warning("database unavailable on %s %s: %s", request.method, one_line(request.url.path), type(exc).__name__)
        return error_response(
            request, 503, "store_unavailable", "数据库暂时繁忙，请稍后再试", headers={"Retry-After": "2"}
        )

    for error in UNAVAILABLE_ERRORS:  # the store's own and its driver's (the web imports no SQL)
        app.add_exception_handler(error, store_unavailable)


DISK_FULL_MESSAGE = "服务器磁盘已满，暂时无法保存。请稍后再试，并请管理员清理磁盘空间。"


class ServerErrors:
    """Pure ASGI: an exception no handler translated is logged once and answered 500 in the
    error shape, without re-raising, so the connection stays usable (see the module docs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), one_line(str(scope.get("path"))))
            if started:  # half an answer is out: nothing to add (the server closes the connection)
                return
            response = error_response(Request(scope, receive), 500, "internal_error", "服务器内部错误，请稍后再试")
            await response(scope, receive, send)
