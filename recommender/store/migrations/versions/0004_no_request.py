"""Assignments say which lines ask for nothing (thanks, praise of a class).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

A line in no topic either asks for something no topic covers (未归类, counted and shown as
possible new demand) or asks for nothing at all (课堂反馈: "讲得很好，谢谢老师"), which is
never demand. ``no_request`` is true for the second kind; existing rows get NULL (unknown:
treated as 未归类 until the next retrain or assignment pass writes them again).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("no_request", sa.Boolean, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assignments") as batch:
        batch.drop_column("no_request")
