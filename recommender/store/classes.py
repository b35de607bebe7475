"""Post-class feedback: classes found by their feedback link, and the answers kept per class.

Ratings and praise live here, never in ``feedback``: they are class feedback, not demand. The
「下次想学什么」 text that asks for something is stored by intake as an ordinary line; its
answer row links it (``feedback_id``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, insert, select, update

from recommender.store.engine import StoreEngine
from recommender.store.rows import now_utc
from recommender.store.schema import class_responses, class_sessions


class ClassFeedbackTables(StoreEngine):
    """The answers to each class's post-class form."""

    def _first(self, query) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return dict(row._mapping) if row is not None else None

    def session_by_token(self, token: str) -> dict | None:
        """The class whose feedback link carries ``token`` (None when no class has it)."""
        return self._first(select(class_sessions).where(class_sessions.c.feedback_token == token))

    def get_session(self, session_id: int) -> dict | None:
        return self._first(select(class_sessions).where(class_sessions.c.id == session_id))

    def add_class_response(
        self, session_id: int, rating: int, *, text: str | None = None, feedback_id: int | None = None
    ) -> int:
        """Store one answer (rating 1–5; ``text``: masked praise that asks for nothing;
        ``feedback_id``: the line its 「下次想学什么」 became). Returns the answer's id."""
        with self._write() as conn:
            return conn.execute(
                insert(class_responses)
                .values(session_id=session_id, rating=rating, text=text, feedback_id=feedback_id, created_at=now_utc())
                .returning(class_responses.c.id)
            ).scalar_one()

    def class_response(self, answer_id: int) -> dict | None:
        """One answer (session, rating, praise text, linked line id), or None."""
        return self._first(select(class_responses).where(class_responses.c.id == answer_id))

    def change_class_response(
        self, answer_id: int, rating: int, *, text: str | None = None, feedback_id: int | None = None
    ) -> None:
        """Replace an answer's rating, praise and linked line (its submitter changed it)."""
        with self._write() as conn:
            conn.execute(
                update(class_responses)
                .where(class_responses.c.id == answer_id)
                .values(rating=rating, text=text, feedback_id=feedback_id)
            )

    def class_ratings(self, session_ids: Iterable[int] | None = None) -> dict[int, tuple[float, int]]:
        """session id → (average rating, number of answers), for classes with answers."""
        query = select(
            class_responses.c.session_id, func.avg(class_responses.c.rating), func.count()
        ).group_by(class_responses.c.session_id)
        if session_ids is not None:
            query = query.where(class_responses.c.session_id.in_(list(session_ids)))
        with self.engine.connect() as conn:
            return {row[0]: (float(row[1]), int(row[2])) for row in conn.execute(query)}

    def responses_of(self, session_id: int, *, limit: int = 50) -> list[dict]:
        """The newest answers of a class (rating, praise text, linked line id)."""
        query = (
            select(class_responses)
            .where(class_responses.c.session_id == session_id)
            .order_by(class_responses.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
