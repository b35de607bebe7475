"""Repair of databases made between the renumbering of 0006 and 0007.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Migration 0007 (experts) was once written to follow 0004 (commit cd3b737), then 0005
(967dce6), before 0006 (class feedback) was put in front of it. A database migrated by one of
those commits is stamped 0007 without what 0005 and 0006 add, and alembic never runs them
there. This revision creates, only where it is missing, what they add: ``corrections`` (with
0008's label columns), ``class_sessions.feedback_token`` (a token for every class recorded
before, as 0006 gives them) with its unique index, and ``class_responses``. On a database
migrated in order it changes nothing. 0008 skips a missing ``corrections`` (made whole here).
"""

import sqlalchemy as sa
from alembic import op

from recommender.store.migration_steps import add_feedback_tokens, create_class_responses, create_corrections

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    tables = set(inspector.get_table_names())
    if "corrections" not in tables:
        create_corrections(labels=True)
    else:
        _add_correction_labels({c["name"] for c in inspector.get_columns("corrections")})
    if "feedback_token" not in {c["name"] for c in inspector.get_columns("class_sessions")}:
        add_feedback_tokens()
    if "class_responses" not in tables:
        create_class_responses()


def downgrade() -> None:
    """Nothing: what this revision created belongs to 0005, 0006 and 0008 (their downgrades)."""


def _add_correction_labels(present: set[str]) -> None:
    """0008's columns, where a ``corrections`` table lacks them."""
    missing = [name for name in ("topic_label", "other_topic_label") if name not in present]
    if missing:
        with op.batch_alter_table("corrections") as batch:
            for name in missing:
                batch.add_column(sa.Column(name, sa.String(100), nullable=True))
