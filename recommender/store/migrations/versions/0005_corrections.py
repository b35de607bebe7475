"""Organizers' corrections of the model: moves, merges, splits and pins that last.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

Each correction is applied to the served version's assignments at once and kept here (with
each moved line's previous topic, so it can be undone); every retrain applies the
corrections not undone again and keeps the topics they name (see store/corrections.py).
"""

import sqlalchemy as sa
from alembic import op

from recommender.store.schema import IdType, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
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
    )
    op.create_index("ix_corrections_undone", "corrections", ["undone_at"])


def downgrade() -> None:
    op.drop_index("ix_corrections_undone", table_name="corrections")
    op.drop_table("corrections")
