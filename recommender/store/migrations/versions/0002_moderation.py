"""Moderation, withdrawal and retention: feedback status columns, audit log, monthly aggregates.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05

Batch mode (``render_as_batch``) keeps it portable: on SQLite the new columns are plain
``ALTER TABLE ADD COLUMN`` (all nullable or with a server default), on PostgreSQL as well.
Existing feedback becomes ``visible``.
"""

import sqlalchemy as sa
from alembic import op

from recommender.store.schema import IdType, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="visible"))
        batch.add_column(sa.Column("moderation_reason", sa.String(200), nullable=True))
        batch.add_column(sa.Column("flag_reason", sa.String(200), nullable=True))
        batch.add_column(sa.Column("receipt_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("client_key", sa.String(32), nullable=True))
        batch.add_column(sa.Column("text_key", sa.String(16), nullable=True))
        batch.add_column(sa.Column("fill_seconds", sa.Integer, nullable=True))
        batch.add_column(sa.Column("status_changed_at", UTCDateTime, nullable=True))
        batch.create_index("ix_feedback_status", ["status"])
        batch.create_index("ix_feedback_receipt_hash", ["receipt_hash"], unique=True)
        batch.create_index("ix_feedback_client_key", ["client_key", "received_at"])
        batch.create_index("ix_feedback_text_key", ["text_key", "received_at"])
    op.create_table(
        "audit_log",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("detail", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "topic_month_counts",
        sa.Column("topic_id", sa.String(16), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("segment", sa.String(32), primary_key=True),
        sa.Column("people", sa.Integer, nullable=False),
        sa.Column("lines", sa.Integer, nullable=False),
        sa.Column("votes", sa.Integer, nullable=False),
    )
    op.create_table(
        "store_counters",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("store_counters")
    op.drop_table("topic_month_counts")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_index("ix_feedback_text_key")
        batch.drop_index("ix_feedback_client_key")
        batch.drop_index("ix_feedback_receipt_hash")
        batch.drop_index("ix_feedback_status")
        for column in ("status_changed_at", "fill_seconds", "text_key", "client_key", "receipt_hash", "flag_reason",
                       "moderation_reason", "status"):
            batch.drop_column(column)
