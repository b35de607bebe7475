"""Planning edits: an organizer's name for a topic and the classes recorded on topics.

Both are side tables the ranking reads (a held class cools its topic down; a label shows on
every suggestion), so each change drops this worker's cached side tables at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from recommender.crypto import token_urlsafe
from recommender.door.validation import clean_field
from recommender.errors import Conflict, NoModelError, NotFound, ValidationFailed
from recommender.ranking.rank import SESSION_STATUSES
from recommender.service.demand_view import DemandView
from recommender.service.shapes import session_json
from recommender.store import TEXT_LIMITS, FeedbackStore

#: Limits of what an organizer types: each fits its column (tests/test_field_limits.py checks).
MAX_LABEL = 30
MAX_TITLE = TEXT_LIMITS["session_title"]
MAX_PERSON = TEXT_LIMITS["session_instructor"]  # instructor and department
MAX_TOPIC_ID = TEXT_LIMITS["topic_id"]
#: Random bytes of a class's post-class feedback link (22 URL-safe characters; unguessable).
FEEDBACK_TOKEN_BYTES = 16
_TOPIC_ID = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_TOPIC_ID}}}")


def refuse_taken_label(shown: Mapping[str, str], label: str | None, topic_id: str | None) -> None:
    """Conflict when a shown topic other than ``topic_id`` is called ``label`` already
    (``shown``: topic id → the label it shows, the organizers' or the model's): no two
    topics share a name, or a suggestion, a theme list or an export could not tell them apart."""
    if not label:
        return
    wanted = label.strip().casefold()
    for other, name in shown.items():
        if other != topic_id and (name or "").strip().casefold() == wanted:
            raise Conflict(f"已有主题叫“{label}”（{other}），请换一个名称", code="label_taken")


class Planning:
    """Rename topics and record class sessions (each written to the audit log with its actor)."""

    def __init__(self, store: FeedbackStore, view: DemandView) -> None:
        self.store = store
        self.view = view

    def rename_topic(self, topic_id: str, label: str | None, *, actor: str | None = None) -> dict:
        """Set the organizer's label (kept across retrains); None or blank restores the model's.
        Cleaned and masked like feedback (:func:`recommender.door.validation.clean_field`)."""
        label = clean_field(label, field="label", label="主题名称", limit=MAX_LABEL, numbers=False)
        try:
            shown = self.view.shown_topics()
        except NoModelError:  # no model yet: no topic is shown under any name
            shown = {}
        refuse_taken_label(shown, label, topic_id)
        if not is_topic_id(topic_id) or not self.store.rename_topic(topic_id, label):
            raise NotFound(f"没有编号为 {topic_id} 的主题")
        self.view.forget_side_tables()
        if actor is not None:
            self.store.audit(actor, "rename", topic_id, {"label": label})
        return {"topic_id": topic_id, "label": label}

    def record_session(
        self,
        *,
        topic_id: str,
        title: str,
        held_on: date,
        status: str,
        instructor: str | None = None,
        department: str | None = None,
        actor: str | None = None,
    ) -> dict:
        """Record a planned, held or cancelled class on a known topic (its texts cleaned and
        masked like feedback, each within its column); a held one is on or before the
        organizers' today."""
        title = clean_field(title, field="title", label="课程名称", limit=MAX_TITLE, required=True, numbers=False)
        instructor = clean_field(instructor, field="instructor", label="授课人", limit=MAX_PERSON, numbers=False)
        department = clean_field(department, field="department", label="授课部门", limit=MAX_PERSON, numbers=False)
        if status not in SESSION_STATUSES:
            raise ValidationFailed(
                f"状态只能是 {', '.join(SESSION_STATUSES)}", field="status", code="invalid_choice"
            )
        today = self.view.settings.today()
        if status == "held" and held_on > today:
            # A class after today cannot have been held yet (a well-formed request today's date
            # refuses, so 409 like the other refusals of the current state): most likely a
            # wrong year or the wrong status, and a held class cools its topic down from its date.
            raise Conflict(
                f"“已开课”的日期不能晚于今天（{today.isoformat()}）；以后的课请选“计划中”", code="held_in_future"
            )
        if not is_topic_id(topic_id) or topic_id not in self.store.topic_records():
            raise NotFound(f"没有编号为 {str(topic_id)[:20]} 的主题")
        row = self.store.add_session(
            topic_id=topic_id,
            title=title,
            held_on=held_on,
            status=status,
            instructor=instructor,
            department=department,
            feedback_token=token_urlsafe(FEEDBACK_TOKEN_BYTES),
        )
        self.view.forget_side_tables()
        if actor is not None:
            self.store.audit(
                actor, "plan_class", topic_id,
                {"session_id": row["id"], "title": row["title"], "date": held_on.isoformat(), "status": status},
            )
        return session_json(row)


def is_topic_id(value: object) -> bool:
    """A topic id the store can hold: ``T0001``-like (letters, digits, ``-`` and ``_``, within its
    column). Anything else (a NUL, 17 characters) is no topic: NotFound, never a database error."""
    return isinstance(value, str) and _TOPIC_ID.fullmatch(value) is not None
