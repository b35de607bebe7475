"""Schema steps more than one migration runs: 0005 and 0006 made these objects, and 0009
makes them again on a database that was stamped past those revisions without them (see
``migrations/versions/0009_repair_renumbered.py``).

Frozen: each step creates what its revision created on the day it was written. A later
change of these tables is a new migration, never an edit here.
"""

from __future__ import annotations

import base64
import os

import sqlalchemy as sa
from alembic import op

from recommender.store.schema import IdType, UTCDateTime

__all__ = ["add_feedback_tokens", "create_class_responses", "create_corrections"]


def create_corrections(*, labels: bool = False) -> None:
    """0005's ``corrections`` table and its index; ``labels``: with 0008's two label columns."""
    label_columns = [sa.Column(name, sa.String(100), nullable=True) for name in ("topic_label", "other_topic_label")]
    op.create_table(
        "corrections",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("topic_id", sa.String(16), nullable=True),
        sa.Column("other_topic_id", sa.String(16), nullable=True),
        sa.Column("label", sa.String(100), nullable=True),
        sa.Column("lines", sa.Text, nullable=False, server_default="{}"),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("undone_at", UTCDateTime, nullable=True),
        sa.Column("undone_by", sa.String(100), nullable=True),
        *(label_columns if labels else []),
    )
    op.create_index("ix_corrections_undone", "corrections", ["undone_at"])


def _token() -> str:
    return base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode("ascii")


def add_feedback_tokens() -> None:
    """0006's ``class_sessions.feedback_token``: the column, a token for every class recorded
    before, and its unique index."""
    with op.batch_alter_table("class_sessions") as batch:
        batch.add_column(sa.Column("feedback_token", sa.String(32), nullable=True))
    conn = op.get_bind()
    for (session_id,) in conn.execute(sa.text("SELECT id FROM class_sessions")).all():
        conn.execute(
            sa.text("UPDATE class_sessions SET feedback_token = :token WHERE id = :id"),
            {"token": _token(), "id": session_id},
        )
    op.create_index("ix_class_sessions_feedback_token", "class_sessions", ["feedback_token"], unique=True)


def create_class_responses() -> None:
    """0006's ``class_responses`` table and its index."""
    op.create_table(
        "class_responses",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("session_id", IdType, sa.ForeignKey("class_sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rating", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=True),
        sa.Column("feedback_id", IdType, sa.ForeignKey("feedback.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_class_responses_session", "class_responses", ["session_id"])
