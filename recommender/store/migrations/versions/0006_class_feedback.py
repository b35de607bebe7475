"""Post-class feedback: each class gets a feedback link, and the answers are kept per class.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

- ``class_sessions.feedback_token``: the unguessable part of the class's post-class feedback
  link (``/class/<token>``, printed as a QR code on the class poster). Classes recorded
  before get one now.
- ``class_responses``: one row per answer (rating 1–5). Ratings and praise are class
  feedback, never demand; the 「下次想学什么」 text that asks for something is stored as an
  ordinary feedback line and linked here by ``feedback_id``.
"""

import base64
import os

import sqlalchemy as sa
from alembic import op

from recommender.store.schema import IdType, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

def _token() -> str:
    return base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode("ascii")


def upgrade() -> None:
    with op.batch_alter_table("class_sessions") as batch:
        batch.add_column(sa.Column("feedback_token", sa.String(32), nullable=True))
    conn = op.get_bind()
    for (session_id,) in conn.execute(sa.text("SELECT id FROM class_sessions")).all():
        conn.execute(
            sa.text("UPDATE class_sessions SET feedback_token = :token WHERE id = :id"),
            {"token": _token(), "id": session_id},
        )
    op.create_index("ix_class_sessions_feedback_token", "class_sessions", ["feedback_token"], unique=True)
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


def downgrade() -> None:
    op.drop_index("ix_class_responses_session", table_name="class_responses")
    op.drop_table("class_responses")
    op.drop_index("ix_class_sessions_feedback_token", table_name="class_sessions")
    with op.batch_alter_table("class_sessions") as batch:
        batch.drop_column("feedback_token")
