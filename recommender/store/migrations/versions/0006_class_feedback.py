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

import sqlalchemy as sa
from alembic import op

from recommender.store.migration_steps import add_feedback_tokens, create_class_responses

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_feedback_tokens()
    create_class_responses()


def downgrade() -> None:
    op.drop_index("ix_class_responses_session", table_name="class_responses")
    op.drop_table("class_responses")
    op.drop_index("ix_class_sessions_feedback_token", table_name="class_sessions")
    with op.batch_alter_table("class_sessions") as batch:
        batch.drop_column("feedback_token")
