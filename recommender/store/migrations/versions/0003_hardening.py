"""Hardening (issue 16): the address key of the flood check; personal data already stored.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06

- ``feedback.address_key`` (a keyed hash of the client address alone, whatever the browser)
  with its index: a burst from one address is flagged even when each line claims another
  User-Agent.
- Text typed before every field was masked is masked now: the class attended
  (``feedback.session_id``), organizer labels, class titles, instructors, departments,
  hiding notes and the audit log's copies of them.
- Withdrawn and purged lines lose the hash of their text (``text_key``) too.
"""

import json

import sqlalchemy as sa
from alembic import op

from recommender.text.masking import mask_personal_data

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: (table, key column, {text column: its length}) whose values a person typed.
TYPED = (
    ("feedback", "id", {"session_id": 100, "moderation_reason": 200}),
    ("class_sessions", "id", {"title": 200, "instructor": 100, "department": 100}),
    ("topics", "topic_id", {"label_override": 100}),
)


def _masked_json(value):
    if isinstance(value, str):
        return mask_personal_data(value)
    if isinstance(value, list):
        return [_masked_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _masked_json(v) for k, v in value.items()}
    return value


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("address_key", sa.String(32), nullable=True))
        batch.create_index("ix_feedback_address_key", ["address_key", "received_at"])
    conn = op.get_bind()
    for table, key, columns in TYPED:
        for column, length in columns.items():
            rows = conn.execute(
                sa.text(f"SELECT {key}, {column} FROM {table} WHERE {column} IS NOT NULL")
            ).all()
            for row_key, value in rows:
                masked = mask_personal_data(value)
                if masked != value:
                    conn.execute(
                        sa.text(f"UPDATE {table} SET {column} = :value WHERE {key} = :key"),
                        {"value": masked[:length], "key": row_key},
                    )
    for entry_id, detail in conn.execute(sa.text("SELECT id, detail FROM audit_log")).all():
        try:
            parsed = json.loads(detail or "{}")
        except ValueError:
            continue
        masked = json.dumps(_masked_json(parsed), ensure_ascii=False)
        if masked != json.dumps(parsed, ensure_ascii=False):
            conn.execute(sa.text("UPDATE audit_log SET detail = :detail WHERE id = :id"), {"detail": masked, "id": entry_id})
    conn.execute(sa.text("UPDATE feedback SET text_key = NULL WHERE status IN ('withdrawn', 'purged')"))


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_index("ix_feedback_address_key")
        batch.drop_column("address_key")
