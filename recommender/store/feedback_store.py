"""FeedbackStore: the one door to the database (SQLite with WAL by default, PostgreSQL by URL).

Everything that reads or writes rows goes through this class; callers pass and receive
plain Python values (``StoredFeedback``, dicts, tuples). Text arriving here is already
validated and masked by :mod:`recommender.intake`; submitters arrive already hashed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's busy timeout alone
    fcntl = None

from sqlalchemy import (
    Engine,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from recommender.errors import StoreError
from recommender.moderation import RecentLine, Screening, text_key
from recommender.store.schema import (
    assignments,
    audit_log,
    class_sessions,
    feedback,
    feedback_tokens,
    store_counters,
    topic_events,
    topic_month_counts,
    topics,
)

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class NewFeedback:
    """A row ready to insert: validated, masked, submitter hashed."""

    text: str
    segment: str
    submitted_at: datetime
    source: str
    session_id: str | None = None
    submitter_hash: str | None = None
    votes: int = 0
    external_id: str | None = None
    repeat_of: int | None = None
    status: str = "visible"
    flag_reason: str | None = None
    receipt_hash: str | None = None
    client_key: str | None = None
    fill_seconds: int | None = None


#: Lines that still hold their text (withdrawn and purged lines do not).
WITH_TEXT = ("visible", "hidden", "flagged")
MODERATION_COUNTER = "moderation"
RECENT_LIMIT = 500


@dataclass(frozen=True)
class StoredFeedback:
    id: int
    external_id: str | None
    source: str
    text: str
    submitted_at: datetime
    received_at: datetime
    segment: str
    session_id: str | None
    submitter_hash: str | None
    votes: int
    repeat_of: int | None
    status: str = "visible"
    moderation_reason: str | None = None
    flag_reason: str | None = None
    status_changed_at: datetime | None = None

    @property
    def public_id(self) -> str:
        """The id users see: the import's external id where there is one, else ours."""
        return self.external_id if self.external_id else str(self.id)

    @property
    def is_repeat(self) -> bool:
        return self.repeat_of is not None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _row_to_feedback(row) -> StoredFeedback:
    return StoredFeedback(
        id=row.id,
        external_id=row.external_id,
        source=row.source,
        text=row.text,
        submitted_at=row.submitted_at,
        received_at=row.received_at,
        segment=row.segment,
        session_id=row.session_id,
        submitter_hash=row.submitter_hash,
        votes=row.votes,
        repeat_of=row.repeat_of,
        status=row.status,
        moderation_reason=row.moderation_reason,
        flag_reason=row.flag_reason,
        status_changed_at=row.status_changed_at,
    )


@dataclass
class PurgeReport:
    """What a retention purge removed (or, for a dry run, would remove)."""

    cutoff: datetime
    lines: int = 0
    folded: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    months: list[str] = field(default_factory=list)
    aggregates: int = 0


def _chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class FeedbackStore:
    """Feedback, token cache, topic assignments, topics and class sessions.

    ``FeedbackStore(url)`` connects lazily; call :meth:`migrate` once at start-up (the
    service and the CLI do) to bring the schema to the newest Alembic revision.
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict = {"echo": echo, "future": True}
        if self.dialect == "sqlite":
            database = parsed.database
            if database and database != ":memory:" and not database.startswith("file:"):
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            # Driver-level autocommit: we emit BEGIN ourselves (see _sqlite_on_begin) so that
            # write transactions take the write lock up front (BEGIN IMMEDIATE) and wait on the
            # busy timeout instead of failing with "database is locked" on lock upgrade.
            kwargs["connect_args"] = {
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                "check_same_thread": False,
                "isolation_level": None,
            }
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        self._writer_lock = threading.RLock() if self.dialect == "sqlite" else contextlib.nullcontext()
        self._lock_fd: int | None = None
        self._lock_depth = 0
        self._lock_path: str | None = None
        if self.dialect == "sqlite" and parsed.database and parsed.database != ":memory:":
            self._lock_path = parsed.database + ".writelock"
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_on_connect)
            event.listen(self.engine, "begin", _sqlite_on_begin)

    @contextmanager
    def _write(self) -> Iterator:
        """A write transaction (BEGIN IMMEDIATE on SQLite), committed on success.

        On SQLite, threads of one process queue on a lock first: SQLite's own busy handler
        sleeps in growing steps (up to 100 ms) while another writer holds the database, which
        under load costs far more than the write itself."""
        with self._writer_lock, self._process_lock(), self.engine.connect() as conn:
            conn.execution_options(write_transaction=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _process_lock(self) -> Iterator[None]:
        """Across the service's worker processes, writers queue on an OS file lock (woken the
        moment it is free) instead of SQLite's busy handler, which sleeps in growing steps
        and lets one process starve the other under load."""
        # Called with self._writer_lock held; a nested write in the same thread must not
        # release the file lock of the outer one, hence the depth count.
        if self._lock_path is None or fcntl is None or self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._lock_depth = 1
        try:
            yield
        finally:
            self._lock_depth = 0
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ lifecycle
    def migrate(self) -> None:
        """Apply every pending schema migration (idempotent)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise StoreError(f"database migration failed: {exc.__class__.__name__}") from exc

    def schema_revision(self) -> str | None:
        with self.engine.connect() as conn:
            try:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            except SQLAlchemyError:
                return None

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def dispose(self) -> None:
        self.engine.dispose()
        with self._writer_lock:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    # ------------------------------------------------------------------ feedback
    def add(
        self,
        item: NewFeedback,
        *,
        assignment: tuple[str, str | None, float] | None = None,
        screener: Callable[[list[RecentLine]], Screening] | None = None,
        screen_window: timedelta | None = None,
        screen_limits: tuple[int, int] = (RECENT_LIMIT, RECENT_LIMIT),
    ) -> StoredFeedback:
        """Insert one feedback line (and, when given, its (model_version, topic_id, score)
        assignment in the same transaction) and return it as stored.

        With a ``screener``, recent lines (within ``screen_window``; at most ``screen_limits``
        = (from this client, with this text)) are read in the same write transaction and the
        screener decides whether the new line (and earlier ones of a
        burst) is flagged instead of counted."""
        values = self._values(item)
        with self._write() as conn:
            if screener is not None and screen_window is not None:
                verdict = screener(
                    self._recent(
                        conn,
                        values["received_at"] - screen_window,
                        values["client_key"],
                        values["text_key"],
                        *screen_limits,
                    )
                )
                if verdict.flag_reason is not None:
                    values.update(status="flagged", flag_reason=verdict.flag_reason,
                                  status_changed_at=values["received_at"])
                    if verdict.also_flag:
                        conn.execute(
                            update(feedback)
                            .where(and_(feedback.c.id.in_(list(verdict.also_flag)), feedback.c.status == "visible"))
                            .values(status="flagged", flag_reason=verdict.flag_reason,
                                    status_changed_at=values["received_at"])
                        )
                        self._bump(conn, MODERATION_COUNTER)
            new_id = conn.execute(insert(feedback).values(**values).returning(feedback.c.id)).scalar_one()
            if assignment is not None:
                version, topic_id, score = assignment
                conn.execute(
                    insert(assignments).values(
                        model_version=version, feedback_id=new_id, topic_id=topic_id, score=float(score)
                    )
                )
            row = conn.execute(select(feedback).where(feedback.c.id == new_id)).one()
        return _row_to_feedback(row)

    def add_many(self, items: Sequence[NewFeedback]) -> list[int | None]:
        """Insert a batch in one transaction, skipping rows whose (source, external_id) is
        already stored. Returns, per item, its new id or None where it was a duplicate."""
        if not items:
            return []
        keyed = [i for i in items if i.external_id is not None]
        existing: set[tuple[str, str]] = set()
        with self._write() as conn:
            for source in sorted({i.source for i in keyed}):
                ids = [i.external_id for i in keyed if i.source == source]
                for part in _chunks(ids, 500):
                    rows = conn.execute(
                        select(feedback.c.external_id).where(
                            and_(feedback.c.source == source, feedback.c.external_id.in_(part))
                        )
                    )
                    existing.update((source, r.external_id) for r in rows)
            out: list[int | None] = []
            for item in items:
                key = (item.source, item.external_id) if item.external_id is not None else None
                if key is not None and key in existing:
                    out.append(None)
                    continue
                if key is not None:
                    existing.add(key)
                out.append(
                    conn.execute(insert(feedback).values(**self._values(item)).returning(feedback.c.id)).scalar_one()
                )
        return out

    def mark_repeats(self, links: Iterable[tuple[int, int]]) -> None:
        """Mark (feedback_id, repeat_of) pairs."""
        with self._write() as conn:
            for fid, earlier in links:
                conn.execute(update(feedback).where(feedback.c.id == fid).values(repeat_of=earlier))

    @staticmethod
    def _recent(
        conn, since: datetime, client_key: str | None, text_key: str | None, client_limit: int, text_limit: int
    ) -> list[RecentLine]:
        """The lines a screener needs, read through the two indexes: this client's recent
        lines and recent lines with the same normalised text (bounded work per submission,
        however busy the window is)."""
        columns = (
            feedback.c.id, feedback.c.text, feedback.c.client_key, feedback.c.submitter_hash,
            feedback.c.status, feedback.c.received_at,
        )
        found: dict[int, RecentLine] = {}
        for column, key, limit in (
            (feedback.c.client_key, client_key, client_limit),
            (feedback.c.text_key, text_key, text_limit),
        ):
            if key is None or limit <= 0:
                continue
            rows = conn.execute(
                select(*columns)
                .where(and_(column == key, feedback.c.received_at >= since))
                .order_by(feedback.c.received_at.desc())
                .limit(limit)
            )
            for r in rows:
                found[r.id] = RecentLine(r.id, r.text, r.client_key, r.submitter_hash, r.status, r.received_at)
        return sorted(found.values(), key=lambda line: line.received_at, reverse=True)

    @staticmethod
    def _values(item: NewFeedback) -> dict:
        return {
            "status": item.status,
            "flag_reason": item.flag_reason,
            "receipt_hash": item.receipt_hash,
            "client_key": item.client_key,
            "text_key": text_key(item.text),
            "fill_seconds": item.fill_seconds,
            "status_changed_at": _now() if item.status != "visible" else None,
            "external_id": item.external_id,
            "source": item.source,
            "text": item.text,
            "submitted_at": item.submitted_at,
            "received_at": _now(),
            "segment": item.segment,
            "session_id": item.session_id,
            "submitter_hash": item.submitter_hash,
            "votes": item.votes,
            "repeat_of": item.repeat_of,
        }

    def get(self, feedback_id: int) -> StoredFeedback | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(feedback).where(feedback.c.id == feedback_id)).first()
        return _row_to_feedback(row) if row else None

    def get_many(self, ids: Iterable[int]) -> list[StoredFeedback]:
        ids = list(ids)
        out: dict[int, StoredFeedback] = {}
        with self.engine.connect() as conn:
            for part in _chunks(ids, 500):
                for row in conn.execute(select(feedback).where(feedback.c.id.in_(part))):
                    out[row.id] = _row_to_feedback(row)
        return [out[i] for i in ids if i in out]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(feedback)).scalar_one()

    def recent_by_submitter(
        self, submitter_hash: str, since: datetime, until: datetime
    ) -> list[tuple[int, str, datetime]]:
        """(id, text, submitted_at) of that submitter's lines in [since, until], oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(feedback.c.id, feedback.c.text, feedback.c.submitted_at)
                .where(
                    and_(
                        feedback.c.submitter_hash == submitter_hash,
                        feedback.c.status.in_(WITH_TEXT),
                        feedback.c.submitted_at >= since,
                        feedback.c.submitted_at <= until,
                    )
                )
                .order_by(feedback.c.submitted_at, feedback.c.id)
            )
            return [(r.id, r.text, r.submitted_at) for r in rows]

    def iter_feedback(
        self, *, batch_size: int = 5000, after_id: int = 0, statuses: Sequence[str] | None = None
    ) -> Iterator[StoredFeedback]:
        """Every feedback line (only those with one of ``statuses`` when given) in id order,
        read in batches (keyset pagination)."""
        last = after_id
        while True:
            query = select(feedback).where(feedback.c.id > last)
            if statuses is not None:
                query = query.where(feedback.c.status.in_(list(statuses)))
            with self.engine.connect() as conn:
                rows = conn.execute(query.order_by(feedback.c.id).limit(batch_size)).all()
            if not rows:
                return
            for row in rows:
                yield _row_to_feedback(row)
            last = rows[-1].id

    def assignment_count(self, model_version: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).select_from(assignments).where(assignments.c.model_version == model_version)
            ).scalar_one()

    def assignment_stats(self, model_version: str, *, received_after: datetime) -> tuple[int, int]:
        """(assigned lines, of which fitting no topic) among lines received after a time."""
        cond = and_(
            assignments.c.model_version == model_version,
            feedback.c.received_at > received_after,
            feedback.c.status == "visible",
        )
        with self.engine.connect() as conn:
            row = conn.execute(
                select(func.count(), func.count().filter(assignments.c.topic_id.is_(None)))
                .select_from(assignments.join(feedback, assignments.c.feedback_id == feedback.c.id))
                .where(cond)
            ).one()
        return int(row[0]), int(row[1])

    def time_range(self, *, visible_only: bool = False) -> tuple[datetime | None, datetime | None]:
        query = select(func.min(feedback.c.submitted_at), func.max(feedback.c.submitted_at))
        if visible_only:
            query = query.where(feedback.c.status == "visible")
        with self.engine.connect() as conn:
            row = conn.execute(query).one()
        lo, hi = row
        # min/max bypass the column type on SQLite: normalise here.
        return _as_utc(lo), _as_utc(hi)

    # ------------------------------------------------------------------ token cache
    def get_tokens(self, ids: Sequence[int], tokenizer_version: str) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        with self.engine.connect() as conn:
            for part in _chunks(list(ids), 500):
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
            for part in _chunks(ids, 500):
                conn.execute(delete(feedback_tokens).where(feedback_tokens.c.feedback_id.in_(part)))
            conn.execute(
                insert(feedback_tokens),
                [
                    {"feedback_id": fid, "tokenizer_version": tokenizer_version, "tokens": " ".join(toks)}
                    for fid, toks in tokens_by_id.items()
                ],
            )

    # ------------------------------------------------------------------ assignments
    def put_assignments(self, model_version: str, rows: Iterable[tuple[int, str | None, float]]) -> int:
        """Store (feedback_id, topic_id or None, score) for a model version, replacing any
        (an upsert: several workers may assign the same new line at once)."""
        rows = [
            {"model_version": model_version, "feedback_id": fid, "topic_id": tid, "score": float(score)}
            for fid, tid, score in rows
        ]
        if not rows:
            return 0
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
        with self._write() as conn:
            for part in _chunks(rows, 500):
                stmt = upsert(assignments).values(list(part))
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[assignments.c.model_version, assignments.c.feedback_id],
                        set_={"topic_id": stmt.excluded.topic_id, "score": stmt.excluded.score},
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
        return [_row_to_feedback(r) for r in rows]

    def assignment_rows(
        self, model_version: str, *, received_since: datetime | None = None, visible_only: bool = True
    ) -> Iterator[tuple[StoredFeedback, str | None, float]]:
        """Assigned feedback lines under a model version with topic and score (optionally
        only those received since a time, for incremental refreshes). Only lines that count
        (status ``visible``) unless ``visible_only=False``."""
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
                yield _row_to_feedback(row), row.topic_id, row.score

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
        return [_row_to_feedback(r) for r in rows], total

    def drop_assignments(self, keep_versions: Iterable[str]) -> int:
        keep = list(keep_versions)
        with self._write() as conn:
            result = conn.execute(delete(assignments).where(assignments.c.model_version.not_in(keep)))
        return result.rowcount or 0

    # ------------------------------------------------------------------ topics
    def topic_records(self) -> dict[str, dict]:
        with self.engine.connect() as conn:
            return {r.topic_id: dict(r._mapping) for r in conn.execute(select(topics))}

    def next_topic_ids(self, n: int) -> list[str]:
        """n fresh topic ids (``T0001``…), above every id ever used."""
        with self.engine.connect() as conn:
            ids = [r.topic_id for r in conn.execute(select(topics.c.topic_id))]
        top = max((int(i[1:]) for i in ids if i[:1] == "T" and i[1:].isdigit()), default=0)
        return [f"T{top + k:04d}" for k in range(1, n + 1)]

    def record_topics(self, model_version: str, topic_ids: Sequence[str], events: Sequence[dict]) -> None:
        """Mark the topics of a newly published version active, the rest retired, and log events."""
        now = _now()
        with self._write() as conn:
            known = {r.topic_id for r in conn.execute(select(topics.c.topic_id))}
            for tid in topic_ids:
                if tid in known:
                    conn.execute(
                        update(topics)
                        .where(topics.c.topic_id == tid)
                        .values(last_version=model_version, status="active", updated_at=now)
                    )
                else:
                    conn.execute(
                        insert(topics).values(
                            topic_id=tid,
                            first_version=model_version,
                            last_version=model_version,
                            status="active",
                            updated_at=now,
                        )
                    )
            gone = known - set(topic_ids)
            if gone:
                conn.execute(
                    update(topics)
                    .where(and_(topics.c.topic_id.in_(sorted(gone)), topics.c.status == "active"))
                    .values(status="retired", updated_at=now)
                )
            for ev in events:
                conn.execute(
                    insert(topic_events).values(
                        model_version=model_version,
                        kind=ev["kind"],
                        topic_id=ev["topic_id"],
                        other_topic_ids=",".join(ev.get("other_topic_ids", ())),
                        created_at=now,
                    )
                )

    def rename_topic(self, topic_id: str, label: str | None) -> bool:
        """Set (or clear with None) an organizer's label for a topic. False if unknown."""
        with self._write() as conn:
            result = conn.execute(
                update(topics).where(topics.c.topic_id == topic_id).values(label_override=label, updated_at=_now())
            )
        return bool(result.rowcount)

    def label_overrides(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(topics.c.topic_id, topics.c.label_override).where(topics.c.label_override.is_not(None))
            )
            return {r.topic_id: r.label_override for r in rows}

    def topic_events(self, topic_id: str | None = None) -> list[dict]:
        query = select(topic_events).order_by(topic_events.c.id)
        if topic_id is not None:
            query = query.where(topic_events.c.topic_id == topic_id)
        with self.engine.connect() as conn:
            return [
                {**dict(r._mapping), "other_topic_ids": [t for t in r.other_topic_ids.split(",") if t]}
                for r in conn.execute(query)
            ]

    def lineage(self) -> dict[str, str]:
        """old topic id → the topic id that carries it on (merges and splits), for following history."""
        out: dict[str, str] = {}
        for ev in self.topic_events():
            if ev["kind"] == "merge":
                for other in ev["other_topic_ids"]:
                    out[other] = ev["topic_id"]
        return out

    # ------------------------------------------------------------------ class sessions
    def add_session(
        self,
        *,
        topic_id: str,
        title: str,
        held_on: date,
        status: str,
        instructor: str | None = None,
        department: str | None = None,
    ) -> dict:
        with self._write() as conn:
            new_id = conn.execute(
                insert(class_sessions)
                .values(
                    topic_id=topic_id,
                    title=title,
                    held_on=held_on,
                    status=status,
                    instructor=instructor,
                    department=department,
                    created_at=_now(),
                )
                .returning(class_sessions.c.id)
            ).scalar_one()
            row = conn.execute(select(class_sessions).where(class_sessions.c.id == new_id)).one()
        return dict(row._mapping)

    def list_sessions(self, topic_id: str | None = None) -> list[dict]:
        query = select(class_sessions).order_by(class_sessions.c.held_on, class_sessions.c.id)
        if topic_id is not None:
            query = query.where(class_sessions.c.topic_id == topic_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # ------------------------------------------------------------------ moderation
    def moderation_stamp(self) -> int:
        """A counter bumped by every status change (hide, restore, withdraw, purge, flag):
        each worker's demand cache rebuilds when it moves."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(store_counters.c.value).where(store_counters.c.name == MODERATION_COUNTER)
            ).scalar()
        return int(value or 0)

    @staticmethod
    def _bump(conn, name: str) -> None:
        updated = conn.execute(
            update(store_counters).where(store_counters.c.name == name).values(value=store_counters.c.value + 1)
        )
        if not updated.rowcount:
            conn.execute(insert(store_counters).values(name=name, value=1))

    @staticmethod
    def _audit(conn, actor: str, action: str, target: str | None, detail: dict | None, at: datetime) -> int:
        return conn.execute(
            insert(audit_log)
            .values(
                at=at,
                actor=actor[:100],
                action=action[:32],
                target=None if target is None else str(target)[:200],
                detail=json.dumps(detail or {}, ensure_ascii=False, default=str),
            )
            .returning(audit_log.c.id)
        ).scalar_one()

    def set_status(
        self,
        feedback_id: int,
        status: str,
        *,
        allowed_from: Sequence[str],
        actor: str,
        action: str,
        reason: str | None = None,
        detail: dict | None = None,
    ) -> StoredFeedback | None:
        """Move a line between visible, hidden and flagged (an organizer's hide or restore),
        with its audit entry, in one transaction. None when the line does not exist or is not
        in one of ``allowed_from``."""
        now = _now()
        with self._write() as conn:
            result = conn.execute(
                update(feedback)
                .where(and_(feedback.c.id == feedback_id, feedback.c.status.in_(list(allowed_from))))
                .values(status=status, moderation_reason=reason, status_changed_at=now)
            )
            if not result.rowcount:
                return None
            self._audit(conn, actor, action, str(feedback_id), detail, now)
            self._bump(conn, MODERATION_COUNTER)
            row = conn.execute(select(feedback).where(feedback.c.id == feedback_id)).one()
        return _row_to_feedback(row)

    def by_status(self, status: str, *, limit: int = 100, offset: int = 0) -> tuple[list[StoredFeedback], int]:
        """Lines with that status, most recently changed first, and how many there are."""
        with self.engine.connect() as conn:
            total = conn.execute(
                select(func.count()).select_from(feedback).where(feedback.c.status == status)
            ).scalar_one()
            rows = conn.execute(
                select(feedback)
                .where(feedback.c.status == status)
                .order_by(feedback.c.status_changed_at.desc(), feedback.c.id.desc())
                .offset(offset)
                .limit(limit)
            ).all()
        return [_row_to_feedback(r) for r in rows], total

    def visible_texts(self, texts: Iterable[str]) -> set[str]:
        """Which of these texts some visible line still says (quotes from a model artifact
        are shown only while one does)."""
        wanted = sorted({t for t in texts if t})
        found: set[str] = set()
        with self.engine.connect() as conn:
            for part in _chunks(wanted, 200):
                rows = conn.execute(
                    select(feedback.c.text).where(and_(feedback.c.status == "visible", feedback.c.text.in_(part)))
                )
                found.update(r.text for r in rows)
        return found

    # ------------------------------------------------------------------ withdrawal
    def by_receipt(self, receipt_hash: str) -> StoredFeedback | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(feedback).where(feedback.c.receipt_hash == receipt_hash)).first()
        return _row_to_feedback(row) if row else None

    def withdraw(self, receipt_hash: str) -> StoredFeedback | None:
        """Delete a line's text for good at its submitter's request: the row stays (status
        ``withdrawn``, empty text, no submitter, session or client) so a re-import cannot bring
        it back; tokens and assignments go. None for an unknown receipt."""
        now = _now()
        with self._write() as conn:
            row = conn.execute(select(feedback).where(feedback.c.receipt_hash == receipt_hash)).first()
            if row is None:
                return None
            if row.status in WITH_TEXT:
                self._erase(conn, [row.id], status="withdrawn", now=now)
                self._audit(conn, "attendee", "withdraw", str(row.id), {"previous_status": row.status}, now)
                self._bump(conn, MODERATION_COUNTER)
            row = conn.execute(select(feedback).where(feedback.c.id == row.id)).one()
        return _row_to_feedback(row)

    @staticmethod
    def _erase(conn, ids: Sequence[int], *, status: str, now: datetime) -> None:
        for part in _chunks(list(ids), 500):
            conn.execute(
                update(feedback)
                .where(feedback.c.id.in_(part))
                .values(
                    text="",
                    status=status,
                    submitter_hash=None,
                    session_id=None,
                    client_key=None,
                    moderation_reason=None,
                    status_changed_at=now,
                )
            )
            conn.execute(delete(feedback_tokens).where(feedback_tokens.c.feedback_id.in_(part)))
            conn.execute(delete(assignments).where(assignments.c.feedback_id.in_(part)))
            # A later line marked as a repeat of an erased one counts on its own again.
            conn.execute(update(feedback).where(feedback.c.repeat_of.in_(part)).values(repeat_of=None))

    # ------------------------------------------------------------------ audit log
    def audit(self, actor: str, action: str, target: str | None = None, detail: dict | None = None) -> int:
        """Record an organizer (or console) action; returns the entry's id."""
        with self._write() as conn:
            return self._audit(conn, actor, action, target, detail, _now())

    def audit_entries(self, *, limit: int = 50, offset: int = 0, action: str | None = None) -> tuple[list[dict], int]:
        """Audit entries, newest first, and their total."""
        query = select(audit_log)
        count = select(func.count()).select_from(audit_log)
        if action is not None:
            query = query.where(audit_log.c.action == action)
            count = count.where(audit_log.c.action == action)
        with self.engine.connect() as conn:
            total = conn.execute(count).scalar_one()
            rows = conn.execute(query.order_by(audit_log.c.id.desc()).offset(offset).limit(limit)).all()
        out = []
        for r in rows:
            try:
                detail = json.loads(r.detail or "{}")
            except ValueError:
                detail = {}
            out.append({"id": r.id, "at": r.at, "actor": r.actor, "action": r.action, "target": r.target,
                        "detail": detail})
        return out, total

    # ------------------------------------------------------------------ retention
    def month_counts(self) -> list[dict]:
        """The aggregates left by purges: topic_id, month, segment, people, lines, votes."""
        with self.engine.connect() as conn:
            return [
                dict(r._mapping)
                for r in conn.execute(
                    select(topic_month_counts).order_by(
                        topic_month_counts.c.month, topic_month_counts.c.topic_id, topic_month_counts.c.segment
                    )
                )
            ]

    @staticmethod
    def _purge_plan(conn, query, report: PurgeReport) -> tuple[list, dict]:
        rows = conn.execute(query.order_by(feedback.c.id)).all()
        groups: dict[tuple[str, str, str], dict] = {}
        months: set[str] = set()
        for r in rows:
            report.lines += 1
            report.by_status[r.status] = report.by_status.get(r.status, 0) + 1
            month = _as_utc(r.submitted_at).strftime("%Y-%m")
            months.add(month)
            topic_id = getattr(r, "topic_id", None)
            if r.status != "visible" or topic_id is None:
                continue
            report.folded += 1
            g = groups.setdefault((topic_id, month, r.segment), {"named": set(), "anonymous": 0, "lines": 0, "votes": 0})
            g["lines"] += 1
            g["votes"] += int(r.votes or 0)
            if r.submitter_hash is not None:
                g["named"].add(r.submitter_hash)
            elif r.repeat_of is None:
                g["anonymous"] += 1
        report.months = sorted(months)
        report.aggregates = len(groups)
        return rows, groups

    def purge(
        self, cutoff: datetime, model_version: str | None, *, dry_run: bool = False, actor: str = "console",
        forget_clients_before: datetime | None = None,
    ) -> PurgeReport:
        """Retention: fold the visible lines submitted before ``cutoff`` into
        ``topic_month_counts`` (under their topic in ``model_version``; lines fitting no topic
        are not kept), then delete the text, tokens and assignments of every line before
        ``cutoff`` that still has text (status ``purged``). ``dry_run`` only reports.
        Client keys received before ``forget_clients_before`` are cleared too (they only
        serve burst detection)."""
        report = PurgeReport(cutoff=cutoff)
        now = _now()
        topic_of = assignments.c.topic_id if model_version is not None else None
        query = select(
            feedback.c.id, feedback.c.status, feedback.c.submitted_at, feedback.c.segment,
            feedback.c.submitter_hash, feedback.c.votes, feedback.c.repeat_of,
        ).where(and_(feedback.c.submitted_at < cutoff, feedback.c.status.in_(WITH_TEXT)))
        if model_version is not None:
            query = query.add_columns(topic_of).select_from(
                feedback.outerjoin(
                    assignments,
                    and_(assignments.c.feedback_id == feedback.c.id, assignments.c.model_version == model_version),
                )
            )
        if dry_run:
            with self.engine.connect() as conn:
                self._purge_plan(conn, query, report)
            return report
        with self._write() as conn:
            rows, groups = self._purge_plan(conn, query, report)
            for (topic_id, month, segment), g in sorted(groups.items()):
                people = len(g["named"]) + g["anonymous"]
                key = and_(
                    topic_month_counts.c.topic_id == topic_id,
                    topic_month_counts.c.month == month,
                    topic_month_counts.c.segment == segment,
                )
                existing = conn.execute(select(topic_month_counts).where(key)).first()
                if existing is None:
                    conn.execute(
                        insert(topic_month_counts).values(
                            topic_id=topic_id, month=month, segment=segment, people=people,
                            lines=g["lines"], votes=g["votes"],
                        )
                    )
                else:  # a month folded again (late import of old lines): counts add up
                    conn.execute(
                        update(topic_month_counts)
                        .where(key)
                        .values(
                            people=existing.people + people,
                            lines=existing.lines + g["lines"],
                            votes=existing.votes + g["votes"],
                        )
                    )
            if rows:
                self._erase(conn, [r.id for r in rows], status="purged", now=now)
                self._bump(conn, MODERATION_COUNTER)
            if forget_clients_before is not None:
                conn.execute(
                    update(feedback)
                    .where(and_(feedback.c.client_key.is_not(None), feedback.c.received_at < forget_clients_before))
                    .values(client_key=None)
                )
            self._audit(
                conn, actor, "purge", None,
                {"cutoff": cutoff.isoformat(), "lines": report.lines, "folded": report.folded,
                 "aggregates": report.aggregates, "model_version": model_version},
                now,
            )
        return report

    # ------------------------------------------------------------------ tests / ops
    def describe(self) -> str:
        """The URL without its password, for logs."""
        return make_url(self.url).render_as_string(hide_password=True)



def _as_utc(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _sqlite_on_begin(conn) -> None:
    immediate = conn.get_execution_options().get("write_transaction", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
