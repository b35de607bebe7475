"""Planning edits: an organizer's name for a topic and the classes recorded on topics.

Both are side tables the ranking reads (a held class cools its topic down; a label shows on
every suggestion), so each change drops this worker's cached side tables at once.
"""

from __future__ import annotations

from datetime import date

from recommender.errors import NotFound, ValidationFailed
from recommender.ranking.rank import SESSION_STATUSES
from recommender.service.demand_view import DemandView
from recommender.service.shapes import session_json
from recommender.store import FeedbackStore

MAX_LABEL = 30
MAX_TITLE = 200


class Planning:
    """Rename topics and record class sessions (each written to the audit log with its actor)."""

    def __init__(self, store: FeedbackStore, view: DemandView) -> None:
        self.store = store
        self.view = view

    def rename_topic(self, topic_id: str, label: str | None, *, actor: str | None = None) -> dict:
        """Set the organizer's label (kept across retrains); None or blank restores the model's."""
        label = (label or "").strip() or None
        if label is not None and len(label) > MAX_LABEL:
            raise ValidationFailed(f"主题名称最多 {MAX_LABEL} 个字", field="label", code="too_long")
        if not self.store.rename_topic(topic_id, label):
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
        """Record a planned, held or cancelled class on a known topic."""
        title = (title or "").strip()
        if not title:
            raise ValidationFailed("请填写课程名称", field="title", code="required")
        if len(title) > MAX_TITLE:
            raise ValidationFailed(f"课程名称最多 {MAX_TITLE} 个字", field="title", code="too_long")
        if status not in SESSION_STATUSES:
            raise ValidationFailed(
                f"状态只能是 {', '.join(SESSION_STATUSES)}", field="status", code="invalid_choice"
            )
        if topic_id not in self.store.topic_records():
            raise ValidationFailed(f"没有编号为 {topic_id} 的主题", field="topic_id", code="unknown_topic")
        row = self.store.add_session(
            topic_id=topic_id,
            title=title,
            held_on=held_on,
            status=status,
            instructor=(instructor or "").strip() or None,
            department=(department or "").strip() or None,
        )
        self.view.forget_side_tables()
        if actor is not None:
            self.store.audit(
                actor, "plan_class", topic_id,
                {"session_id": row["id"], "title": row["title"], "date": held_on.isoformat(), "status": status},
            )
        return session_json(row)
