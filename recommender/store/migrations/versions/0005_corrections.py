"""Organizers' corrections of the model: moves, merges, splits and pins that last.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

Each correction is applied to the served version's assignments at once and kept here (with
each moved line's previous topic, so it can be undone); every retrain applies the
corrections not undone again and keeps the topics they name (see store/corrections.py).
"""

from alembic import op

from recommender.store.migration_steps import create_corrections

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_corrections()


def downgrade() -> None:
    op.drop_index("ix_corrections_undone", table_name="corrections")
    op.drop_table("corrections")
