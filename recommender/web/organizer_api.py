"""Organizer JSON API under ``/api``: suggestions, themes and topics, lines in no topic and
new demand, class sessions, retrain, exports, moderation (hide, restore, the flagged review
list) and the audit log.

Every state change is written to the audit log with the organizer who made it
(:meth:`recommender.web.auth.OrganizerAuth.actor`: the name of a ``name:token`` entry of
``RECOMMENDER_ORGANIZER_TOKENS``, else ``organizer-<4 hex>`` of a keyed hash of the token).

Every route here depends on :func:`recommender.web.deps.require_organizer` (router level),
so none can be added without it, and declares its response model
(:mod:`recommender.web.schemas`). The routes only parse, call the service and shape the
response; errors (``NotFound`` → 404 …) are translated in :mod:`recommender.web.errors`.
"""

from __future__ import annotations

import logging
from datetime import date as Date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path as PathParam, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, field_validator

from recommender.errors import NoModelError
from recommender.service.moderation import MAX_NOTE
from recommender.service.planning import MAX_LABEL, MAX_PERSON, MAX_TITLE
from recommender.web import exports
from recommender.web.class_pages import with_links
from recommender.web.deps import Actor, Runner, Service, require_organizer
from recommender.web.retrain_view import retrain_summary, retrain_view
from recommender.web.queries import TOPIC_ID_PATTERN, PageQuery, SuggestionFilters, TopicId
from recommender.web.schemas import (
    AuditOut,
    ClassAnswersOut,
    ErrorBody,
    HiddenOut,
    ModerationListOut,
    NewDemandOut,
    NoTopicOut,
    RenameOut,
    RestoredOut,
    RetrainStartedOut,
    RetrainStatusOut,
    SessionOut,
    SessionsOut,
    SuggestionsOut,
    ThemesOut,
    TopicDetailOut,
    TopicsOut,
)

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api",
    tags=["organizer"],
    dependencies=[Depends(require_organizer)],
    responses={
        401: {"model": ErrorBody, "description": "No valid organizer token or session"},
        403: {"model": ErrorBody, "description": "A cookie-authenticated write without its CSRF token"},
    },
)
NOT_FOUND = {404: {"model": ErrorBody, "description": "No such topic or feedback line"}}
#: Free text an organizer types: at least one letter or digit (cleaned and masked like feedback).
HAS_CONTENT = {"pattern": r"[^\W_]"}


# --------------------------------------------------------------------------- request bodies


class RenameIn(BaseModel):
    """``{"label": "..."}``; ``null`` (or an empty string) restores the model's own label."""

    label: str | None = Field(..., max_length=MAX_LABEL)


class SessionIn(BaseModel):
    """A class on a topic: planned, held or cancelled."""

    topic_id: str = Field(..., pattern=TOPIC_ID_PATTERN)
    title: str = Field(..., min_length=1, max_length=MAX_TITLE, json_schema_extra=HAS_CONTENT)
    date: Date = Field(..., description="YYYY-MM-DD")
    status: Literal["planned", "held", "cancelled"]
    instructor: str | None = Field(None, max_length=MAX_PERSON)
    department: str | None = Field(None, max_length=MAX_PERSON)

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
    responses={200: {"model": SuggestionsOut, "description": "Ranked suggestions (INTERFACE.md shape)"}},
)
def get_suggestions(query: SuggestionFilters, service: Service) -> Response:
    """Ranked topic suggestions for the next class (shape in INTERFACE.md, plus extra keys)."""
    # The hot path: the service encodes each cached ranking once (SuggestionsOut documents it).
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
def export_suggestions(query: SuggestionFilters, service: Service, format: Literal["csv", "xlsx"] = "csv") -> Response:
    """The ranked suggestions as a CSV (UTF-8 with BOM) or XLSX download."""
    result = query.call(service)
    body = exports.write_table(
        format, exports.SUGGESTION_HEADER, exports.suggestion_rows(result), sheet_title="主题建议"
    )
    suffix = result["as_of"] + (f"_{query.segment}" if query.segment else "")
    return _download(body, format, f"夜校主题建议_{suffix}.{format}", f"suggestions_{result['as_of']}.{format}")


@router.get("/topics", response_model=TopicsOut)
def list_topics(service: Service) -> dict:
    """Every topic of the current model with keywords, examples and live sizes."""
    return service.topics()


@router.get("/themes", response_model=ThemesOut)
def list_themes(service: Service) -> dict:
    """Themes (groups of related topics, for browsing), each with its topics; and how many lines are in no topic."""
    return service.themes()


@router.get("/new-demand", response_model=NewDemandOut)
def get_new_demand(service: Service) -> dict:
    """新出现的需求: new lines since the last retrain that fit no topic, grouped, with the retrain advice."""
    return service.new_demand()


@router.get("/no-topic", response_model=NoTopicOut)
def list_no_topic(
    service: Service, page: PageQuery, kind: Literal["no_topic", "no_request"] = "no_topic"
) -> dict:
    """Lines in no topic: 未归类 (ask for something no topic covers) or 课堂反馈 (``kind=no_request``: thanks, praise)."""
    return service.no_topic(no_request=kind == "no_request", page=page.page, per_page=page.per_page)


@router.get("/topics/{topic_id}", response_model=TopicDetailOut, responses=NOT_FOUND)
def get_topic(request: Request, topic_id: TopicId, service: Service, page: PageQuery) -> dict:
    """One topic: label, keywords, class sessions, lineage events and its feedback (paginated)."""
    topic = service.topic(topic_id, page=page.page, per_page=page.per_page)
    return {**topic, "sessions": [with_links(request, s) for s in topic["sessions"]]}


@router.patch(
    "/topics/{topic_id}", response_model=RenameOut,
    responses={**NOT_FOUND, 409: {"model": ErrorBody, "description": "Another topic shows this name already (label_taken)"}},
)
def rename_topic(topic_id: TopicId, body: RenameIn, service: Service, actor: Actor) -> dict:
    """Set the organizer's label of a topic (kept across retrains); null restores the model's label."""
    return service.rename_topic(topic_id, body.label, actor=actor)


@router.get("/topics/{topic_id}/export", response_class=Response, responses={**EXPORT_RESPONSES, **NOT_FOUND})
def export_topic(topic_id: TopicId, service: Service, format: Literal["csv", "xlsx"] = "csv") -> Response:
    """A topic's feedback (id, time, segment, text, votes, repeat) as a CSV or XLSX download."""
    topic = service.topic(topic_id, page=1, per_page=1)
    rows = exports.feedback_rows(service.topic_feedback(topic_id), tz=service.settings.tz)
    body = exports.write_table(format, exports.FEEDBACK_HEADER, rows, sheet_title=f"{topic_id} 反馈")
    return _download(
        body, format, f"主题{topic_id}_{topic['label']}_反馈.{format}", f"topic_{topic_id}_feedback.{format}"
    )


# --------------------------------------------------------------------------- class sessions


#: POST /api/sessions refused by today's date.
HELD_IN_FUTURE = {409: {"model": ErrorBody, "description": "held_in_future: a class recorded as held on a day after the organizers' today"}}


@router.post("/sessions", status_code=201, response_model=SessionOut, responses={**NOT_FOUND, **HELD_IN_FUTURE})
def create_session(request: Request, body: SessionIn, service: Service, actor: Actor) -> dict:
    """Record a planned, held or cancelled class on a topic (a held one cools the topic down);
    the answer carries its post-class feedback link (``feedback_url``) and poster addresses."""
    session = service.record_session(
        actor=actor,
        topic_id=body.topic_id,
        title=body.title,
        held_on=body.date,
        status=body.status,
        instructor=body.instructor,
        department=body.department,
    )
    return with_links(request, session)


@router.get(
    "/sessions/{class_id}/answers",
    response_model=ClassAnswersOut,
    responses={404: {"model": ErrorBody, "description": "No such class"}},
)
def class_answers(
    class_id: Annotated[int, PathParam(ge=1, le=2**63 - 1, description="The class's id (`id` of a session).")],
    service: Service,
) -> dict:
    """The newest answers to a class's post-class form: ratings, praise and 下次想学什么."""
    return {"session_id": class_id, "answers": service.class_answers(class_id)}


@router.get("/sessions", response_model=SessionsOut)
def list_sessions(request: Request, service: Service) -> dict:
    """Every recorded class session, oldest first, each with its rating, number of answers and the demand before and after."""
    return {"sessions": [with_links(request, s) for s in service.sessions()]}


# --------------------------------------------------------------------------- retrain


@router.post(
    "/admin/retrain",
    status_code=202,
    response_model=RetrainStartedOut,
    response_model_exclude_unset=True,
    responses={409: {"model": ErrorBody, "description": "A retrain is already running"}},
)
def start_retrain(runner: Runner, actor: Actor) -> dict:
    """Start a retrain in the background (202); 409 while one is running."""
    return runner.start(actor)


@router.get("/admin/retrain", response_model=RetrainStatusOut, response_model_exclude_unset=True)
def retrain_status(runner: Runner, service: Service) -> dict:
    """State of the retrain this service (any worker) started last: idle, running, finished or failed;
    once finished, what it changed (``result``) and ``summary`` in words."""
    status = runner.status()
    labels: dict[str, str] = {}
    if status.get("result"):
        try:
            labels = {t["topic_id"]: t["label"] for t in service.topics()["topics"]}
        except NoModelError:
            pass
    summary = retrain_summary(retrain_view(status, labels, service.settings.tz))
    return {**status, **({"summary": summary} if summary else {})}


# --------------------------------------------------------------------------- moderation and audit


#: A stored feedback id: bounded to the 64-bit key (a larger number is a 422, not a 500).
FeedbackId = Annotated[int, PathParam(ge=1, le=2**63 - 1, examples=[1], description="The stored feedback id (feedback_id in a topic's members).")]


class HideIn(BaseModel):
    """Why a line is hidden: one of the reasons, and an optional note for the other organizers."""

    reason: Literal["spam", "abuse", "off_topic", "personal_attack", "other"]
    note: str | None = Field(None, max_length=MAX_NOTE)




@router.post("/feedback/{feedback_id}/hide", response_model=HiddenOut, responses=NOT_FOUND)
def hide_feedback(feedback_id: FeedbackId, body: HideIn, service: Service, actor: Actor) -> dict:
    """Hide a feedback line (stored id): it leaves suggestions, quotes, topic pages and exports at once."""
    row = service.hide(feedback_id, body.reason, actor=actor, note=body.note)
    return {"id": row.id, "status": row.status, "moderation_reason": row.moderation_reason}


@router.post("/feedback/{feedback_id}/restore", response_model=RestoredOut, responses=NOT_FOUND)
def restore_feedback(feedback_id: FeedbackId, service: Service, actor: Actor) -> dict:
    """Count a hidden or flagged line again."""
    row = service.restore(feedback_id, actor=actor)
    return {"id": row.id, "status": row.status}


@router.get("/moderation/flagged", response_model=ModerationListOut)
def flagged_feedback(service: Service, page: PageQuery) -> dict:
    """Lines that looked automated and wait for review (not counted until restored)."""
    return {**service.moderation_list("flagged", limit=page.per_page, offset=page.offset), "page": page.page}


@router.get("/moderation/hidden", response_model=ModerationListOut)
def hidden_feedback(service: Service, page: PageQuery) -> dict:
    """Lines hidden by organizers, with their reasons (restorable)."""
    return {**service.moderation_list("hidden", limit=page.per_page, offset=page.offset), "page": page.page}


@router.get("/audit", response_model=AuditOut)
def audit_log(service: Service, page: PageQuery) -> dict:
    """Organizer and console actions (hide, restore, rename, plan_class, retrain, rollback, purge, withdraw), newest first."""
    return {**service.audit_log(limit=page.per_page, offset=page.offset), "page": page.page}


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
