"""Reading stored feedback, and the token cache of the retrain."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, insert, select

from recommender.store.schema import feedback, feedback_tokens
from recommender.store.rows import StoredFeedback, as_utc, chunks, row_to_feedback
from recommender.store.engine import StoreEngine


class FeedbackReads(StoreEngine):
    """Feedback by id, in id order for a retrain, counts and time range; cached tokens."""

    def get(self, feedback_id: int) -> StoredFeedback | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(feedback).where(feedback.c.id == feedback_id)).first()
        return row_to_feedback(row) if row else None

    def get_many(self, ids: Iterable[int]) -> list[StoredFeedback]:
        ids = list(ids)
        out: dict[int, StoredFeedback] = {}
        with self.engine.connect() as conn:
            for part in chunks(ids, 500):
                for row in conn.execute(select(feedback).where(feedback.c.id.in_(part))):
                    out[row.id] = row_to_feedback(row)
        return [out[i] for i in ids if i in out]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(feedback)).scalar_one()

    def iter_feedback(
        self,
        *,
        batch_size: int = 5000,
        after_id: int = 0,
        until_id: int | None = None,
        statuses: Sequence[str] | None = None,
    ) -> Iterator[StoredFeedback]:
        """Every feedback line (only those with one of ``statuses`` when given) in id order,
        read in batches (keyset pagination); ``after_id < id <= until_id`` when bounded."""
        last = after_id
        while True:
            query = select(feedback).where(feedback.c.id > last)
            if until_id is not None:
                query = query.where(feedback.c.id <= until_id)
            if statuses is not None:
                query = query.where(feedback.c.status.in_(list(statuses)))
            with self.engine.connect() as conn:
                rows = conn.execute(query.order_by(feedback.c.id).limit(batch_size)).all()
            if not rows:
                return
            for row in rows:
                yield row_to_feedback(row)
            last = rows[-1].id

    def feedback_ids(self, *, statuses: Sequence[str] | None = None) -> list[int]:
        """The ids of every feedback line (with one of ``statuses`` when given), ascending:
        what a distributed retrain splits into partitions without reading any text."""
        query = select(feedback.c.id).order_by(feedback.c.id)
        if statuses is not None:
            query = query.where(feedback.c.status.in_(list(statuses)))
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def time_range(self, *, visible_only: bool = False) -> tuple[datetime | None, datetime | None]:
        query = select(func.min(feedback.c.submitted_at), func.max(feedback.c.submitted_at))
        if visible_only:
            query = query.where(feedback.c.status == "visible")
        with self.engine.connect() as conn:
            row = conn.execute(query).one()
        lo, hi = row
        # min/max bypass the column type on SQLite: normalise here.
        return as_utc(lo), as_utc(hi)

    def get_tokens(self, ids: Sequence[int], tokenizer_version: str) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        with self.engine.connect() as conn:
            for part in chunks(list(ids), 500):
                rows = conn.execute(
                    select(feedback_tokens.c.feedback_id, feedback_tokens.c.tokens).where(
                        and_(
                            feedback_tokens.c.feedback_id.in_(part),
                            feedback_tokens.c.tokenizer_version == tokenizer_version,
                        )
                    )
                )
                for r in rows:
                    out[r.feedback_id] = r.tokens.split(" ") if r.tokens else []
        return out

    def put_tokens(self, tokens_by_id: dict[int, list[str]], tokenizer_version: str) -> None:
        if not tokens_by_id:
            return
        with self._write() as conn:
            ids = list(tokens_by_id)
            for part in chunks(ids, 500):
                conn.execute(delete(feedback_tokens).where(feedback_tokens.c.feedback_id.in_(part)))
            conn.execute(
                insert(feedback_tokens),
                [
                    {"feedback_id": fid, "tokenizer_version": tokenizer_version, "tokens": " ".join(toks)}
                    for fid, toks in tokens_by_id.items()
                ],
            )
