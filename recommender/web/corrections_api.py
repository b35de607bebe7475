"""Organizers' corrections of the model under ``/api``: move lines to another topic (or to
未归类), merge two topics, split lines off into a new topic, pin a topic; list the
corrections and undo one.

Each is applied at once to what suggestions, topic pages and exports show, written to the
audit log with its organizer, and kept by the next retrain (see
:mod:`recommender.service.corrections`). Like every organizer route: bearer token or
dashboard session (with CSRF), a response model, errors translated in
:mod:`recommender.web.errors` (``NotFound`` → 404, ``ValidationFailed`` → 422, ``Conflict`` → 409).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path as PathParam
from pydantic import BaseModel, Field, StrictBool

from recommender.service.corrections import MAX_LINES
from recommender.service.planning import MAX_LABEL
from recommender.web.deps import Actor, Service, require_organizer
from recommender.web.queries import TOPIC_ID_PATTERN, PageQuery, TopicId
from recommender.web.schemas import ErrorBody

router = APIRouter(
    prefix="/api",
    tags=["corrections"],
    dependencies=[Depends(require_organizer)],
    responses={
        401: {"model": ErrorBody, "description": "No valid organizer token or session"},
        403: {"model": ErrorBody, "description": "A cookie-authenticated write without its CSRF token"},
    },
)
NOT_FOUND = {404: {"model": ErrorBody, "description": "No such topic, feedback line or correction"}}
NO_MODEL = {503: {"model": ErrorBody, "description": "No model is served yet"}}
CONFLICT = {409: {"model": ErrorBody, "description": "Refused in the current state: undone already, lines already there, "
                                                     "lines of another topic, a topic merged into itself, a split's name "
                                                     "another topic shows already"}}
#: A stored feedback id (``feedback_id`` of a topic's members); in a JSON body, within the
#: integers every JSON reader holds exactly (2**53).
StoredId = Annotated[int, Field(ge=1, le=2**53)]
FeedbackId = Annotated[int, PathParam(ge=1, le=2**63 - 1, examples=[1], description="The stored feedback id (feedback_id in a topic's members).")]
CorrectionId = Annotated[int, PathParam(ge=1, le=2**63 - 1, examples=[1], description="The correction's id (GET /api/corrections).")]


# --------------------------------------------------------------------------- bodies and answers


class MoveIn(BaseModel):
    """Where the line goes: a topic id, or ``null`` for 未归类."""

    topic_id: str | None = Field(..., pattern=TOPIC_ID_PATTERN, examples=["T0003"])


class MoveManyIn(MoveIn):
    """Several lines moved at once (one correction, undone together)."""

    feedback_ids: list[StoredId] = Field(..., min_length=1, max_length=MAX_LINES)


class MergeIn(BaseModel):
    """The topic merged into the one of the path (it leaves the topic lists)."""

    other_topic_id: str = Field(..., pattern=TOPIC_ID_PATTERN, examples=["T0004"])


class SplitIn(BaseModel):
    """Lines of the topic that become a new topic; ``label`` optional (else computed from them)."""

    feedback_ids: list[StoredId] = Field(..., min_length=1, max_length=MAX_LINES)
    label: str | None = Field(None, max_length=MAX_LABEL)


class PinIn(BaseModel):
    pinned: StrictBool = Field(..., description="true: no retrain dissolves the topic; false: unpin it.")


class CorrectionOut(BaseModel):
    """One correction. ``topic_id``: where the lines went (a move's ``null`` is 未归类; a
    merge's kept topic; a split's new topic) or the topic pinned; ``other_topic_id``: the
    topic merged away, or the topic a split took its lines from."""

    id: int
    kind: str = Field(description="move, merge, split, pin or unpin")
    kind_zh: str = Field(examples=["移动反馈"])
    topic_id: str | None
    other_topic_id: str | None
    topic_label: str | None = Field(
        description="topic_id's label when the correction was made (null: none, or made before labels were kept)."
    )
    other_topic_label: str | None = Field(description="other_topic_id's label when the correction was made.")
    label: str | None = Field(description="A split's new topic: its label when it was made.")
    keywords: list[str]
    feedback_ids: list[int] = Field(description="The stored ids of the lines it moved.")
    model_version: str | None
    actor: str
    created_at: str
    undone_at: str | None
    undone_by: str | None
    active: bool = Field(description="Not undone: the next retrain keeps it.")


class UndoneOut(CorrectionOut):
    restored: int = Field(description="Lines put back where they were (those moved again since stay).")


class CorrectionsOut(BaseModel):
    total: int
    items: list[CorrectionOut]
    pinned: list[str] = Field(description="The topics pinned now.")
    page: int


class PinOut(BaseModel):
    topic_id: str
    pinned: bool
    correction: CorrectionOut | None = Field(description="null: the topic was in that state already.")


# --------------------------------------------------------------------------- routes

CHANGES = {**NOT_FOUND, **NO_MODEL, **CONFLICT}


@router.post("/feedback/{feedback_id}/move", status_code=201, response_model=CorrectionOut, responses=CHANGES)
def move_feedback(feedback_id: FeedbackId, body: MoveIn, service: Service, actor: Actor) -> dict:
    """Move a line to another topic (or to 未归类 with null); kept by the next retrain."""
    return service.move_lines([feedback_id], body.topic_id, actor=actor)


@router.post("/corrections/move", status_code=201, response_model=CorrectionOut, responses=CHANGES)
def move_many(body: MoveManyIn, service: Service, actor: Actor) -> dict:
    """Move several lines at once to a topic (or to 未归类 with null): one correction."""
    return service.move_lines(list(body.feedback_ids), body.topic_id, actor=actor)


@router.post("/topics/{topic_id}/merge", status_code=201, response_model=CorrectionOut, responses=CHANGES)
def merge_topics(topic_id: TopicId, body: MergeIn, service: Service, actor: Actor) -> dict:
    """Merge another topic into this one: its lines join this topic and it leaves the lists."""
    return service.merge_topics(topic_id, body.other_topic_id, actor=actor)


@router.post("/topics/{topic_id}/split", status_code=201, response_model=CorrectionOut, responses=CHANGES)
def split_topic(topic_id: TopicId, body: SplitIn, service: Service, actor: Actor) -> dict:
    """Split lines of this topic off into a new topic (label given, or computed from the lines)."""
    return service.split_topic(topic_id, list(body.feedback_ids), body.label, actor=actor)


@router.post("/topics/{topic_id}/pin", response_model=PinOut, responses=CHANGES)
def pin_topic(topic_id: TopicId, body: PinIn, service: Service, actor: Actor) -> dict:
    """Pin a topic (no retrain dissolves it) or unpin it."""
    return service.pin_topic(topic_id, body.pinned, actor=actor)


@router.get("/corrections", response_model=CorrectionsOut)
def list_corrections(service: Service, page: PageQuery) -> dict:
    """Organizers' corrections (moves, merges, splits, pins), newest first, undone ones too."""
    return {**service.list_corrections(limit=page.per_page, offset=page.offset), "page": page.page}


@router.post("/corrections/{correction_id}/undo", response_model=UndoneOut, responses=CHANGES)
def undo_correction(correction_id: CorrectionId, service: Service, actor: Actor) -> dict:
    """Undo a correction: its lines go back where they were; 409 when it was undone already."""
    return service.undo_correction(correction_id, actor=actor)
