"""Table definitions (SQLAlchemy Core). Alembic migrations under ``migrations/`` create them;
this module is the reference the store's queries are written against."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData()

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
IdType = BigInteger().with_variant(Integer, "sqlite")


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes stored as UTC on every backend (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - defensive for raw SQLite values
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


feedback = Table(
    "feedback",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("external_id", String(200), nullable=True),
    Column("source", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("submitted_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("segment", String(32), nullable=False),
    Column("session_id", String(100), nullable=True),
    Column("submitter_hash", String(64), nullable=True),
    Column("votes", Integer, nullable=False, server_default="0"),
    Column("repeat_of", IdType, ForeignKey("feedback.id", ondelete="SET NULL"), nullable=True),
    # Moderation, withdrawal and retention (migration 0002). Only 'visible' lines count.
    Column("status", String(16), nullable=False, server_default="visible"),
    Column("moderation_reason", String(200), nullable=True),
    Column("flag_reason", String(200), nullable=True),
    Column("receipt_hash", String(64), nullable=True),
    Column("client_key", String(32), nullable=True),
    # Keyed hash of the address alone (migration 0003): a burst from one address, whatever the browser.
    Column("address_key", String(32), nullable=True),
    # Hash of the normalised text: finds "identical text from many people" with an index.
    Column("text_key", String(16), nullable=True),
    Column("fill_seconds", Integer, nullable=True),
    Column("status_changed_at", UTCDateTime, nullable=True),
    UniqueConstraint("source", "external_id", name="uq_feedback_source_external_id"),
)
Index("ix_feedback_submitted_at", feedback.c.submitted_at)
Index("ix_feedback_received_at", feedback.c.received_at)
Index("ix_feedback_submitter", feedback.c.submitter_hash, feedback.c.submitted_at)
Index("ix_feedback_status", feedback.c.status)
Index("ix_feedback_receipt_hash", feedback.c.receipt_hash, unique=True)
Index("ix_feedback_client_key", feedback.c.client_key, feedback.c.received_at)
Index("ix_feedback_address_key", feedback.c.address_key, feedback.c.received_at)
Index("ix_feedback_text_key", feedback.c.text_key, feedback.c.received_at)

#: Feedback statuses: only ``visible`` lines count in suggestions, quotes, topic pages, exports
#: and training. ``hidden`` (an organizer's decision) and ``flagged`` (looked automated) keep
#: their text and can be restored; ``withdrawn`` and ``purged`` lines have lost their text for good.
FEEDBACK_STATUSES = ("visible", "hidden", "flagged", "withdrawn", "purged")

feedback_tokens = Table(
    "feedback_tokens",
    metadata,
    Column("feedback_id", IdType, ForeignKey("feedback.id", ondelete="CASCADE"), primary_key=True),
    Column("tokenizer_version", String(40), nullable=False),
    Column("tokens", Text, nullable=False),
)

assignments = Table(
    "assignments",
    metadata,
    Column("model_version", String(64), primary_key=True),
    Column("feedback_id", IdType, ForeignKey("feedback.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", String(16), nullable=True),
    Column("score", Float, nullable=False),
    # True: the line asks for nothing (thanks, praise); in no topic and never demand.
    Column("no_request", Boolean, nullable=True),
)
Index("ix_assignments_topic", assignments.c.model_version, assignments.c.topic_id)

topics = Table(
    "topics",
    metadata,
    Column("topic_id", String(16), primary_key=True),
    Column("label_override", String(100), nullable=True),
    Column("first_version", String(64), nullable=False),
    Column("last_version", String(64), nullable=False),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("updated_at", UTCDateTime, nullable=False),
)

topic_events = Table(
    "topic_events",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("model_version", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("topic_id", String(16), nullable=False),
    Column("other_topic_ids", Text, nullable=False, server_default=""),
    Column("created_at", UTCDateTime, nullable=False),
)

class_sessions = Table(
    "class_sessions",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("topic_id", String(16), nullable=False),
    Column("title", String(200), nullable=False),
    Column("held_on", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("instructor", String(100), nullable=True),
    Column("department", String(100), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # The unguessable part of the class's post-class feedback link (migration 0006).
    Column("feedback_token", String(32), nullable=True),
)
Index("ix_class_sessions_topic", class_sessions.c.topic_id)
Index("ix_class_sessions_feedback_token", class_sessions.c.feedback_token, unique=True)

# Answers to the post-class form (migration 0006): class feedback, never demand. The
# 「下次想学什么」 text that asks for something is stored as a feedback line (``feedback_id``),
# so it counts, can be withdrawn and is purged like any line; ``text`` keeps only what asks
# for nothing (thanks, praise), masked.
class_responses = Table(
    "class_responses",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("session_id", IdType, ForeignKey("class_sessions.id", ondelete="CASCADE"), nullable=False),
    Column("rating", Integer, nullable=False),
    Column("text", Text, nullable=True),
    Column("feedback_id", IdType, ForeignKey("feedback.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)
Index("ix_class_responses_session", class_responses.c.session_id)

# The directory of experts and the departments that can send them (issue 15). ``contact``
# is kept as the organizer typed it (it is how they reach the expert) and masked in every
# view but the edit form; ``subjects`` is a JSON list of phrases.
experts = Table(
    "experts",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("name", String(50), nullable=False),
    Column("department", String(100), nullable=False),
    Column("subjects", String(1000), nullable=False, server_default="[]"),
    Column("contact", String(100), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(32), nullable=False),
    Column("target", String(200), nullable=True),
    Column("detail", Text, nullable=False, server_default="{}"),
)
Index("ix_audit_log_at", audit_log.c.at)

# An organizer's corrections of the model (migration 0005): a line moved to another topic or
# to none, two topics merged, lines split off into a new topic, a topic pinned or unpinned.
# ``lines`` is JSON {feedback id: its topic before} (what undo restores); the next retrain
# keeps every correction not undone (retrain/publishing.py).
corrections = Table(
    "corrections",
    metadata,
    Column("id", IdType, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    # Where the lines went (move: None is 未归类; merge: the topic kept; split: the new topic)
    # or the topic pinned.
    Column("topic_id", String(16), nullable=True),
    # merge: the topic merged away; split: the topic the lines came from.
    Column("other_topic_id", String(16), nullable=True),
    Column("label", String(100), nullable=True),
    Column("lines", Text, nullable=False, server_default="{}"),
    Column("model_version", String(64), nullable=True),
    Column("actor", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("undone_at", UTCDateTime, nullable=True),
    Column("undone_by", String(100), nullable=True),
    # The labels of topic_id and other_topic_id as the organizer saw them (migration 0008;
    # None on older rows: the list shows the current label).
    Column("topic_label", String(100), nullable=True),
    Column("other_topic_label", String(100), nullable=True),
)
Index("ix_corrections_undone", corrections.c.undone_at)

# Retention: what remains of purged lines, per topic (of the model current at purge time),
# calendar month (UTC, 'YYYY-MM') and segment.
topic_month_counts = Table(
    "topic_month_counts",
    metadata,
    Column("topic_id", String(16), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("segment", String(32), primary_key=True),
    Column("people", Integer, nullable=False),
    Column("lines", Integer, nullable=False),
    Column("votes", Integer, nullable=False),
)

# Small named counters every worker reads; ``moderation`` is bumped in the same transaction as
# any status change, so each worker's demand cache drops hidden or withdrawn lines within a second.
store_counters = Table(
    "store_counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)


def column_length(table: Table, column: str) -> int:
    """The declared length of a string column: the most characters a value may have.
    (SQLite does not enforce it, PostgreSQL does: validation uses these so both agree.)"""
    return int(table.c[column].type.length)
