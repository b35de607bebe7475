"""Organizer JSON API under ``/api``: suggestions, topics, class sessions, retrain, exports,
moderation (hide, restore, the flagged review list) and the audit log.

Every state change is written to the audit log with the organizer who made it
(:func:`organizer_actor`: the name of a ``name:token`` entry of
``RECOMMENDER_ORGANIZER_TOKENS``, else ``organizer-<4 hex>`` of a keyed hash of the token).

Every route here depends on :func:`recommender.web.auth.require_organizer` (router level),
so none can be added without it. The routes only parse, call the service and shape the
response.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import date
from datetime import date as Date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path as PathParam, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, field_validator

from recommender.config import Settings
from recommender.errors import ValidationFailed
from recommender.retrain.runner import RetrainRunner
from recommender.service import RecommenderService
from recommender.web import exports
from recommender.web.auth import Organizer, get_auth, require_organizer

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["organizer"], dependencies=[Depends(require_organizer)])

MAX_TOP = 50
MAX_PER_PAGE = 200


async def get_service(request: Request) -> RecommenderService:
    # Dependencies that only read request state are async: a sync one costs a hop to the
    # thread pool on every request (measured: four hops halved GET /api/suggestions).
    return request.app.state.service


def get_settings_of(request: Request) -> Settings:
    return request.app.state.settings


def organizer_actor(request: Request, who: Organizer) -> str:
    """Who did it, for the audit log: the organizer's name from a ``name:token`` entry, else
    ``organizer-<first 4 hex of a keyed hash of the token>`` (the token itself is never written)."""
    auth = get_auth(request)
    token = None
    if who.via == "bearer":
        token = (request.headers.get("authorization") or "").strip().partition(" ")[2].strip() or None
    elif who.session:
        fingerprint = who.session.rpartition(".")[0].split(".")[-1]
        for candidate in auth.tokens:
            # The session cookie carries a keyed fingerprint of the login token (see auth.py).
            if hmac.compare_digest(auth._fingerprint(candidate), fingerprint):
                token = candidate
    if token is None:
        return "organizer"
    name = get_settings_of(request).organizer_token_names.get(token)
    if name:
        return name[:100]
    return "organizer-" + hmac.new(auth.secret, ("actor|" + token).encode(), hashlib.sha256).hexdigest()[:4]


async def current_actor(request: Request, who: Annotated[Organizer, Depends(require_organizer)]) -> str:
    return organizer_actor(request, who)


Actor = Annotated[str, Depends(current_actor)]


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class SuggestionQuery:
    """Validated ``top``, ``as_of`` and ``segment`` of a suggestions request."""

    top: int | None
    as_of: date | None
    segment: str | None

    def call(self, service: RecommenderService) -> dict:
        return service.suggestions(as_of=self.as_of, top=self.top, segment=self.segment)


def parse_suggestion_query(
    settings: Settings, top: str | int | None, as_of: str | None, segment: str | None
) -> SuggestionQuery:
    """Validate the three filters (empty strings mean "not given"); ValidationFailed → 422."""
    top_value: int | None = None
    if top not in (None, ""):
        try:
            top_value = int(str(top).strip())
        except ValueError:
            top_value = None
        if top_value is None or not 1 <= top_value <= MAX_TOP:
            raise ValidationFailed(f"top 应为 1 到 {MAX_TOP} 之间的整数", field="top", code="invalid_top")
    day: date | None = None
    if as_of not in (None, ""):
        text = str(as_of).strip()
        try:
            if len(text) != 10:
                raise ValueError(text)
            day = date.fromisoformat(text)
        except ValueError:
            raise ValidationFailed("as_of 应为有效日期，格式 YYYY-MM-DD", field="as_of", code="invalid_date") from None
    seg = (segment or "").strip() or None
    if seg is not None and seg not in settings.segments:
        raise ValidationFailed(
            f"未知的人群“{seg}”，可选：{'、'.join(settings.segments)}", field="segment", code="unknown_segment"
        )
    return SuggestionQuery(top=top_value, as_of=day, segment=seg)


async def suggestion_query(
    request: Request,
    top: Annotated[str | None, Query(description=f"How many suggestions, 1..{MAX_TOP} (default: setting)")] = None,
    as_of: Annotated[str | None, Query(description="Rank as of the end of this day, YYYY-MM-DD (default: today)")] = None,
    segment: Annotated[str | None, Query(description="Only this segment's feedback (one of the configured segments)")] = None,
) -> SuggestionQuery:
    return parse_suggestion_query(get_settings_of(request), top, as_of, segment)


class RenameIn(BaseModel):
    """``{"label": "..."}``; ``null`` (or an empty string) restores the model's own label."""

    label: str | None = Field(..., max_length=200)


class SessionIn(BaseModel):
    """A class on a topic: planned, held or cancelled."""

    topic_id: str = Field(..., min_length=1, max_length=32)
    title: str = Field(..., max_length=400)
    date: Date = Field(..., description="YYYY-MM-DD")
    status: Literal["planned", "held", "cancelled"]
    instructor: str | None = Field(None, max_length=200)
    department: str | None = Field(None, max_length=200)

    @field_validator("date", mode="before")
    @classmethod
    def _iso_date_only(cls, value: object) -> object:
        # Pydantic would also take a number of seconds since 1970; people mean a calendar day.
        if not isinstance(value, str) or len(value.strip()) != 10:
            raise ValueError("date should be a day written YYYY-MM-DD")
        return value.strip()


# --------------------------------------------------------------------------- suggestions and topics


@router.get(
    "/suggestions",
    response_class=Response,
    responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}}},
)
def get_suggestions(
    query: Annotated[SuggestionQuery, Depends(suggestion_query)],
    service: Annotated[RecommenderService, Depends(get_service)],
) -> Response:
    """Ranked topic suggestions for the next class (shape in INTERFACE.md, plus extra keys)."""
    body = service.suggestions_json(as_of=query.as_of, top=query.top, segment=query.segment)
    return Response(body, media_type="application/json")


#: OpenAPI description of the export responses (a file, not JSON).
EXPORT_RESPONSES = {
    200: {
        "description": "The table as a file (CSV in UTF-8 with BOM, or XLSX).",
        "content": {
            media.split(";")[0]: {"schema": {"type": "string", "format": "binary"}} for media in exports.FORMATS.values()
        },
    }
}


@router.get("/suggestions/export", response_class=Response, responses=EXPORT_RESPONSES)
def export_suggestions(
    query: Annotated[SuggestionQuery, Depends(suggestion_query)],
    service: Annotated[RecommenderService, Depends(get_service)],
    format: Literal["csv", "xlsx"] = "csv",
) -> Response:
    """The ranked suggestions as a CSV (UTF-8 with BOM) or XLSX download."""
    result = query.call(service)
    body = exports.write_table(
        format, exports.SUGGESTION_HEADER, exports.suggestion_rows(result), sheet_title="主题建议"
    )
    suffix = result["as_of"] + (f"_{query.segment}" if query.segment else "")
    return _download(body, format, f"夜校主题建议_{suffix}.{format}", f"suggestions_{result['as_of']}.{format}")


@router.get("/topics")
def list_topics(service: Annotated[RecommenderService, Depends(get_service)]) -> dict:
    """Every topic of the current model with keywords, examples and live sizes."""
    return service.topics()


@router.get("/topics/{topic_id}")
def get_topic(
    topic_id: str,
    service: Annotated[RecommenderService, Depends(get_service)],
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
) -> dict:
    """One topic: label, keywords, class sessions, lineage events and its feedback (paginated)."""
    return _topic_or_404(service, topic_id, page=page, per_page=per_page)


@router.patch("/topics/{topic_id}")
def rename_topic(
    topic_id: str, body: RenameIn, service: Annotated[RecommenderService, Depends(get_service)], actor: Actor
) -> dict:
    """Set the organizer's label of a topic (kept across retrains); null restores the model's label."""
    return service.rename_topic(topic_id, body.label, actor=actor)


@router.get("/topics/{topic_id}/export", response_class=Response, responses=EXPORT_RESPONSES)
def export_topic(
    topic_id: str,
    service: Annotated[RecommenderService, Depends(get_service)],
    format: Literal["csv", "xlsx"] = "csv",
) -> Response:
    """A topic's feedback (id, time, segment, text, votes, repeat) as a CSV or XLSX download."""
    topic = _topic_or_404(service, topic_id, page=1, per_page=1)
    rows = exports.feedback_rows(service.topic_feedback(topic_id))
    body = exports.write_table(format, exports.FEEDBACK_HEADER, rows, sheet_title=f"{topic_id} 反馈")
    return _download(
        body, format, f"主题{topic_id}_{topic['label']}_反馈.{format}", f"topic_{topic_id}_feedback.{format}"
    )


# --------------------------------------------------------------------------- class sessions


@router.post("/sessions", status_code=201)
def create_session(
    body: SessionIn, service: Annotated[RecommenderService, Depends(get_service)], actor: Actor
) -> dict:
    """Record a planned, held or cancelled class on a topic (a held one cools the topic down)."""
    return service.record_session(
        actor=actor,
        topic_id=body.topic_id,
        title=body.title,
        held_on=body.date,
        status=body.status,
        instructor=body.instructor,
        department=body.department,
    )


@router.get("/sessions")
def list_sessions(service: Annotated[RecommenderService, Depends(get_service)]) -> dict:
    """Every recorded class session, oldest first."""
    return {"sessions": service.sessions()}


# --------------------------------------------------------------------------- retrain


def get_runner(request: Request) -> RetrainRunner:
    """The app's :class:`RetrainRunner` (made by ``create_app``)."""
    return request.app.state.retrain_runner


@router.post("/admin/retrain", status_code=202)
def start_retrain(runner: Annotated[RetrainRunner, Depends(get_runner)], actor: Actor) -> JSONResponse:
    """Start a retrain in the background (202); 409 while one is running."""
    return JSONResponse(runner.start(actor), status_code=202)


@router.get("/admin/retrain")
def retrain_status(runner: Annotated[RetrainRunner, Depends(get_runner)]) -> dict:
    """State of the retrain this service started last: idle, running, finished or failed."""
    return runner.status()


# --------------------------------------------------------------------------- moderation and audit


#: A stored feedback id: bounded to the 64-bit key (a larger number is a 422, not a 500).
FeedbackId = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="The stored feedback id (feedback_id in a topic's members).")]


class HideIn(BaseModel):
    """Why a line is hidden: one of the reasons, and an optional note for the other organizers."""

    reason: Literal["spam", "abuse", "off_topic", "personal_attack", "other"]
    note: str | None = Field(None, max_length=200)



@router.post("/feedback/{feedback_id}/hide")
def hide_feedback(
    feedback_id: FeedbackId, body: HideIn, service: Annotated[RecommenderService, Depends(get_service)], actor: Actor
) -> dict:
    """Hide a feedback line (stored id): it leaves suggestions, quotes, topic pages and exports at once."""
    row = service.hide(feedback_id, body.reason, actor=actor, note=body.note)
    return {"id": row.id, "status": row.status, "moderation_reason": row.moderation_reason}


@router.post("/feedback/{feedback_id}/restore")
def restore_feedback(
    feedback_id: FeedbackId, service: Annotated[RecommenderService, Depends(get_service)], actor: Actor
) -> dict:
    """Count a hidden or flagged line again."""
    row = service.restore(feedback_id, actor=actor)
    return {"id": row.id, "status": row.status}


@router.get("/moderation/flagged")
def flagged_feedback(
    service: Annotated[RecommenderService, Depends(get_service)],
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
) -> dict:
    """Lines that looked automated and wait for review (not counted until restored)."""
    return {**service.moderation_list("flagged", limit=per_page, offset=(page - 1) * per_page), "page": page}


@router.get("/moderation/hidden")
def hidden_feedback(
    service: Annotated[RecommenderService, Depends(get_service)],
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
) -> dict:
    """Lines hidden by organizers, with their reasons (restorable)."""
    return {**service.moderation_list("hidden", limit=per_page, offset=(page - 1) * per_page), "page": page}


@router.get("/audit")
def audit_log(
    service: Annotated[RecommenderService, Depends(get_service)],
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
) -> dict:
    """Organizer and console actions (hide, restore, rename, plan_class, retrain, rollback, purge, withdraw), newest first."""
    return {**service.audit_log(limit=per_page, offset=(page - 1) * per_page), "page": page}


def _no_line(feedback_id: int, state: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"没有编号为 {feedback_id} 的反馈，或它不是可以这样操作的状态（{state}）")


# --------------------------------------------------------------------------- helpers


def _no_topic(topic_id: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"没有编号为 {topic_id} 的主题")


def _topic_or_404(service: RecommenderService, topic_id: str, *, page: int, per_page: int) -> dict:
    return service.topic(topic_id, page=page, per_page=per_page)


def _download(body: bytes, fmt: str, filename: str, fallback: str) -> Response:
    return Response(
        content=body,
        media_type=exports.FORMATS[fmt],
        headers={
            "Content-Disposition": exports.content_disposition(filename, fallback),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
