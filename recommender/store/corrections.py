"""Organizers' corrections of the model: a line moved, two topics merged, lines split off into
a new topic, a topic pinned.

A correction changes the served version's assignments at once (the same transaction writes
its row, its audit entry and bumps the moderation counter, so every worker's demand cache
rebuilds) and stays: each retrain keeps the topics corrections name (``protected_topics``:
the fit's ``pinned``) and puts the corrected lines back where the organizer put them
(``reapply_corrections``). Undo restores each line's previous topic, unless a later change
moved the line again.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, insert, select, update

from recommender.store.engine import MODERATION_COUNTER, StoreEngine
from recommender.store.rows import as_utc, chunks, now_utc
from recommender.store.schema import assignments, corrections, topics

#: What a correction can be.
CORRECTION_KINDS = ("move", "merge", "split", "pin", "unpin")


@dataclass(frozen=True)
class Correction:
    """One stored correction (``lines``: each line's topic before it, None for 未归类)."""

    id: int
    kind: str
    topic_id: str | None
    other_topic_id: str | None
    label: str | None
    lines: dict[int, str | None]
    model_version: str | None
    actor: str
    created_at: datetime
    undone_at: datetime | None
    undone_by: str | None
    #: The labels of ``topic_id`` and ``other_topic_id`` when the correction was made (None
    #: on rows made before migration 0008).
    topic_label: str | None = None
    other_topic_label: str | None = None

    @property
    def active(self) -> bool:
        return self.undone_at is None


def _row_to_correction(row) -> Correction:
    lines = json.loads(row.lines or "{}")
    return Correction(
        id=int(row.id),
        kind=row.kind,
        topic_id=row.topic_id,
        other_topic_id=row.other_topic_id,
        label=row.label,
        lines={int(k): v for k, v in lines.items()},
        model_version=row.model_version,
        actor=row.actor,
        created_at=as_utc(row.created_at),
        undone_at=as_utc(row.undone_at),
        undone_by=row.undone_by,
        topic_label=row.topic_label,
        other_topic_label=row.other_topic_label,
    )


def _label(label: str | None) -> str | None:
    """A label as stored with a correction (the column's 100 characters; empty is none)."""
    return (label or "")[:100] or None


class CorrectionTables(StoreEngine):
    """The corrections table, the assignments it changes, and what a retrain keeps of it."""

    def add_correction(
        self,
        kind: str,
        *,
        model_version: str,
        actor: str,
        topic_id: str | None,
        other_topic_id: str | None = None,
        line_ids: Iterable[int] = (),
        label: str | None = None,
        new_topic_label: str | None = None,
        shown_labels: tuple[str | None, str | None] = (None, None),
        audit_detail: dict | None = None,
    ) -> Correction:
        """Store a correction and apply it to ``model_version``'s assignments, in one transaction.

        ``move`` and ``split`` put ``line_ids`` in ``topic_id`` (a move to None: 未归类);
        ``merge`` puts every line of ``other_topic_id`` in ``topic_id``; ``split`` ignores
        ``topic_id`` and records a new topic (a fresh id, ``new_topic_label`` as its
        organizer's label); ``pin`` and ``unpin`` change no line. ``shown_labels``: the labels
        of ``topic_id`` and ``other_topic_id`` the organizer saw, kept for the corrections list."""
        if kind not in CORRECTION_KINDS:
            raise ValueError(f"kind={kind!r} should be one of {CORRECTION_KINDS}")
        now = now_utc()
        with self._write() as conn:
            ids = sorted({int(i) for i in line_ids})
            if kind == "merge":
                ids = sorted(
                    r.feedback_id
                    for r in conn.execute(
                        select(assignments.c.feedback_id).where(
                            and_(assignments.c.model_version == model_version, assignments.c.topic_id == other_topic_id)
                        )
                    )
                )
            before = self._topics_of(conn, model_version, ids)
            if kind == "split":  # a fresh id inside the transaction: two splits never share one
                used = [r.topic_id for r in conn.execute(select(topics.c.topic_id))]
                top = max((int(t[1:]) for t in used if t[:1] == "T" and t[1:].isdigit()), default=0)
                topic_id = f"T{top + 1:04d}"
                conn.execute(
                    insert(topics).values(
                        topic_id=topic_id, label_override=new_topic_label, first_version=model_version,
                        last_version=model_version, status="active", updated_at=now,
                    )
                )
            self._place(conn, model_version, {i: topic_id for i in ids})
            new_id = conn.execute(
                insert(corrections)
                .values(
                    kind=kind, topic_id=topic_id, other_topic_id=other_topic_id, label=label,
                    lines=json.dumps({str(i): before.get(i) for i in ids}), model_version=model_version,
                    actor=actor[:100], created_at=now,
                    topic_label=_label(shown_labels[0]), other_topic_label=_label(shown_labels[1]),
                )
                .returning(corrections.c.id)
            ).scalar_one()
            self._audit(conn, actor, kind, topic_id or other_topic_id, {"更正编号": new_id, **(audit_detail or {})}, now)
            self._bump(conn, MODERATION_COUNTER)
            row = conn.execute(select(corrections).where(corrections.c.id == new_id)).one()
        return _row_to_correction(row)

    def undo_correction(
        self, correction_id: int, *, actor: str, model_version: str, known_topics: Collection[str],
        audit_detail: dict | None = None,
    ) -> tuple[Correction, int] | None:
        """Undo a correction: each of its lines still where it put them goes back to its
        previous topic (when ``known_topics``, the served topics, still has it; else it stays).
        Returns (the correction, lines restored); None when there is no such correction;
        the correction unchanged with -1 when it was undone already."""
        now = now_utc()
        with self._write() as conn:
            row = conn.execute(select(corrections).where(corrections.c.id == correction_id)).one_or_none()
            if row is None:
                return None
            found = _row_to_correction(row)
            if not found.active:
                return found, -1
            now_at = self._topics_of(conn, model_version, found.lines)
            back = {
                fid: previous
                for fid, previous in found.lines.items()
                if fid in now_at and now_at[fid] == found.topic_id and (previous is None or previous in known_topics)
            }
            self._place(conn, model_version, back)
            if found.kind == "split":
                conn.execute(
                    update(topics).where(topics.c.topic_id == found.topic_id).values(status="retired", updated_at=now)
                )
            conn.execute(
                update(corrections).where(corrections.c.id == correction_id).values(undone_at=now, undone_by=actor[:100])
            )
            detail = {"更正编号": correction_id, "恢复条数": len(back), **(audit_detail or {})}
            self._audit(conn, actor, "undo", found.topic_id or found.other_topic_id, detail, now)
            self._bump(conn, MODERATION_COUNTER)
            row = conn.execute(select(corrections).where(corrections.c.id == correction_id)).one()
        return _row_to_correction(row), len(back)

    def list_corrections(self, *, limit: int = 50, offset: int = 0) -> tuple[list[Correction], int]:
        """Corrections newest first (undone ones too) and how many there are."""
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(corrections)).scalar_one()
            rows = conn.execute(
                select(corrections).order_by(corrections.c.id.desc()).offset(offset).limit(limit)
            ).all()
        return [_row_to_correction(r) for r in rows], int(total)

    def active_corrections(self) -> list[Correction]:
        """Corrections not undone, oldest first (the order they are applied in)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(corrections).where(corrections.c.undone_at.is_(None)).order_by(corrections.c.id)
            ).all()
        return [_row_to_correction(r) for r in rows]

    def pinned_topics(self) -> set[str]:
        """Topics pinned now: the latest pin or unpin of each (not undone) is a pin."""
        state: dict[str, bool] = {}
        for c in self.active_corrections():
            if c.kind in ("pin", "unpin") and c.topic_id is not None:
                state[c.topic_id] = c.kind == "pin"
        return {t for t, pinned in state.items() if pinned}

    def protected_topics(self) -> set[str]:
        """Topics a retrain keeps whatever their lines look like (``TopicModel.fit``'s
        ``pinned``): the pinned ones and every topic a correction put lines in."""
        kept = {c.topic_id for c in self.active_corrections() if c.kind in ("move", "merge", "split") and c.topic_id}
        return kept | self.pinned_topics()

    def reapply_corrections(self, model_version: str, topic_ids: Collection[str]) -> int:
        """After a retrain wrote ``model_version``'s assignments: put each corrected line
        where the latest correction not undone put it. A move or merge into a topic the new
        version lacks (``topic_ids``) is skipped; a split's topic is kept in any case (the
        service shows it until a retrain learns it). Returns the lines placed."""
        placement: dict[int, str | None] = {}
        for c in self.active_corrections():
            if c.kind == "split" or (c.kind in ("move", "merge") and (c.topic_id is None or c.topic_id in topic_ids)):
                for fid in c.lines:
                    placement[fid] = c.topic_id
        if not placement:
            return 0
        with self._write() as conn:
            present = self._topics_of(conn, model_version, placement)
            changed = {fid: t for fid, t in placement.items() if fid in present and present[fid] != t}
            self._place(conn, model_version, changed)
        return len(changed)

    def topics_of_lines(self, model_version: str, ids: Iterable[int]) -> dict[int, str | None]:
        """The topic of each of these lines under the version (lines it has not assigned are left out)."""
        with self.engine.connect() as conn:
            return self._topics_of(conn, model_version, ids)

    @staticmethod
    def _topics_of(conn, model_version: str, ids: Iterable[int]) -> dict[int, str | None]:
        """The topic of each line that has an assignment under the version."""
        out: dict[int, str | None] = {}
        for part in chunks(list(ids), 500):
            for r in conn.execute(
                select(assignments.c.feedback_id, assignments.c.topic_id).where(
                    and_(assignments.c.model_version == model_version, assignments.c.feedback_id.in_(list(part)))
                )
            ):
                out[int(r.feedback_id)] = r.topic_id
        return out

    @staticmethod
    def _place(conn, model_version: str, placement: dict[int, str | None]) -> None:
        """Set each line's topic under the version (a line without an assignment gets one)."""
        if not placement:
            return
        present = CorrectionTables._topics_of(conn, model_version, placement)
        by_topic: dict[str | None, list[int]] = {}
        for fid, topic_id in placement.items():
            if fid in present:
                by_topic.setdefault(topic_id, []).append(fid)
        for topic_id, ids in by_topic.items():
            for part in chunks(ids, 500):
                conn.execute(
                    update(assignments)
                    .where(and_(assignments.c.model_version == model_version, assignments.c.feedback_id.in_(list(part))))
                    .values(topic_id=topic_id, no_request=False)
                )
        missing = [fid for fid in placement if fid not in present]
        if missing:
            conn.execute(
                insert(assignments),
                [
                    {"model_version": model_version, "feedback_id": fid, "topic_id": placement[fid], "score": 0.0,
                     "no_request": False}
                    for fid in missing
                ],
            )
