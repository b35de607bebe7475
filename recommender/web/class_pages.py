"""The term loop on the web: the post-class form (public), class posters (organizers) and the
links every class carries in the API and on the dashboard.

- ``GET /class/{token}``: the post-class form of one class (anyone with the link; the token is
  unguessable): a rating 1–5 and 「下次想学什么」. Works without JavaScript and on a phone.
- ``POST /class/{token}``: the form posts to its own address (rate-limited like the feedback
  doors); 303 to ``/class-feedback/thanks``, or the form again with what was typed and the
  error (422).
- ``GET /organizer/sessions/{id}/poster.svg`` and ``.png``: the class poster (title, date,
  instructor, the QR code of its link; :mod:`recommender.web.posters`); organizer only.

Answers are class feedback, not demand (:mod:`recommender.service.class_feedback`). The
routes only translate HTTP; text is never logged.
"""

from __future__ import annotations


from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from recommender.errors import NotFound, ValidationFailed
from recommender.web import posters
from recommender.web.deps import DashboardOrganizer, Service
from recommender.web.errors import HttpError
from recommender.web.exports import content_disposition
from recommender.web.forms import FormEncodingError, read_form
from recommender.web.public import HTML_PAGE, PRIVATE_HEADERS, receipt_page, request_client_key

router = APIRouter(tags=["public"])
organizer_router = APIRouter(prefix="/organizer", tags=["dashboard"], include_in_schema=False)

CLASS_FIELDS = ("rating", "text")
CLASS_RECEIPT_COOKIE = "class_receipt"
THANKS_PATH = "/class-feedback/thanks"
RATING_WORDS = {1: "很不满意", 2: "不太满意", 3: "一般", 4: "满意", 5: "非常满意"}
CLASS_FORM = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "rating": {"type": "string", "enum": ["1", "2", "3", "4", "5"], "description": "1 (worst) to 5 (best)."},
                        "text": {"type": "string", "description": "下次想学什么 (optional)."},
                    },
                    "required": ["rating"],
                }
            }
        },
    }
}


# --------------------------------------------------------------------------- links of a class


def base_url(request: Request) -> str:
    """Where learners reach the service: ``RECOMMENDER_PUBLIC_URL``, else this request's address."""
    configured = request.app.state.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


def with_links(request: Request, session: dict) -> dict:
    """A session dict with its absolute ``feedback_url`` and its poster addresses."""
    path = session.get("feedback_path")
    poster = f"/organizer/sessions/{session['id']}/poster"
    return {
        **session,
        "feedback_url": base_url(request) + path if path else None,
        "poster_svg": poster + ".svg",
        "poster_png": poster + ".png",
    }


# --------------------------------------------------------------------------- the post-class form


def _class_page(
    request: Request,
    session: dict,
    token: str,
    *,
    values: dict | None = None,
    errors: dict | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(
        request,
        "class_feedback.html",
        {
            "session": session,
            "date_zh": posters.date_zh(session["held_on"]),
            "token": token,
            "values": values or {"rating": "", "text": ""},
            "errors": errors or {},
            "ratings": RATING_WORDS,
            "max_text_length": request.app.state.settings.max_text_length,
        },
        status_code=status_code,
        headers=PRIVATE_HEADERS,
    )


@router.get(
    "/class/{token}",
    response_class=HTMLResponse,
    summary="The post-class form of one class",
    responses={404: {"description": "No class has this link, or it was cancelled", "content": HTML_PAGE}},
)
def class_form(request: Request, token: str, service: Service) -> HTMLResponse:
    """Rate the class (1–5) and say what to learn next (zh-CN, no JavaScript needed)."""
    return _class_page(request, service.open_class(token), token)


@router.post(
    "/class/{token}",
    response_class=HTMLResponse,
    status_code=status.HTTP_303_SEE_OTHER,
    summary="Submit the post-class form",
    responses={
        303: {"description": "Stored; redirects to /class-feedback/thanks"},
        400: {"description": "The body is not UTF-8 or is broken", "content": HTML_PAGE},
        404: {"description": "No class has this link, or it was cancelled", "content": HTML_PAGE},
        422: {"description": "The form again, with what was typed and the error", "content": HTML_PAGE},
    },
    openapi_extra=CLASS_FORM,
)
async def submit_class_form(request: Request, token: str, service: Service) -> Response:
    """Store a rating (class feedback) and 「下次想学什么」 (a feedback line when it asks for something)."""
    try:
        form = await read_form(request)
    except (FormEncodingError, StarletteHTTPException):
        raise HttpError(400, "malformed_form", "表单提交的格式不对，请刷新页面后重新填写。") from None
    values = {name: form.get(name, "") for name in CLASS_FIELDS}
    values = {name: value if isinstance(value, str) else "" for name, value in values.items()}
    await form.close()
    try:
        session, _line, receipt = await run_in_threadpool(
            service.respond_to_class, token, values["rating"], values["text"],
            client=request_client_key(request, service),
        )
    except ValidationFailed as exc:
        session = await run_in_threadpool(service.open_class, token)
        field = exc.field if exc.field in CLASS_FIELDS else "text"
        return _class_page(
            request, session, token, values=values, errors={field: exc.message}, status_code=422
        )
    response = RedirectResponse(
        request.url_for("class_thanks").path + f"?class={session['id']}", status_code=status.HTTP_303_SEE_OTHER
    )
    if receipt:
        response.set_cookie(
            CLASS_RECEIPT_COOKIE, receipt, max_age=600, path=THANKS_PATH, httponly=True,
            samesite="strict", secure=request.url.scheme == "https",
        )
    return response


@router.get(THANKS_PATH, response_class=HTMLResponse, summary="Thank-you page after the post-class form")
def class_thanks(request: Request) -> HTMLResponse:
    """Thanks, and the receipt code when 「下次想学什么」 was stored as a line (shown once)."""
    return receipt_page(request, "class_thanks.html", CLASS_RECEIPT_COOKIE, THANKS_PATH)


# --------------------------------------------------------------------------- posters (organizers)


def _session(service, session_id: str) -> dict:
    if not session_id.isascii() or not session_id.isdigit() or not 1 <= int(session_id) < 2**63:
        raise NotFound("没有这节课")
    row = service.store.get_session(int(session_id))
    if row is None or not row.get("feedback_token"):
        raise NotFound("没有这节课")
    return row


def _poster(request: Request, row: dict, body: bytes, media: str, ext: str) -> Response:
    name, fallback = posters.poster_filename(row["held_on"], row["title"], row["id"], ext)
    disposition = content_disposition(name, fallback)
    if not request.query_params.get("download"):
        disposition = disposition.replace("attachment", "inline", 1)
    return Response(body, media_type=media, headers={"Content-Disposition": disposition, "Cache-Control": "no-store"})


@organizer_router.get("/sessions/{session_id}/poster.svg")
def poster_svg(request: Request, session_id: str, _who: DashboardOrganizer, service: Service) -> Response:
    """The printable A4 poster of a class: title, date, instructor and the QR code of its link."""
    row = _session(service, session_id)
    url = base_url(request) + f"/class/{row['feedback_token']}"
    svg = posters.poster_svg(url, title=row["title"], held_on=row["held_on"], instructor=row["instructor"])
    return _poster(request, row, svg.encode("utf-8"), "image/svg+xml", "svg")


@organizer_router.get("/sessions/{session_id}/poster.png")
def poster_png(request: Request, session_id: str, _who: DashboardOrganizer, service: Service) -> Response:
    """The class poster as a 150 dpi PNG (the QR code alone where the server has no Chinese font)."""
    row = _session(service, session_id)
    url = base_url(request) + f"/class/{row['feedback_token']}"
    png = posters.poster_png(
        url, title=row["title"], held_on=row["held_on"], instructor=row["instructor"],
        font=request.app.state.settings.poster_font,
    )
    return _poster(request, row, png, "image/png", "png")


__all__ = ["organizer_router", "router", "with_links"]
