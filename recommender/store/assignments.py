"""Topic assignments: which topic each line belongs to under each model version."""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator
from datetime import datetime

from sqlalchemy import and_, delete, func, select

from recommender.store.schema import assignments, feedback
from recommender.store.rows import StoredFeedback, WITH_TEXT, chunks, row_to_feedback
from recommender.store.engine import StoreEngine


class AssignmentTables(StoreEngine):
    """(model_version, feedback_id) -> (topic_id, score), and the reads built on it."""

    def put_assignments(
        self, model_version: str, rows: Iterable[tuple], *, only_with_text: bool = False
    ) -> int:
        """Store (feedback_id, topic_id or None, score[, no_request]) for a model version,
        replacing any (an upsert: several workers may assign the same new line at once).
        ``no_request`` is true for a line that asks for nothing (thanks, praise).

        ``only_with_text``: in the same transaction, drop what was just stored for lines that
        lost their text meanwhile (withdrawn or purged after the caller read them; their own
        erase removed their assignments before this one)."""
        rows = [
            {
                "model_version": model_version,
                "feedback_id": row[0],
                "topic_id": row[1],
                "score": float(row[2]),
                "no_request": bool(row[3]) if len(row) > 3 else None,
            }
            for row in sorted(rows, key=lambda r: r[0])
        ]
        # In id order: two workers upserting overlapping lines take the row locks in the same
        # order, so they wait for each other instead of deadlocking (PostgreSQL).
        if not rows:
            return 0
        if self._upsert_assignment is None:
            if self.dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as upsert
            else:
                from sqlalchemy.dialects.sqlite import insert as upsert
            stmt = upsert(assignments)
            # Built once and run as an executemany: the web workers call this every second.
            self._upsert_assignment = stmt.on_conflict_do_update(
                index_elements=[assignments.c.model_version, assignments.c.feedback_id],
                set_={
                    "topic_id": stmt.excluded.topic_id,
                    "score": stmt.excluded.score,
                    "no_request": stmt.excluded.no_request,
                },
            )
        with self._write() as conn:
            for part in chunks(rows, 500):
                conn.execute(self._upsert_assignment, list(part))
                if only_with_text:
                    ids = [r["feedback_id"] for r in part]
                    conn.execute(
                        delete(assignments).where(
                            and_(
                                assignments.c.model_version == model_version,
                                assignments.c.feedback_id.in_(
                                    select(feedback.c.id).where(
                                        and_(feedback.c.id.in_(ids), feedback.c.status.not_in(WITH_TEXT))
                                    )
                                ),
                            )
                        )
                    )
        return len(rows)

    def unassigned(
        self, model_version: str, *, limit: int = 5000, received_since: datetime | None = None
    ) -> list[StoredFeedback]:
        """Feedback with text and no assignment yet under that model version (arrived after
        training, or hidden or flagged at training time); optionally only lines received
        since a time (the service's once-a-second pass over new lines)."""
        joined = feedback.outerjoin(
            assignments,
            and_(assignments.c.feedback_id == feedback.c.id, assignments.c.model_version == model_version),
        )
        query = select(feedback).select_from(joined).where(
            and_(assignments.c.feedback_id.is_(None), feedback.c.status.in_(WITH_TEXT))
        )
        if received_since is not None:
            query = query.where(feedback.c.received_at >= received_since)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(feedback.c.id).limit(limit)).all()
        return [row_to_feedback(r) for r in rows]

    def assignment_rows(
        self,
        model_version: str,
        *,
        received_since: datetime | None = None,
        visible_only: bool = True,
        skip: Container[int] = (),
    ) -> Iterator[tuple[StoredFeedback, str | None, float]]:
        """Assigned feedback lines under a model version with topic and score (optionally
        only those received since a time, for incremental refreshes). Only lines that count
        (status ``visible``) unless ``visible_only=False``. Lines whose id is in ``skip``
        (already known to the caller) are left out without being converted."""
        query = (
            select(feedback, assignments.c.topic_id, assignments.c.score)
            .join(assignments, assignments.c.feedback_id == feedback.c.id)
            .where(assignments.c.model_version == model_version)
            .order_by(feedback.c.id)
        )
        if visible_only:
            query = query.where(feedback.c.status == "visible")
        if received_since is not None:
            query = query.where(feedback.c.received_at >= received_since)
        with self.engine.connect() as conn:
            result = conn.execute(query)
            for row in result:
                if row.id not in skip:
                    yield row_to_feedback(row), row.topic_id, row.score

    def topic_members(
        self, model_version: str, topic_id: str, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[StoredFeedback], int]:
        """One page of a topic's visible feedback (newest first) and the total count."""
        cond = and_(
            assignments.c.model_version == model_version,
            assignments.c.topic_id == topic_id,
            feedback.c.status == "visible",
        )
        with self.engine.connect() as conn:
            total = conn.execute(
                select(func.count())
                .select_from(assignments.join(feedback, assignments.c.feedback_id == feedback.c.id))
                .where(cond)
            ).scalar_one()
            rows = conn.execute(
                select(feedback)
                .join(assignments, assignments.c.feedback_id == feedback.c.id)
                .where(cond)
                .order_by(feedback.c.submitted_at.desc(), feedback.c.id.desc())
                .offset(offset)
                .limit(limit)
            ).all()
        return [row_to_feedback(r) for r in rows], total

    def drop_assignments(self, keep_versions: Iterable[str]) -> int:
        keep = list(keep_versions)
        with self._write() as conn:
            result = conn.execute(delete(assignments).where(assignments.c.model_version.not_in(keep)))
        return result.rowcount or 0

    def assigned_topics(self, model_version: str, *, after_id: int, until_id: int) -> dict[int, str]:
        """Topic of each feedback line with ``after_id < id <= until_id`` under a model
        version (lines that fit no topic are left out)."""
        query = select(assignments.c.feedback_id, assignments.c.topic_id).where(
            assignments.c.model_version == model_version,
            assignments.c.topic_id.is_not(None),
            assignments.c.feedback_id > after_id,
            assignments.c.feedback_id <= until_id,
        )
        with self.engine.connect() as conn:
            return {row.feedback_id: row.topic_id for row in conn.execute(query)}

    def assignment_count(self, model_version: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(assignments).where(assignments.c.model_version == model_version)
            ).scalar_one()

    def assignment_stats(self, model_version: str, *, received_after: datetime) -> tuple[int, int]:
        """(assigned lines that ask for something, of which fitting no topic) among lines
        received after a time."""
        cond = and_(
            assignments.c.model_version == model_version,
            feedback.c.received_at > received_after,
            feedback.c.status == "visible",
            assignments.c.no_request.is_not(True),
        )
        with self.engine.connect() as conn:
            row = conn.execute(
                select(func.count(), func.count().filter(assignments.c.topic_id.is_(None)))
                .select_from(assignments.join(feedback, assignments.c.feedback_id == feedback.c.id))
                .where(cond)
            ).one()
        return int(row[0]), int(row[1])

    def no_topic_lines(
        self,
        model_version: str,
        *,
        no_request: bool,
        received_after: datetime | None = None,
        offset: int = 0,
        limit: int | None = 50,
    ) -> tuple[list[StoredFeedback], int]:
        """Visible lines in no topic under a model version, newest first, and their count:
        those that ask for something no topic covers (``no_request=False``: 未归类) or those
        that ask for nothing (``no_request=True``: thanks, praise); optionally only lines
        received after a time."""
        kind = assignments.c.no_request.is_(True) if no_request else assignments.c.no_request.is_not(True)
        cond = and_(
            assignments.c.model_version == model_version,
            assignments.c.topic_id.is_(None),
            feedback.c.status == "visible",
            kind,
        )
        if received_after is not None:
            cond = and_(cond, feedback.c.received_at > received_after)
        joined = assignments.join(feedback, assignments.c.feedback_id == feedback.c.id)
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(joined).where(cond)).scalar_one()
            query = (
                select(feedback).select_from(joined).where(cond)
                .order_by(feedback.c.received_at.desc(), feedback.c.id.desc()).offset(offset)
            )
            if limit is not None:
                query = query.limit(limit)
            rows = conn.execute(query).all()
        return [row_to_feedback(r) for r in rows], int(total)
