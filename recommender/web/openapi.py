"""``/openapi.json`` tells the truth: every status a route can answer, and request schemas that
accept exactly what the service accepts.

FastAPI documents what each route declares; the answers that come from the layers around the
routes are added here, from facts about each operation, so a new route gets them too:

=====  =========================================================================================
400    a body that cannot be parsed (``invalid_body``), or a form that is not UTF-8 (``invalid_encoding``)
401    an organizer route without a valid token or session
403    a cookie-authenticated organizer write without its CSRF token; a form from another site
404    a path with an id that names nothing
413    a body over ``max_body_bytes``
422    a request whose parameters or body break the rules (the error shape, not FastAPI's)
429    a rate-limited door over its limit; an organizer route after too many failed logins
503    the database unavailable or its disk full; no model trained yet
=====  =========================================================================================

Settings shape the schema too: the feedback text's ``maxLength`` (``max_text_length``) and the
segments offered (an ``enum``). The JSON errors are :class:`~recommender.web.schemas.ErrorBody`
under ``/api`` (and the probes); elsewhere the error is an HTML page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from recommender.config import Settings
from recommender.web.ratelimit import LIMITED, LIMITED_PREFIXES

__all__ = ["install_openapi"]

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
HTML = {"text/html": {"schema": {"type": "string"}}}
#: Routes that touch neither the database nor the model.
NO_STORE = frozenset({("get", "/"), ("get", "/healthz"), ("get", "/thanks"), ("get", "/withdraw"),
                      ("get", "/withdraw/done"), ("get", "/metrics")})
DESCRIPTIONS = {
    400: "The body cannot be read (not JSON, not UTF-8, a broken form)",
    401: "No valid organizer token or session",
    403: "A cookie-authenticated write without its CSRF token, or a form from another site",
    404: "Nothing has this id",
    413: "The body is larger than max_body_bytes",
    422: "The request breaks a rule (the error names the field)",
    429: "Too many requests from this client (Retry-After says how long to wait)",
    503: "The database is unavailable or its disk is full, or no model is trained yet (Retry-After)",
}
#: Text that counts as written (a letter or digit): what recommender.door.validation.has_content checks.
HAS_CONTENT_PATTERN = r"[^\W_]"


def _is_json(path: str) -> bool:
    return path.startswith("/api/") or path in ("/healthz", "/readyz")


def _statuses(method: str, path: str, operation: dict) -> set[int]:
    statuses: set[int] = set()
    params = operation.get("parameters") or []
    body = "requestBody" in operation
    if operation.get("security"):  # organizer: the bearer scheme is declared
        statuses |= {401, 429}
        if method not in ("get", "head", "options"):
            statuses.add(403)
    if body:
        statuses |= {400, 413, 422}
    if params:
        statuses.add(422)
    if any(p.get("in") == "path" for p in params):
        statuses.add(404)
    if (method.upper(), path) in LIMITED or any(
        method.upper() == m and path.startswith(prefix) for m, prefix, _bucket in LIMITED_PREFIXES
    ):  # a door with a path parameter (a class's feedback link) is limited by its prefix
        statuses.add(429)
    if (method, path) not in NO_STORE:
        statuses.add(503)
    return statuses


def _error_response(path: str, status: int) -> dict:
    content = {"application/json": {"schema": ERROR_REF}} if _is_json(path) else HTML
    return {"description": DESCRIPTIONS[status], "content": content}


def document_statuses(schema: dict) -> None:
    """Add every status an operation can answer (see the module docs); replace FastAPI's own 422
    shape (``{"detail": …}``) by the error shape the service answers with."""
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status.startswith("3"):  # a redirect has no body (FastAPI gives it the route's media type)
                    response.pop("content", None)
            for status in sorted(_statuses(method, path, operation)):
                current = responses.get(str(status))
                if current is None or "HTTPValidationError" in str(current):
                    responses[str(status)] = _error_response(path, status)
                elif not current.get("content"):
                    current["content"] = _error_response(path, status)["content"]
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in components and unused not in str(schema.get("paths")):
            del components[unused]


def describe_settings(schema: dict, settings: Settings) -> None:
    """What depends on the settings: the feedback text's length and the segments offered."""
    segments = [*settings.segments, ""]
    feedback_in = schema.get("components", {}).get("schemas", {}).get("FeedbackIn", {}).get("properties", {})
    if "text" in feedback_in:
        feedback_in["text"].update(minLength=1, maxLength=settings.max_text_length, pattern=HAS_CONTENT_PATTERN)
    if "segment" in feedback_in:
        _restrict(feedback_in["segment"], segments)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for param in operation.get("parameters") or []:
                if param.get("name") == "segment":
                    _restrict(param.setdefault("schema", {}), segments)
            form = operation.get("requestBody", {}).get("content", {}).get("application/x-www-form-urlencoded")
            props = (form or {}).get("schema", {}).get("properties", {})
            if "segment" in props:
                _restrict(props["segment"], segments)
            if "text" in props:
                props["text"].update(maxLength=settings.max_text_length)


def _restrict(prop: dict, values: list[str]) -> None:
    """A string (or null) property limited to ``values``."""
    for branch in prop.get("anyOf", [prop]):
        if branch.get("type") == "string":
            branch["enum"] = values


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Make ``app.openapi()`` return the schema with the statuses and settings above (built once)."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    done: dict[int, dict] = {}

    def openapi() -> dict[str, Any]:
        schema = generate()
        if id(schema) not in done:  # FastAPI caches its schema; ours follows it
            document_statuses(schema)
            describe_settings(schema, settings)
            done.clear()
            done[id(schema)] = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
