"""Public routes: the feedback form, the feedback API, withdrawal, liveness and readiness.

Withdrawal: every form or API submission gets a receipt code (``XXXXX-XXXXX``), shown once
on the thank-you page (carried there from the POST in a short-lived HttpOnly cookie, never
in a URL) or in the API's 201 answer. ``/withdraw`` asks for it, ``POST /withdraw/lookup``
shows the line with a confirm button and ``POST /withdraw`` deletes the text for good; JSON
callers use ``POST /api/withdraw/lookup`` and ``POST /api/withdraw``. Codes travel only in
POST bodies and are never logged.

Durable intake with group commit: ``POST /feedback`` and ``POST /api/feedback`` validate
and mask the line first (a 422 is decided before anything is queued), then hand it to the
worker's intake writer (:mod:`recommender.door.intake_queue`), which stores every line waiting
in one transaction; the answer (303 / 201) is sent only after that commit.

Anonymous and unauthenticated. Every rule about what feedback is acceptable lives in
:mod:`recommender.door.validation` (through :meth:`RecommenderService.draft`); these routes only
translate HTTP into service calls and back. Feedback text is never logged here.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from recommender.errors import NoModelError, ValidationFailed
from recommender.door.validation import FeedbackDraft, clean_text
from recommender.door.screening import ClientKeys, normalise_receipt
from recommender.service import RecommenderService
from recommender.store import StoredFeedback
from recommender.web.auth import same_origin
from recommender.web.deps import Service
from recommender.web.errors import DISK_FULL_MESSAGE, HttpError, error_response
from recommender.web.forms import FormEncodingError, read_form
from recommender.web.ratelimit import client_address
from recommender.web.schemas import ErrorBody

router = APIRouter(tags=["public"])

#: Form fields, in page order: the error summary links to them in this order.
FORM_FIELDS = ("text", "segment", "session_id")
#: Shown in the error summary when ValidationFailed names no field of the form.
FORM_MALFORMED = "表单提交的格式不对，请刷新页面后重新填写提交。"
#: Carries the receipt code from POST /feedback to the thank-you page (read once, then deleted).
RECEIPT_COOKIE = "feedback_receipt"
RECEIPT_COOKIE_AGE = 600
#: Pages showing a receipt code or a line being withdrawn stay out of every cache.
PRIVATE_HEADERS = {"Cache-Control": "no-store"}


#: Texts up to this many characters are validated and masked on the event loop (tens of
#: microseconds); longer ones in the thread pool (masking 2,000 characters takes ~2 ms).
INLINE_DRAFT_CHARS = 300


async def _draft(service: RecommenderService, text: object, **fields) -> FeedbackDraft:
    if isinstance(text, str) and len(text) <= INLINE_DRAFT_CHARS:
        return service.draft(text, **fields)
    return await run_in_threadpool(service.draft, text, **fields)


async def _store_durably(service: RecommenderService, draft: FeedbackDraft, client: ClientKeys) -> tuple[StoredFeedback, str]:
    """Hand the line to this worker's intake writer (group commit) and wait until the
    transaction holding it has committed: (the stored line, its receipt code)."""
    pending, receipt = service.enqueue_async(draft, client=client)
    return await pending, receipt


def request_client_key(request: Request, service: RecommenderService) -> ClientKeys:
    """The keyed hashes of this client: its address as the rate limiter sees it plus the browser,
    and the address alone (a burst from one address is flagged whatever the browser says)."""
    trusted = request.app.state.settings.trusted_proxy_networks
    return service.client_keys(client_address(request.scope, trusted), request.headers.get("user-agent"))


# ---------------------------------------------------------------------------- models
class FeedbackIn(BaseModel):
    """One feedback line sent by a script or another app."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "text": "想学习怎么写会议纪要，平时写得很乱。",
                    "segment": "网格员",
                    "session_id": "2024-05-12 公文写作",
                    "submitter": "questionnaire-user-1024",
                }
            ]
        },
    )

    text: StrictStr = Field(
        description=(
            "The feedback (Chinese free text): what to learn next, difficulties in class or at work. "
            "Cleaned and masked (phone numbers, ID numbers, e-mails, cued names) before storing."
        ),
    )
    segment: StrictStr | None = Field(
        None, description="Who wrote it, one of the configured segments; omitted or empty: 其他."
    )
    session_id: StrictStr | None = Field(None, description="The class attended (free text, up to 100 characters).")
    submitter: StrictStr | None = Field(
        None,
        description="A stable identifier of the person (hashed with a secret salt, never stored raw); "
        "used to count distinct people and mark repeats.",
    )


class FeedbackCreated(BaseModel):
    """The stored feedback line."""

    id: str = Field(description="The stored id.", examples=["1024"])
    segment: str = Field(examples=["网格员"])
    submitted_at: str = Field(description="ISO 8601, UTC.", examples=["2024-05-12T11:30:00+00:00"])
    is_repeat: bool = Field(description="Near-identical to an earlier line of the same submitter in the repeat window.")
    masked: bool = Field(description="Whether personal data was masked in the stored text.")
    receipt: str = Field(
        description="Receipt code (shown once, only a hash is stored): with it the person can see and "
        "withdraw this line at /withdraw or POST /api/withdraw.",
        examples=["7KQ4M-XH2PA"],
    )


class ReceiptIn(BaseModel):
    """A receipt code as given after submitting (case, spaces and dashes do not matter)."""

    model_config = ConfigDict(extra="forbid")
    receipt: StrictStr = Field(max_length=64, examples=["7KQ4M-XH2PA"])


class ReceiptClass(BaseModel):
    """A class planned or held on the topic of a request."""

    date: str = Field(examples=["2026-12-20"])
    title: str
    status: Literal["planned", "held"]


class ReceiptLine(BaseModel):
    """The line a receipt belongs to, as its submitter may see it."""

    id: str
    status: Literal["kept", "withdrawn", "deleted"] = Field(
        description="kept: stored (withdrawable); withdrawn: deleted at your request; deleted: removed after the retention period."
    )
    text: str = Field(description="The stored (masked) text; empty once withdrawn or deleted.")
    submitted_at: str
    segment: str
    topic_label: str | None = Field(
        None, description="What became of the request: the topic it is counted in; null: 未归类 (or not sorted yet)."
    )
    classes: list[ReceiptClass] = Field(
        default_factory=list, description="Classes planned or held on that topic, oldest first."
    )


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Ready(BaseModel):
    status: str = Field(examples=["ready"])
    model_version: str = Field(examples=["20261128T120501Z-ab12"])


# ---------------------------------------------------------------------------- form bodies (OpenAPI)
def _form_body(properties: dict, required: list[str]) -> dict:
    """``openapi_extra`` documenting an HTML form's fields (the routes read the form themselves)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {"type": "object", "properties": properties, "required": required}
                }
            },
        }
    }


FEEDBACK_FORM = _form_body(
    {
        # maxLength and the segments' enum come from the settings (recommender.web.openapi).
        "text": {"type": "string", "minLength": 1, "pattern": r"[^\W_]", "description": "The feedback."},
        "segment": {"type": "string", "description": "Who wrote it (one of the configured segments; empty: 其他)."},
        "session_id": {"type": "string", "maxLength": 100, "description": "The class attended (optional)."},
    },
    ["text"],
)
RECEIPT_FORM = _form_body({"receipt": {"type": "string", "maxLength": 64, "examples": ["7KQ4M-XH2PA"]}}, ["receipt"])
HTML_PAGE = {"text/html": {"schema": {"type": "string"}}}


# ---------------------------------------------------------------------------- form
def _render_form(
    request: Request,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    summary: list[tuple[str | None, str]] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = request.app.state.settings
    return request.app.state.templates.TemplateResponse(
        request,
        "form.html",
        {
            "values": values or {"text": "", "segment": "", "session_id": ""},
            "errors": errors or {},
            "summary": summary or [],
            "max_text_length": settings.max_text_length,
        },
        status_code=status_code,
    )


def _form_value(form, name: str) -> str | None:
    """A text field of the posted form: "" when missing, None when it is not text (a file)."""
    value = form.get(name, "")
    return value if isinstance(value, str) else None


@router.get("/", response_class=HTMLResponse, summary="The feedback form (zh-CN, no JavaScript)")
async def feedback_form(request: Request) -> HTMLResponse:
    """The feedback form for night-school attendees."""
    return _render_form(request)


@router.post(
    "/feedback",
    response_class=HTMLResponse,
    status_code=status.HTTP_303_SEE_OTHER,
    summary="Submit the feedback form",
    responses={
        303: {"description": "Stored; redirects to /thanks"},
        400: {"description": "The form again: the body is not UTF-8 or is broken", "content": HTML_PAGE},
        422: {"description": "The form again, with errors", "content": HTML_PAGE},
    },
    openapi_extra=FEEDBACK_FORM,
)
async def submit_form(request: Request, service: Service):
    """Store the form's feedback and redirect to the thank-you page (Post/Redirect/Get)."""
    try:
        form = await read_form(request)
    except FormEncodingError as exc:  # not UTF-8: say so rather than store mojibake
        return _render_form(request, summary=[(None, exc.detail)], status_code=400)
    except StarletteHTTPException:  # a broken multipart body
        return _render_form(request, summary=[(None, FORM_MALFORMED)], status_code=400)
    values = {name: _form_value(form, name) for name in FORM_FIELDS}
    try:
        draft = await _draft(
            service,
            values["text"],
            segment=values["segment"],
            session_id=values["session_id"],
            source="form",
        )
        _stored, receipt = await _store_durably(service, draft, request_client_key(request, service))
    except ValidationFailed as exc:
        shown = {name: value or "" for name, value in values.items()}
        field = exc.field if exc.field in FORM_FIELDS else None
        return _render_form(
            request,
            values=shown,
            errors={field: exc.message} if field else {},
            summary=[(field, exc.message)],
            status_code=422,
        )
    finally:
        await form.close()
    response = RedirectResponse(request.url_for("thanks").path, status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        RECEIPT_COOKIE, receipt, max_age=RECEIPT_COOKIE_AGE, path="/thanks", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/thanks", response_class=HTMLResponse, summary="Thank-you page after the form")
async def thanks(request: Request, service: Service) -> HTMLResponse:
    """The thank-you page with the text as stored (phone numbers and names masked), the
    receipt code (shown once), a link to withdraw and back to the form."""
    receipt = normalise_receipt(request.cookies.get(RECEIPT_COOKIE))
    row = await run_in_threadpool(service.find_receipt, receipt) if receipt else None
    stored = row.text if row is not None and row.status not in ("withdrawn", "purged") else None
    return receipt_page(request, "thanks.html", RECEIPT_COOKIE, "/thanks", extra={"stored_text": stored})


def receipt_page(request: Request, template: str, cookie: str, path: str, extra: dict | None = None) -> HTMLResponse:
    """A thank-you page showing the receipt code carried in ``cookie`` once (then deleted),
    with the template's ``extra`` values."""
    receipt = normalise_receipt(request.cookies.get(cookie))
    response = request.app.state.templates.TemplateResponse(
        request,
        template,
        {"receipt": f"{receipt[:5]}-{receipt[5:]}" if receipt else None, **(extra or {})},
        headers=PRIVATE_HEADERS,
    )
    if cookie in request.cookies:
        response.delete_cookie(cookie, path=path, httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


# ---------------------------------------------------------------------------- withdrawal (pages)
def _withdraw_page(request: Request, context: dict, status_code: int = 200) -> HTMLResponse:
    base = {"receipt": "", "error": None, "line": None, "done": False}
    return request.app.state.templates.TemplateResponse(
        request, "withdraw.html", {**base, **context}, status_code=status_code, headers=PRIVATE_HEADERS
    )


def _receipt_line(row: StoredFeedback) -> dict:
    state = {"withdrawn": "withdrawn", "purged": "deleted"}.get(row.status, "kept")
    return {
        "id": row.public_id,
        "status": state,
        "text": row.text if state == "kept" else "",
        "submitted_at": row.submitted_at.isoformat(),
        "segment": row.segment,
    }


def _outcome(service: RecommenderService, row: StoredFeedback) -> dict:
    """What became of the request: its topic's label (None: 未归类) and the classes on it."""
    outcome = service.request_outcome(row)
    return {"topic_label": outcome["label"], "classes": outcome["classes"]}


async def _posted_receipt(request: Request) -> str:
    if not same_origin(request):
        raise HttpError(403, "forbidden", "请求来自其他网站，已拒绝。")
    try:
        form = await read_form(request)
    except FormEncodingError:
        raise
    except StarletteHTTPException:
        return ""
    value = form.get("receipt", "")
    await form.close()
    return value if isinstance(value, str) else ""


UNKNOWN_RECEIPT = "没有找到这个回执码对应的反馈。请检查是否输入正确（回执码由 10 位字母和数字组成，例如 7KQ4M-XH2PA）。"


@router.get("/withdraw", response_class=HTMLResponse, summary="Withdraw feedback: ask for the receipt code")
async def withdraw_form(request: Request) -> HTMLResponse:
    """A form asking for the receipt code shown after submitting."""
    return _withdraw_page(request, {})


@router.post(
    "/withdraw/lookup",
    response_class=HTMLResponse,
    summary="Show the line a receipt belongs to",
    responses={404: {"description": "The form again: no feedback has this receipt code", "content": HTML_PAGE}},
    openapi_extra=RECEIPT_FORM,
)
async def withdraw_lookup(request: Request, service: Service) -> HTMLResponse:
    """Show the feedback of a receipt code, with a button to withdraw it."""
    typed = await _posted_receipt(request)
    row = await run_in_threadpool(service.find_receipt, typed)
    if row is None:
        return _withdraw_page(request, {"receipt": typed[:64], "error": UNKNOWN_RECEIPT}, status_code=404)
    code = normalise_receipt(typed)
    line = {**_receipt_line(row), **await run_in_threadpool(_outcome, service, row)}
    return _withdraw_page(request, {"receipt": f"{code[:5]}-{code[5:]}", "line": line})


@router.post(
    "/withdraw",
    response_class=HTMLResponse,
    summary="Withdraw feedback for good",
    responses={
        303: {"description": "Withdrawn; redirects to /withdraw/done"},
        404: {"description": "The form again: no feedback has this receipt code", "content": HTML_PAGE},
    },
    openapi_extra=RECEIPT_FORM,
)
async def withdraw_confirm(request: Request, service: Service) -> Response:
    """Delete the text of the receipt's feedback for good; it leaves the suggestions at once."""
    typed = await _posted_receipt(request)
    row = await run_in_threadpool(service.withdraw, typed)
    if row is None:
        return _withdraw_page(request, {"receipt": typed[:64], "error": UNKNOWN_RECEIPT}, status_code=404)
    return RedirectResponse(request.url_for("withdraw_done").path, status_code=status.HTTP_303_SEE_OTHER)


@router.get("/withdraw/done", response_class=HTMLResponse, summary="Withdrawal confirmed")
async def withdraw_done(request: Request) -> HTMLResponse:
    """Says the feedback was withdrawn."""
    return _withdraw_page(request, {"done": True})


# ---------------------------------------------------------------------------- API
@router.post(
    "/api/feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=FeedbackCreated,
    summary="Submit one feedback line (JSON)",
    responses={
        413: {"model": ErrorBody, "description": "Body larger than max_body_bytes"},
        422: {"model": ErrorBody, "description": "Empty text, wrong types, unknown fields or segment, bad JSON"},
    },
)
async def create_feedback(request: Request, body: FeedbackIn, service: Service) -> Response:
    """Validate, mask and store one feedback line; answers with the stored id and a receipt code
    once the line is committed (lines arriving together are stored in one transaction)."""
    draft = await _draft(
        service, body.text, segment=body.segment, session_id=body.session_id, submitter=body.submitter, source="api"
    )
    stored, receipt = await _store_durably(service, draft, request_client_key(request, service))
    created = FeedbackCreated(
        receipt=receipt,
        id=stored.public_id,
        segment=stored.segment,
        submitted_at=stored.submitted_at.isoformat(),
        is_repeat=stored.is_repeat,
        # The draft is cleaned then masked; a difference from the cleaned input is masking.
        masked=stored.text != clean_text(body.text),
    )
    # Already validated: answer with its JSON directly (the response_model stays for OpenAPI).
    return Response(created.model_dump_json(), status_code=status.HTTP_201_CREATED, media_type="application/json")


@router.post(
    "/api/withdraw/lookup",
    response_model=ReceiptLine,
    summary="See the feedback of a receipt code",
    responses={404: {"model": ErrorBody, "description": "No feedback has this receipt code"}},
)
def api_withdraw_lookup(request: Request, body: ReceiptIn, service: Service):
    """The line a receipt code belongs to (text empty once withdrawn or deleted), its topic and the classes on it."""
    row = service.find_receipt(body.receipt)
    if row is None:
        return error_response(request, 404, "receipt_not_found", UNKNOWN_RECEIPT)
    return ReceiptLine(**_receipt_line(row), **_outcome(service, row))


@router.post(
    "/api/withdraw",
    response_model=ReceiptLine,
    summary="Withdraw feedback by its receipt code",
    responses={404: {"model": ErrorBody, "description": "No feedback has this receipt code"}},
)
def api_withdraw(request: Request, body: ReceiptIn, service: Service):
    """Delete the text of the receipt's feedback for good (repeating it is harmless)."""
    row = service.withdraw(body.receipt)
    if row is None:
        return error_response(request, 404, "receipt_not_found", UNKNOWN_RECEIPT)
    return ReceiptLine(**_receipt_line(row))


# ---------------------------------------------------------------------------- probes
@router.get("/healthz", response_model=Health, summary="Liveness")
def healthz() -> Health:
    """Liveness: the process answers (touches neither the database nor the model)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Ready,
    summary="Readiness",
    responses={503: {"model": ErrorBody, "description": "Database unreachable or no model trained yet"}},
)
def readyz(request: Request, service: Service):
    """Readiness: the database answers and a model is being served."""
    if not service.store.ping():
        return error_response(request, 503, "store_unavailable", "数据库无法连接，请检查 RECOMMENDER_DATABASE_URL 与数据库服务。")
    if service.store.disk_still_full():
        return error_response(request, 503, "disk_full", DISK_FULL_MESSAGE)
    try:
        served = service.require_model()
    except NoModelError as exc:
        return error_response(request, 503, "no_model", str(exc))
    return Ready(status="ready", model_version=served.version)
