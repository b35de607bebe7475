"""Initial schema: feedback, token cache, assignments, topics, events, class sessions.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

from recommender.store.schema import IdType, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("submitted_at", UTCDateTime, nullable=False),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("segment", sa.String(32), nullable=False),
        sa.Column("session_id", sa.String(100), nullable=True),
        sa.Column("submitter_hash", sa.String(64), nullable=True),
        sa.Column("votes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("repeat_of", IdType, sa.ForeignKey("feedback.id", ondelete="SET NULL"), nullable=True),
        sa.UniqueConstraint("source", "external_id", name="uq_feedback_source_external_id"),
    )
    op.create_index("ix_feedback_submitted_at", "feedback", ["submitted_at"])
    op.create_index("ix_feedback_received_at", "feedback", ["received_at"])
    op.create_index("ix_feedback_submitter", "feedback", ["submitter_hash", "submitted_at"])
    op.create_table(
        "feedback_tokens",
        sa.Column("feedback_id", IdType, sa.ForeignKey("feedback.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("tokenizer_version", sa.String(40), nullable=False),
        sa.Column("tokens", sa.Text, nullable=False),
    )
    op.create_table(
        "assignments",
        sa.Column("model_version", sa.String(64), primary_key=True),
        sa.Column("feedback_id", IdType, sa.ForeignKey("feedback.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("topic_id", sa.String(16), nullable=True),
        sa.Column("score", sa.Float, nullable=False),
    )
    op.create_index("ix_assignments_topic", "assignments", ["model_version", "topic_id"])
    op.create_table(
        "topics",
        sa.Column("topic_id", sa.String(16), primary_key=True),
        sa.Column("label_override", sa.String(100), nullable=True),
        sa.Column("first_version", sa.String(64), nullable=False),
        sa.Column("last_version", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "topic_events",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("topic_id", sa.String(16), nullable=False),
        sa.Column("other_topic_ids", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "class_sessions",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("topic_id", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("held_on", sa.Date, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("instructor", sa.String(100), nullable=True),
        sa.Column("department", sa.String(100), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_class_sessions_topic", "class_sessions", ["topic_id"])


def downgrade() -> None:
    for table in ("class_sessions", "topic_events", "topics", "assignments", "feedback_tokens", "feedback"):
        op.drop_table(table)
