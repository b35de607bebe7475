"""The JSON shapes of stored rows as the service answers them (web and CLI alike)."""

from __future__ import annotations

from recommender.store import StoredFeedback


def feedback_json(row: StoredFeedback) -> dict:
    """A topic member: ``id`` is the public id, ``feedback_id`` the stored number."""
    return {
        "id": row.public_id,
        "feedback_id": row.id,
        "text": row.text,
        "submitted_at": row.submitted_at.isoformat(),
        "segment": row.segment,
        "session_id": row.session_id,
        "votes": row.votes,
        "is_repeat": row.is_repeat,
        "source": row.source,
    }


def moderation_json(row: StoredFeedback) -> dict:
    """A line on the review list (flagged) or among the hidden ones."""
    return {
        "id": row.id,
        "public_id": row.public_id,
        "text": row.text,
        "submitted_at": row.submitted_at.isoformat(),
        "segment": row.segment,
        "source": row.source,
        "status": row.status,
        "moderation_reason": row.moderation_reason,
        "flag_reason": row.flag_reason,
        "status_changed_at": row.status_changed_at.isoformat() if row.status_changed_at else None,
    }


def session_json(row: dict) -> dict:
    """A recorded class (planned, held or cancelled)."""
    return {
        "id": row["id"],
        "topic_id": row["topic_id"],
        "title": row["title"],
        "date": row["held_on"].isoformat(),
        "status": row["status"],
        "instructor": row["instructor"],
        "department": row["department"],
        # The post-class form (absolute URL made by the web layer); None only for a class
        # recorded before links existed and not migrated (never after migration 0006).
        "feedback_path": f"/class/{row['feedback_token']}" if row.get("feedback_token") else None,
    }
