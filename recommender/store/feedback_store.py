"""FeedbackStore: the one door to the database (SQLite with WAL by default, PostgreSQL by URL).

Everything that reads or writes rows goes through this class; callers pass and receive
plain Python values (``StoredFeedback``, dicts, tuples). Text arriving here is already
validated and masked by :mod:`recommender.door.validation`; submitters arrive already hashed.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Container, Iterable, Iterator, Sequence
from contextlib import contextmanager
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: SQLite's busy timeout alone
    fcntl = None

from sqlalchemy import (
    Engine,
    Integer,
    and_,
    bindparam,
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
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from recommender.errors import StoreError
from recommender.door.screening import RecentLine, Screening, text_key
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
#: PostgreSQL deadlock_detected and serialization_failure: the transaction was rolled back and
#: may simply be tried again.
RETRYABLE_SQLSTATES = ("40P01", "40001")


def _recent_statements(column, *, many: bool):
    cols = (
        feedback.c.id, feedback.c.text, feedback.c.submitter_hash, feedback.c.client_key, feedback.c.text_key,
        feedback.c.status, feedback.c.received_at,
    )
    match = column.in_(bindparam("keys", expanding=True)) if many else column == bindparam("key")
    return (
        select(*cols)
        .where(and_(match, feedback.c.received_at >= bindparam("since")))
        .order_by(feedback.c.received_at.desc(), feedback.c.id.desc())
        .limit(bindparam("cap", type_=Integer))
    )


# Built once: group commit runs them for every batch (client key = column 3, text key = 4).
_RECENT_BY_KEY = (
    _recent_statements(feedback.c.client_key, many=False), _recent_statements(feedback.c.text_key, many=False)
)
_RECENT_BY_KEYS = (
    _recent_statements(feedback.c.client_key, many=True), _recent_statements(feedback.c.text_key, many=True)
)
# The status is checked in Python: with it in the WHERE clause SQLite (no statistics) reads
# through the status index, i.e. nearly every row, instead of the submitter index.
_EARLIER_BY_PERSON = (
    select(feedback.c.id, feedback.c.text, feedback.c.submitted_at, feedback.c.submitter_hash, feedback.c.status)
    .where(
        and_(
            feedback.c.submitter_hash.in_(bindparam("people", expanding=True)),
            feedback.c.submitted_at >= bindparam("since"),
            feedback.c.submitted_at <= bindparam("until"),
        )
    )
    .order_by(feedback.c.submitted_at, feedback.c.id)
)
_MAX_ID = select(func.max(feedback.c.id))
_COMMITTED_SINCE = select(
    feedback.c.id, feedback.c.text, feedback.c.submitter_hash, feedback.c.client_key, feedback.c.text_key,
    feedback.c.status, feedback.c.received_at, feedback.c.submitted_at,
).where(feedback.c.id > bindparam("after")).order_by(feedback.c.id)
_INSERT_RETURNING_IDS = insert(feedback).returning(feedback.c.id, sort_by_parameter_order=True)
#: Most rows in one multi-row INSERT on SQLite (128 × 17 values, far below its 32,766 parameters).
_MULTI_INSERT_MAX = 128


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


def _values_to_feedback(new_id: int, values: dict) -> StoredFeedback:
    """The StoredFeedback of a row just inserted from ``values`` (what a SELECT would give)."""
    return StoredFeedback(
        id=new_id,
        external_id=values["external_id"],
        source=values["source"],
        text=values["text"],
        submitted_at=_as_utc(values["submitted_at"]),
        received_at=_as_utc(values["received_at"]),
        segment=values["segment"],
        session_id=values["session_id"],
        submitter_hash=values["submitter_hash"],
        votes=values["votes"],
        repeat_of=values["repeat_of"],
        status=values["status"],
        moderation_reason=None,
        flag_reason=values["flag_reason"],
        status_changed_at=_as_utc(values["status_changed_at"]),
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
        # hide_parameters: an error message or SQL log never carries feedback text.
        kwargs: dict = {"echo": echo, "future": True, "hide_parameters": True}
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
        self._insert_sql: dict[tuple[tuple[str, ...], int], str] = {}
        self._upsert_assignment = None
        self._bind_processors: dict[tuple[str, ...], list] = {}
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

    @staticmethod
    def unavailable(exc: BaseException) -> bool:
        """True for an error that says the database cannot be written now (locked past the
        busy timeout, unreachable, connection lost, pool exhausted) rather than that one
        statement was wrong: trying again line by line would only wait again."""
        if getattr(getattr(exc, "orig", None), "sqlstate", None) in RETRYABLE_SQLSTATES:
            return False  # deadlock or serialization failure: rolled back, worth another try
        if isinstance(exc, (StoreError, OperationalError, InterfaceError, PoolTimeout)):
            return True
        return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)

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

    def add_live(
        self,
        items: Sequence[NewFeedback],
        *,
        screener: Callable[[NewFeedback, list[RecentLine]], Screening] | None = None,
        screen_window: timedelta | None = None,
        screen_limits: tuple[int, int] = (RECENT_LIMIT, RECENT_LIMIT),
        repeat_finder: Callable[[NewFeedback, list[tuple[int, str, datetime]]], int | None] | None = None,
        repeat_window: timedelta | None = None,
    ) -> list[StoredFeedback]:
        """Store live submissions (form, API) in ONE write transaction and return them as
        stored, in order: the group commit of the web workers (one commit, one lock turn and
        a handful of statements for a whole batch instead of per line).

        Every line is judged as if the lines before it in the batch were already stored:

        - ``repeat_finder(item, earlier)`` gets the same submitter's lines (id, text,
          submitted_at; oldest first) within ``repeat_window`` before the item's
          ``submitted_at``, stored ones and earlier ones of the batch, and returns the id the
          item repeats (or None). Only for items without ``repeat_of`` and with a submitter.
        - ``screener(item, recent)`` gets the recent lines within ``screen_window`` that the
          single-line :meth:`add` would read: at most ``screen_limits`` = (from this client,
          with this text) of the newest, earlier lines of the batch included (they are the
          newest), with the statuses this batch has given them so far. Its verdict flags the
          item and, where it says so, earlier lines (stored or of the batch).

        Ids of lines of the batch that are not stored yet appear as negative numbers
        (``-1`` is the batch's first line) in what the callbacks see and return; they are
        replaced by the real ids. Any error rolls the whole batch back (nothing is stored).

        On SQLite the lines the callbacks need are read *before* the write lock is taken, in
        a read snapshot that runs beside the other workers' writes; under the lock only the
        lines committed since that snapshot are read (ids grow in commit order there, writers
        being serialised) and merged in: the same input as reading it all under the lock, for
        a much shorter hold of the lock the workers share. PostgreSQL reads in the transaction.
        """
        if not items:
            return []
        now = _now()
        rows = [self._values(item) | {"received_at": now} for item in items]
        for values in rows:
            if values["status"] != "visible":
                values["status_changed_at"] = now
        client_limit, text_limit = screen_limits
        want_screen = screener is not None and screen_window is not None
        since = now - screen_window if want_screen else now
        client_keys = sorted({v["client_key"] for v in rows if v["client_key"]}) if want_screen and client_limit > 0 else []
        text_keys = sorted({v["text_key"] for v in rows if v["text_key"]}) if want_screen and text_limit > 0 else []

        def read_inputs(conn):
            earlier = self._earlier_by_person(conn, items, repeat_window) if repeat_finder else {}
            by_client, by_text = (
                self._recent_many(conn, since, client_keys, text_keys, client_limit, text_limit)
                if want_screen else ({}, {})
            )
            return earlier, by_client, by_text

        snapshot_max = None
        if self.dialect == "sqlite":
            with self.engine.connect() as conn, conn.begin():
                snapshot_max = conn.execute(_MAX_ID).scalar() or 0
                earlier_by_person, by_client, by_text = read_inputs(conn)
        with self._write() as conn:
            if snapshot_max is None:
                earlier_by_person, by_client, by_text = read_inputs(conn)
            else:
                self._merge_committed_since(
                    conn, snapshot_max, items, repeat_window if repeat_finder else None, earlier_by_person,
                    since, set(client_keys), set(text_keys), by_client, by_text, client_limit, text_limit,
                )
            status_now: dict[int, str] = {}  # lines this batch has flagged so far
            batch_by_client: dict[str, list[int]] = {}
            batch_by_text: dict[str, list[int]] = {}
            flag_stored: dict[int, str] = {}
            late_repeats: dict[int, int] = {}  # batch index -> batch index it repeats
            for k, (item, values) in enumerate(zip(items, rows)):
                temp_id = -(k + 1)
                if repeat_finder is not None and values["repeat_of"] is None and item.submitter_hash:
                    repeat_since = item.submitted_at - (repeat_window or timedelta(0))
                    earlier = [
                        line for line in earlier_by_person.get(item.submitter_hash, ())
                        if repeat_since <= line[2] <= item.submitted_at
                    ]
                    found = repeat_finder(item, earlier)
                    if found is not None and found < 0:
                        late_repeats[k] = -found - 1
                    elif found is not None:
                        values["repeat_of"] = found
                    earlier_by_person.setdefault(item.submitter_hash, []).append(
                        (temp_id, item.text, item.submitted_at)
                    )
                if screener is not None and screen_window is not None:
                    recent = self._recent_for(
                        values, rows, status_now, by_client, by_text, batch_by_client, batch_by_text, now,
                        client_limit, text_limit,
                    )
                    verdict = screener(item, recent)
                    if verdict.flag_reason is not None:
                        values.update(status="flagged", flag_reason=verdict.flag_reason, status_changed_at=now)
                        status_now[temp_id] = "flagged"
                        for fid in verdict.also_flag:
                            if fid < 0:
                                other = rows[-fid - 1]
                                if other["status"] == "visible":
                                    other.update(status="flagged", flag_reason=verdict.flag_reason,
                                                 status_changed_at=now)
                                    status_now[fid] = "flagged"
                            elif status_now.get(fid, "visible") == "visible":
                                flag_stored[fid] = verdict.flag_reason
                                status_now[fid] = "flagged"
                    if values["client_key"]:
                        batch_by_client.setdefault(values["client_key"], []).append(temp_id)
                    if values["text_key"]:
                        batch_by_text.setdefault(values["text_key"], []).append(temp_id)
            flagged_any = False
            for reason in sorted(set(flag_stored.values())):
                ids = sorted(fid for fid, r in flag_stored.items() if r == reason)
                for part in _chunks(ids, 500):
                    result = conn.execute(
                        update(feedback)
                        .where(and_(feedback.c.id.in_(list(part)), feedback.c.status == "visible"))
                        .values(status="flagged", flag_reason=reason, status_changed_at=now)
                    )
                    flagged_any = flagged_any or bool(result.rowcount)
            if flag_stored and flagged_any:
                self._bump(conn, MODERATION_COUNTER)
            new_ids = self._insert_rows(conn, rows)
            for k, j in late_repeats.items():
                rows[k]["repeat_of"] = new_ids[j]
                conn.execute(update(feedback).where(feedback.c.id == new_ids[k]).values(repeat_of=new_ids[j]))
        return [_values_to_feedback(fid, values) for fid, values in zip(new_ids, rows)]

    def _insert_rows(self, conn, rows: list[dict]) -> list[int]:
        """Insert rows (all with the same keys) and return their ids in order.

        SQLite: one multi-row ``INSERT … VALUES (…), (…)`` per 128 rows, its SQL text made
        once per size and its values converted by the columns' own bind processors. The write
        transaction holds the database lock, so the rows of one statement get consecutive
        rowids in VALUES order, the last being ``lastrowid``. (SQLite's RETURNING promises no
        order, so SQLAlchemy would insert row by row; each statement lets go of the GIL, and
        under load taking it back is what costs while the other workers wait for the lock.)
        PostgreSQL: SQLAlchemy's batched ``INSERT … RETURNING``, sorted by parameter order."""
        if self.dialect != "sqlite":
            return list(conn.execute(_INSERT_RETURNING_IDS, rows).scalars())
        keys = tuple(rows[0])
        dialect = conn.dialect
        processors = self._bind_processors.get(keys)
        if processors is None:
            processors = [
                feedback.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in keys
            ]
            self._bind_processors[keys] = processors
        ids: list[int] = []
        for part in _chunks(rows, _MULTI_INSERT_MAX):
            sql = self._insert_sql.get((keys, len(part)))
            if sql is None:
                quote = dialect.identifier_preparer.quote
                one = "(" + ", ".join("?" * len(keys)) + ")"
                sql = (
                    f"INSERT INTO {quote(feedback.name)} ({', '.join(quote(k) for k in keys)}) "
                    f"VALUES {', '.join([one] * len(part))}"
                )
                self._insert_sql[(keys, len(part))] = sql
            params = tuple(
                value if proc is None else proc(value)
                for row in part
                for value, proc in zip((row[k] for k in keys), processors)
            )
            last = conn.exec_driver_sql(sql, params).lastrowid
            ids.extend(range(last - len(part) + 1, last + 1))
        return ids

    @staticmethod
    def _merge_committed_since(
        conn, after_id: int, items: Sequence[NewFeedback], repeat_window: timedelta | None,
        earlier_by_person: dict[str, list[tuple[int, str, datetime]]], since: datetime,
        client_keys: set[str], text_keys: set[str], by_client: dict[str, list[RecentLine]],
        by_text: dict[str, list[RecentLine]], client_limit: int, text_limit: int,
    ) -> None:
        """Add the lines committed after ``after_id`` (read under the write lock) to what
        :meth:`_earlier_by_person` and :meth:`_recent_many` read from an earlier snapshot."""
        rows = conn.execute(_COMMITTED_SINCE, {"after": after_id}).all()
        if not rows:
            return
        people = {i.submitter_hash for i in items if i.submitter_hash and i.repeat_of is None}
        if repeat_window is not None and people:
            wanted = [i for i in items if i.submitter_hash in people]
            first = min(i.submitted_at for i in wanted) - repeat_window
            last = max(i.submitted_at for i in wanted)
            touched = set()
            for r in rows:
                if r.submitter_hash in people and r.status in WITH_TEXT and first <= r.submitted_at <= last:
                    earlier_by_person.setdefault(r.submitter_hash, []).append((r.id, r.text, r.submitted_at))
                    touched.add(r.submitter_hash)
            for person in touched:
                earlier_by_person[person].sort(key=lambda line: (line[2], line[0]))
        for keys, found, limit, slot in ((client_keys, by_client, client_limit, 0), (text_keys, by_text, text_limit, 1)):
            touched = set()
            for r in rows:
                key = r.client_key if slot == 0 else r.text_key
                if key in keys and r.received_at >= since:
                    found.setdefault(key, []).append(
                        RecentLine(r.id, r.text, r.client_key, r.submitter_hash, r.status, r.received_at)
                    )
                    touched.add(key)
            for key in touched:
                lines = sorted(found[key], key=lambda line: (line.received_at, line.id), reverse=True)
                found[key] = lines[:limit]

    @staticmethod
    def _earlier_by_person(
        conn, items: Sequence[NewFeedback], window: timedelta | None
    ) -> dict[str, list[tuple[int, str, datetime]]]:
        """Stored lines with text of the batch's submitters, (id, text, submitted_at) oldest
        first, from ``window`` before the earliest item to the latest one."""
        wanted = [i for i in items if i.submitter_hash and i.repeat_of is None]
        if not wanted:
            return {}
        since = min(i.submitted_at for i in wanted) - (window or timedelta(0))
        until = max(i.submitted_at for i in wanted)
        out: dict[str, list[tuple[int, str, datetime]]] = {}
        for part in _chunks(sorted({i.submitter_hash for i in wanted}), 500):
            rows = conn.execute(_EARLIER_BY_PERSON, {"people": list(part), "since": since, "until": until})
            for r in rows:
                if r.status in WITH_TEXT:
                    out.setdefault(r.submitter_hash, []).append((r.id, r.text, r.submitted_at))
        return out

    @staticmethod
    def _recent_many(
        conn, since: datetime, client_keys: Sequence[str], text_keys: Sequence[str], client_limit: int,
        text_limit: int,
    ) -> tuple[dict[str, list[RecentLine]], dict[str, list[RecentLine]]]:
        """:meth:`_recent` for many keys at once: per client key and per text key, its newest
        lines within the window (at most the limit each), newest first.

        One statement per kind reads the newest ``limit × keys`` lines of all the keys. When
        it comes back full it may have cut off older lines of keys with fewer than ``limit``
        lines in it; only those keys are then read one by one (bounded, through the index)."""
        found: tuple[dict[str, list[RecentLine]], dict[str, list[RecentLine]]] = ({}, {})
        for slot, (keys, limit) in enumerate(((client_keys, client_limit), (text_keys, text_limit))):
            if not keys or limit <= 0:
                continue
            out = found[slot]
            one, many = _RECENT_BY_KEY[slot], _RECENT_BY_KEYS[slot]
            for part in _chunks(list(keys), 500):
                cap = limit * len(part)
                if len(part) == 1:  # equality: an index range scan that stops at the limit
                    rows = conn.execute(one, {"key": part[0], "since": since, "cap": limit}).all()
                else:
                    rows = conn.execute(many, {"keys": list(part), "since": since, "cap": cap}).all()
                got: dict[str, list] = {}
                for r in rows:
                    got.setdefault(r[3 + slot], []).append(r)
                if len(part) > 1 and len(rows) >= cap:
                    for key in part:
                        if len(got.get(key, ())) < limit:
                            got[key] = conn.execute(one, {"key": key, "since": since, "cap": limit}).all()
                for key, key_rows in got.items():
                    out[key] = [
                        RecentLine(r.id, r.text, r.client_key, r.submitter_hash, r.status, r.received_at)
                        for r in key_rows[:limit]
                    ]
        return found

    @staticmethod
    def _recent_for(
        values: dict, rows: list[dict], status_now: dict[int, str],
        by_client: dict[str, list[RecentLine]], by_text: dict[str, list[RecentLine]],
        batch_by_client: dict[str, list[int]], batch_by_text: dict[str, list[int]], now: datetime,
        client_limit: int, text_limit: int,
    ) -> list[RecentLine]:
        """What :meth:`_recent` would read for this line had the batch's earlier lines been
        stored: per key the newest lines (the batch's own first), up to the limits."""
        found: dict[int, RecentLine] = {}
        for key, stored, batch, limit in (
            (values["client_key"], by_client, batch_by_client, client_limit),
            (values["text_key"], by_text, batch_by_text, text_limit),
        ):
            if key is None or limit <= 0:
                continue
            taken = 0
            for temp_id in reversed(batch.get(key, ())):
                if taken >= limit:
                    break
                other = rows[-temp_id - 1]
                found[temp_id] = RecentLine(
                    temp_id, other["text"], other["client_key"], other["submitter_hash"], other["status"], now
                )
                taken += 1
            for line in stored.get(key, ()):
                if taken >= limit:
                    break
                status = status_now.get(line.id)
                found[line.id] = line if status is None else replace(line, status=status)
                taken += 1
        return sorted(found.values(), key=lambda line: (line.received_at, line.id), reverse=True)

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
                yield _row_to_feedback(row)
            last = rows[-1].id

    def feedback_ids(self, *, statuses: Sequence[str] | None = None) -> list[int]:
        """The ids of every feedback line (with one of ``statuses`` when given), ascending:
        what a distributed retrain splits into partitions without reading any text."""
        query = select(feedback.c.id).order_by(feedback.c.id)
        if statuses is not None:
            query = query.where(feedback.c.status.in_(list(statuses)))
        with self.engine.connect() as conn:
            return list(conn.execute(query).scalars())

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
    def put_assignments(
        self, model_version: str, rows: Iterable[tuple[int, str | None, float]], *, only_with_text: bool = False
    ) -> int:
        """Store (feedback_id, topic_id or None, score) for a model version, replacing any
        (an upsert: several workers may assign the same new line at once).

        ``only_with_text``: in the same transaction, drop what was just stored for lines that
        lost their text meanwhile (withdrawn or purged after the caller read them; their own
        erase removed their assignments before this one)."""
        rows = [
            {"model_version": model_version, "feedback_id": fid, "topic_id": tid, "score": float(score)}
            for fid, tid, score in rows
        ]
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
                set_={"topic_id": stmt.excluded.topic_id, "score": stmt.excluded.score},
            )
        with self._write() as conn:
            for part in _chunks(rows, 500):
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
        return [_row_to_feedback(r) for r in rows]

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
