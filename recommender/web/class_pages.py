"""The term loop on the web: the post-class form (public), class posters (organizers) and the
links every class carries in the API and on the dashboard.

- ``GET /class/{token}``: the post-class form of one class (anyone with the link; the token is
  unguessable): a rating 1–5 and 「下次想学什么」. Works without JavaScript and on a phone.
- ``POST /class/{token}``: the form posts to its own address (rate-limited like the feedback
  doors); 303 to ``/class-feedback/thanks``, or the form again with what was typed and the
  error (422). The answer's id is remembered in a signed cookie for that class's path only:
  the same browser then sees 「你已提交过反馈」 and changes its answer instead of adding one
  (``?new=1`` / ``answer=new``: someone else on the same phone); another phone is not affected.
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
from recommender.web.auth import OrganizerAuth
from recommender.web.deps import Auth, DashboardOrganizer, Service
from recommender.web.errors import HttpError
from recommender.web.exports import content_disposition
from recommender.web.forms import FormEncodingError, read_form
from recommender.web.metrics import count_class_answer
from recommender.web.public import HTML_PAGE, PRIVATE_HEADERS, receipt_page, request_client_key

router = APIRouter(tags=["public"])
organizer_router = APIRouter(prefix="/organizer", tags=["dashboard"], include_in_schema=False)

CLASS_FIELDS = ("rating", "text")
CLASS_RECEIPT_COOKIE = "class_receipt"
#: Which answer this browser gave to a class: signed "<class id>.<answer id>", sent to that
#: class's form only (its path), kept for a term.
ANSWER_COOKIE = "class_answer"
ANSWER_PURPOSE = "class-answer.v1"
ANSWER_COOKIE_DAYS = 180
THANKS_PATH = "/class-feedback/thanks"
#: Which answer the thank-you page shows as saved: signed "<class id>.<answer id>", sent to the
#: thank-you page only, read once (like the receipt code), then deleted.
SAVED_COOKIE = "class_saved"
SAVED_PURPOSE = "class-saved.v1"
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
                        "answer": {
                            "type": "string", "enum": ["new"],
                            "description": "new: a new answer even where this browser answered before (someone else on the same phone).",
                        },
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


def _signed_answer(auth: OrganizerAuth, purpose: str, signed: str | None) -> tuple[int, int] | None:
    """``(class id, answer id)`` of a signed "<class id>.<answer id>" cookie (or None)."""
    class_id, _, answer_id = (auth.unsign(purpose, signed) or "").partition(".")
    if not (class_id.isascii() and class_id.isdigit() and answer_id.isascii() and answer_id.isdigit()):
        return None
    return int(class_id), int(answer_id)


def _answer_cookie(request: Request, auth: OrganizerAuth, session: dict) -> int | None:
    """The id of this browser's answer to ``session``, from its signed cookie (or None)."""
    found = _signed_answer(auth, ANSWER_PURPOSE, request.cookies.get(ANSWER_COOKIE))
    return found[1] if found is not None and found[0] == session["id"] else None


def _remember_answer(request: Request, response: Response, auth: OrganizerAuth, token: str, done) -> None:
    """Remember in this browser, for its class's form only, which answer it gave."""
    response.set_cookie(
        ANSWER_COOKIE, auth.sign(ANSWER_PURPOSE, f"{done.session['id']}.{done.answer_id}"),
        max_age=ANSWER_COOKIE_DAYS * 86400, path=f"/class/{token}", httponly=True,
        samesite="lax", secure=request.url.scheme == "https",  # lax: the QR code's link is a GET from elsewhere
    )


def _class_page(
    request: Request,
    session: dict,
    token: str,
    *,
    values: dict | None = None,
    errors: dict | None = None,
    earlier: dict | None = None,
    another_person: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(
        request,
        "class_feedback.html",
        {
            "session": session,
            "token": token,
            "values": values or {"rating": "", "text": ""},
            "errors": errors or {},
            "earlier": earlier,
            "another_person": another_person,
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
def class_form(request: Request, token: str, service: Service, auth: Auth) -> HTMLResponse:
    """Rate the class (1–5) and say what to learn next (zh-CN, no JavaScript needed). A browser
    that answered already sees 「你已提交过反馈」 and its answer, to change (``?new=1``: a blank
    form for someone else on the same phone)."""
    session = service.open_class(token)
    if request.query_params.get("new") == "1":
        return _class_page(request, session, token, another_person=True)
    earlier = service.earlier_class_answer(session, _answer_cookie(request, auth, session))
    if earlier is None:
        return _class_page(request, session, token)
    return _class_page(request, session, token, values=earlier, earlier=earlier)


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
async def submit_class_form(request: Request, token: str, service: Service, auth: Auth) -> Response:
    """Store a rating (class feedback) and 「下次想学什么」 (a feedback line when it asks for
    something); a browser that answered before changes its answer instead of adding one."""
    try:
        form = await read_form(request)
    except (FormEncodingError, StarletteHTTPException):
        raise HttpError(400, "malformed_form", "表单提交的格式不对，请刷新页面后重新填写。") from None
    values = {name: form.get(name, "") for name in CLASS_FIELDS}
    values = {name: value if isinstance(value, str) else "" for name, value in values.items()}
    another_person = form.get("answer") == "new"  # 「换一个人填写」 on a shared phone
    await form.close()
    session = await run_in_threadpool(service.open_class, token)
    earlier = None if another_person else _answer_cookie(request, auth, session)
    try:
        done = await run_in_threadpool(
            lambda: service.answer_class(
                token, values["rating"], values["text"], client=request_client_key(request, service), earlier=earlier,
            )
        )
    except ValidationFailed as exc:
        field = exc.field if exc.field in CLASS_FIELDS else "text"
        shown = await run_in_threadpool(service.earlier_class_answer, session, earlier)
        return _class_page(
            request, session, token, values=values, errors={field: exc.message}, earlier=shown,
            another_person=another_person, status_code=422,
        )
    count_class_answer(changed=done.changed)
    thanks = request.url_for("class_thanks").path + f"?class={session['id']}" + ("&changed=1" if done.changed else "")
    response = RedirectResponse(thanks, status_code=status.HTTP_303_SEE_OTHER)
    _remember_answer(request, response, auth, token, done)
    once = {"max_age": 600, "path": THANKS_PATH, "httponly": True, "samesite": "strict", "secure": request.url.scheme == "https"}
    response.set_cookie(SAVED_COOKIE, auth.sign(SAVED_PURPOSE, f"{session['id']}.{done.answer_id}"), **once)
    if done.receipt:
        response.set_cookie(CLASS_RECEIPT_COOKIE, done.receipt, **once)
    return response


def _saved_answer(request: Request, service, auth: OrganizerAuth) -> dict | None:
    """The answer just given, as saved (the rating, the masked text), from the one-time cookie."""
    found = _signed_answer(auth, SAVED_PURPOSE, request.cookies.get(SAVED_COOKIE))
    if found is None:
        return None
    saved = service.earlier_class_answer({"id": found[0]}, found[1])
    if saved is None:
        return None
    rating = int(saved["rating"])
    return {"rating": f"{rating} 分 · {RATING_WORDS.get(rating, '')}", "text": saved["text"]}


@router.get(THANKS_PATH, response_class=HTMLResponse, summary="Thank-you page after the post-class form")
def class_thanks(request: Request, service: Service, auth: Auth) -> HTMLResponse:
    """Thanks, what was saved (the rating and the text with personal data masked, as the main
    form's thank-you page shows it), and the receipt code when 「下次想学什么」 was stored as a
    line; each shown once."""
    changed = request.query_params.get("changed") == "1"
    saved = _saved_answer(request, service, auth)
    response = receipt_page(request, "class_thanks.html", CLASS_RECEIPT_COOKIE, THANKS_PATH, {"changed": changed, "saved": saved})
    if SAVED_COOKIE in request.cookies:
        response.delete_cookie(SAVED_COOKIE, path=THANKS_PATH, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


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
