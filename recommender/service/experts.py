"""The directory of experts: add, edit, delete, import, and the shapes every view shows.

The contact is kept as typed and shown masked (:func:`recommender.text.contact.mask_contact`)
everywhere but the edit form (``reveal_contact=True``). Each change is audited with its
actor (never with the contact) and drops the cached side tables, so the next suggestions
list the experts as they are now.
"""

from __future__ import annotations

from pathlib import Path

from recommender.door.experts import ExpertDraft, clean_expert, read_experts_file
from recommender.errors import NotFound
from recommender.ranking.experts import ExpertEntry
from recommender.service.demand_view import DemandView
from recommender.store import FeedbackStore
from recommender.text.contact import mask_contact


def expert_json(row: dict, *, reveal_contact: bool = False) -> dict:
    """An expert as the API and the pages show it: the contact masked unless revealed."""
    return {
        "id": row["id"],
        "name": row["name"],
        "department": row["department"],
        "subjects": list(row["subjects"]),
        "contact": row["contact"] if reveal_contact else mask_contact(row["contact"]),
        "updated_at": row["updated_at"].isoformat(),
    }


def expert_entries(rows: list[dict]) -> tuple[ExpertEntry, ...]:
    """What matching needs of each stored expert."""
    return tuple(ExpertEntry(r["name"], r["department"], tuple(r["subjects"])) for r in rows)


class ExpertDirectory:
    """Experts in the store, each change audited."""

    def __init__(self, store: FeedbackStore, view: DemandView) -> None:
        self.store = store
        self.view = view

    def experts(self) -> list[dict]:
        return [expert_json(r) for r in self.store.list_experts()]

    def expert(self, expert_id: int, *, reveal_contact: bool = False) -> dict:
        row = self.store.get_expert(expert_id)
        if row is None:
            raise NotFound(f"没有编号为 {expert_id} 的专家")
        return expert_json(row, reveal_contact=reveal_contact)

    def add(self, *, actor: str | None = None, **fields: object) -> dict:
        draft = clean_expert(**fields)
        row = self.store.add_expert(**_values(draft))
        self._changed(actor, "expert_add", row)
        return expert_json(row)

    def update(self, expert_id: int, *, actor: str | None = None, **fields: object) -> dict:
        draft = clean_expert(**fields)
        row = self.store.update_expert(expert_id, **_values(draft))
        if row is None:
            raise NotFound(f"没有编号为 {expert_id} 的专家")
        self._changed(actor, "expert_edit", row)
        return expert_json(row)

    def delete(self, expert_id: int, *, actor: str | None = None) -> dict:
        row = self.store.delete_expert(expert_id)
        if row is None:
            raise NotFound(f"没有编号为 {expert_id} 的专家")
        self._changed(actor, "expert_delete", row)
        return expert_json(row)

    def import_file(self, path: Path | str, *, actor: str | None = None, columns: dict[str, str] | None = None) -> dict:
        """Import a CSV/XLSX directory: an expert already listed (same name and department)
        is updated, not added twice. ``{"columns", "added", "updated", "skipped": [{line, reason}]}``."""
        columns, rows = read_experts_file(path, columns)
        known = {(r["name"], r["department"]): r["id"] for r in self.store.list_experts()}
        added = updated = 0
        skipped = []
        for row in rows:
            if row.expert is None:
                skipped.append({"line": row.line, "reason": row.problem})
                continue
            key = (row.expert.name, row.expert.department)
            if key in known:
                self.store.update_expert(known[key], **_values(row.expert))
                updated += 1
            else:
                known[key] = self.store.add_expert(**_values(row.expert))["id"]
                added += 1
        if added or updated:
            self.view.forget_side_tables()
            if actor is not None:
                self.store.audit(actor, "expert_import", Path(path).name[:200], {"added": added, "updated": updated})
        return {"columns": columns, "added": added, "updated": updated, "skipped": skipped}

    def _changed(self, actor: str | None, action: str, row: dict) -> None:
        self.view.forget_side_tables()
        if actor is not None:
            self.store.audit(actor, action, f"expert:{row['id']}", {"name": row["name"], "department": row["department"]})


def _values(draft: ExpertDraft) -> dict:
    return {"name": draft.name, "department": draft.department, "subjects": draft.subjects, "contact": draft.contact}
