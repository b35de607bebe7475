"""The directory of experts and the departments that can send them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

One row per expert: name, department, the subjects they teach (a JSON list of phrases) and
a contact kept as typed (masked in every view but the dashboard's edit form).
"""

import sqlalchemy as sa
from alembic import op

from recommender.store.schema import IdType, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experts",
        sa.Column("id", IdType, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("department", sa.String(100), nullable=False),
        sa.Column("subjects", sa.String(1000), nullable=False, server_default="[]"),
        sa.Column("contact", sa.String(100), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("experts")
