"""The topics' labels as the organizer saw them when making a correction.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

The corrections list (主题更正) names each correction's topics; a topic renamed or relabelled
by a retrain since would otherwise show its label of today, not the one the organizer picked.
Rows made before this revision have none and fall back to the current label.
A database without ``corrections`` (stamped 0007 by commit cd3b737, see 0009) is left to 0009.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not sa.inspect(op.get_bind()).has_table("corrections"):
        return  # a database stamped 0007 by commit cd3b737 (0007 after 0004): 0009 creates it whole
    with op.batch_alter_table("corrections") as batch:
        batch.add_column(sa.Column("topic_label", sa.String(100), nullable=True))
        batch.add_column(sa.Column("other_topic_label", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("corrections") as batch:
        batch.drop_column("other_topic_label")
        batch.drop_column("topic_label")
