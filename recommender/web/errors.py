"""One error shape: ``{"error": {"code", "message"}}`` for ``/api/*``, an HTML page elsewhere.

Every error is translated here, once: the domain's errors (:mod:`recommender.errors`), the
web layer's own :class:`HttpError` (its code and Chinese message), request validation, and
what the framework raises itself (404 for no route, 405, 400 for a body it cannot parse),
which is answered by its status alone.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from recommender.errors import NoModelError, NotFound, RetrainInProgress, ValidationFailed
from recommender.store import UNAVAILABLE_ERRORS

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
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": status, "title": STATUS_MESSAGES.get(status, "出错了"), "message": message},
        status_code=status,
        headers=headers,
    )


def _validation_details(exc: RequestValidationError) -> list[dict]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
        out.append({"field": ".".join(loc) or None, "message": err.get("msg", ""), "type": err.get("type", "")})
    return out


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if isinstance(exc, HttpError):
            code, message = exc.code, exc.detail
        else:  # raised by the framework, in English: answered by its status
            code, message = FRAMEWORK_ERRORS.get(
                exc.status_code, (f"http_{exc.status_code}", STATUS_MESSAGES.get(exc.status_code, "出错了"))
            )
        return error_response(request, exc.status_code, code, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError):
        details = _validation_details(exc)
        if any(d["type"] == "json_invalid" for d in details):
            return error_response(request, 422, "invalid_json", "请求体不是有效的 JSON", details=details)
        fields = "、".join(sorted({d["field"] for d in details if d["field"]})) or "请求"
        return error_response(request, 422, "invalid_request", f"{fields} 的格式不对", details=details)

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

    @app.exception_handler(RetrainInProgress)
    async def retrain_busy(request: Request, exc: RetrainInProgress):
        return error_response(request, 409, "retrain_in_progress", str(exc))

    async def store_unavailable(request: Request, exc: Exception):
        # The database is locked past the busy timeout or unreachable: a passing condition,
        # so say "try again" (503 + Retry-After) rather than 500. Nothing was half-stored:
        # every write is one transaction.
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return error_response(
            request, 503, "store_unavailable", "数据库暂时繁忙，请稍后再试", headers={"Retry-After": "2"}
        )

    for error in UNAVAILABLE_ERRORS:  # the store's own and its driver's (the web imports no SQL)
        app.add_exception_handler(error, store_unavailable)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "internal_error", "服务器内部错误，请稍后再试")
