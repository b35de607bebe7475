"""The directory of experts: who can teach what, and which department sends them."""

from __future__ import annotations

import json

from sqlalchemy import delete, insert, select, update

from recommender.store.engine import StoreEngine
from recommender.store.rows import now_utc
from recommender.store.schema import experts


def _row(row) -> dict:
    out = dict(row._mapping)
    out["subjects"] = json.loads(out["subjects"] or "[]")
    return out


class ExpertTables(StoreEngine):
    """Experts as plain dicts: ``id, name, department, subjects (list), contact, created_at, updated_at``."""

    def add_expert(self, *, name: str, department: str, subjects: list[str], contact: str | None) -> dict:
        now = now_utc()
        with self._write() as conn:
            new_id = conn.execute(
                insert(experts)
                .values(
                    name=name,
                    department=department,
                    subjects=json.dumps(subjects, ensure_ascii=False),
                    contact=contact,
                    created_at=now,
                    updated_at=now,
                )
                .returning(experts.c.id)
            ).scalar_one()
            return _row(conn.execute(select(experts).where(experts.c.id == new_id)).one())

    def update_expert(
        self, expert_id: int, *, name: str, department: str, subjects: list[str], contact: str | None
    ) -> dict | None:
        """The updated expert, or None when there is no such expert."""
        with self._write() as conn:
            changed = conn.execute(
                update(experts)
                .where(experts.c.id == expert_id)
                .values(
                    name=name,
                    department=department,
                    subjects=json.dumps(subjects, ensure_ascii=False),
                    contact=contact,
                    updated_at=now_utc(),
                )
            ).rowcount
            if not changed:
                return None
            return _row(conn.execute(select(experts).where(experts.c.id == expert_id)).one())

    def delete_expert(self, expert_id: int) -> dict | None:
        """The deleted expert, or None when there was none."""
        with self._write() as conn:
            row = conn.execute(select(experts).where(experts.c.id == expert_id)).first()
            if row is None:
                return None
            conn.execute(delete(experts).where(experts.c.id == expert_id))
            return _row(row)

    def get_expert(self, expert_id: int) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(experts).where(experts.c.id == expert_id)).first()
        return None if row is None else _row(row)

    def list_experts(self) -> list[dict]:
        """Every expert, by department then name (then id)."""
        query = select(experts).order_by(experts.c.department, experts.c.name, experts.c.id)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query)]
