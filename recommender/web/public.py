"""Public routes: the feedback form, the feedback API, liveness and readiness.

Anonymous and unauthenticated. Every rule about what feedback is acceptable lives in
:mod:`recommender.intake` (through :meth:`RecommenderService.draft`); these routes only
translate HTTP into service calls and back. Feedback text is never logged here.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from recommender.errors import NoModelError, ValidationFailed
from recommender.intake import clean_text
from recommender.service import RecommenderService
from recommender.web.errors import error_response

router = APIRouter(tags=["public"])

#: Form fields, in page order: the error summary links to them in this order.
FORM_FIELDS = ("text", "segment", "session_id")
#: Shown in the error summary when ValidationFailed names no field of the form.
FORM_MALFORMED = "表单提交的格式不对，请刷新页面后重新填写提交。"


def get_service(request: Request) -> RecommenderService:
    """The process's RecommenderService (a dependency, so tests can override it)."""
    return request.app.state.service


Service = Annotated[RecommenderService, Depends(get_service)]


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


class ErrorDetail(BaseModel):
    code: str = Field(examples=["empty"])
    message: str = Field(examples=["反馈内容不能为空，请写下您想学的内容或建议。"])
    details: list[dict] | None = None


class ErrorBody(BaseModel):
    """The JSON error shape of every ``/api/*`` route."""

    error: ErrorDetail


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Ready(BaseModel):
    status: str = Field(examples=["ready"])
    model_version: str = Field(examples=["20261128T120501Z-ab12"])


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
    responses={303: {"description": "Stored; redirects to /thanks"}, 422: {"description": "The form again, with errors"}},
)
async def submit_form(request: Request, service: Service):
    """Store the form's feedback and redirect to the thank-you page (Post/Redirect/Get)."""
    try:
        form = await request.form()
    except StarletteHTTPException:  # a broken multipart body
        return _render_form(request, summary=[(None, FORM_MALFORMED)], status_code=400)
    values = {name: _form_value(form, name) for name in FORM_FIELDS}
    try:
        draft = await run_in_threadpool(
            service.draft,
            values["text"],
            segment=values["segment"],
            session_id=values["session_id"],
            source="form",
        )
        await run_in_threadpool(service.submit, draft)
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
    return RedirectResponse(request.url_for("thanks").path, status_code=status.HTTP_303_SEE_OTHER)


@router.get("/thanks", response_class=HTMLResponse, summary="Thank-you page after the form")
async def thanks(request: Request) -> HTMLResponse:
    """The thank-you page, with a link back to the form."""
    return request.app.state.templates.TemplateResponse(request, "thanks.html", {})


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
def create_feedback(body: FeedbackIn, service: Service) -> FeedbackCreated:
    """Validate, mask and store one feedback line; answers with the stored id."""
    draft = service.draft(
        body.text, segment=body.segment, session_id=body.session_id, submitter=body.submitter, source="api"
    )
    stored = service.submit(draft)
    return FeedbackCreated(
        id=stored.public_id,
        segment=stored.segment,
        submitted_at=stored.submitted_at.isoformat(),
        is_repeat=stored.is_repeat,
        # The draft is cleaned then masked; a difference from the cleaned input is masking.
        masked=stored.text != clean_text(body.text),
    )


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
    try:
        served = service.require_model()
    except NoModelError as exc:
        return error_response(request, 503, "no_model", str(exc))
    return Ready(status="ready", model_version=served.version)
