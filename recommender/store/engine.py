"""The store's engine: connection set-up (SQLite with WAL, or PostgreSQL), write transactions
with their locks, migrations, health, and the helpers every table area shares."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock
from sqlalchemy import Engine, create_engine, event, insert, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from recommender.errors import StoreError
from recommender.store.schema import audit_log, feedback, store_counters


log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: How often a writer waiting for another process's file lock looks again (SQLite only).
WRITE_LOCK_POLL_SECONDS = 0.001
#: The counter every status change bumps (each worker's demand cache watches it).
MODERATION_COUNTER = "moderation"


#: Errors that mean the database cannot be used now (locked past the busy timeout,
#: unreachable): the web answers them with 503 and Retry-After.
UNAVAILABLE_ERRORS = (StoreError, OperationalError)
#: PostgreSQL deadlock_detected and serialization_failure: the transaction was rolled back and
#: may simply be tried again.
RETRYABLE_SQLSTATES = ("40P01", "40001")
#: SQLite's SQLITE_FULL and PostgreSQL's disk_full.
_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"
_DEFAULT_PORTS = {"postgresql": 5432}


def is_disk_full(exc: BaseException) -> bool:
    """True when a database error (or the OS error under it, or an error it was raised while
    handling: a failed rollback after the disk filled) says the disk is full."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop()
        if err is None or id(err) in seen or len(seen) > 8:
            continue
        seen.add(id(err))
        if getattr(err, "sqlite_errorcode", None) == _SQLITE_FULL or getattr(err, "sqlstate", None) == _PG_DISK_FULL:
            return True
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            return True
        text = str(err).lower()
        if "database or disk is full" in text or "no space left on device" in text:
            return True
        todo.extend((getattr(err, "orig", None), err.__cause__, err.__context__))
    return False


def _one_line(text: str) -> str:
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


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


def missing_sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL when it does not exist yet (None for other databases): a
    command that only reads (``train``) refuses it rather than create an empty store."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    return None if path.exists() else path.absolute()


class StoreEngine:
    """One SQLAlchemy engine, the write transaction and what every area shares."""

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
        self._file_lock: FileLock | None = None
        self._insert_sql: dict[tuple[tuple[str, ...], int], str] = {}
        self._upsert_assignment = None
        self._bind_processors: dict[tuple[str, ...], list] = {}
        #: Set when a write failed because the disk is full; cleared when feedback is stored again
        #: or a probe (:meth:`disk_still_full`) passes. (Small writes such as assignments may still
        #: fit where a line does not, so they do not clear it.)
        self.disk_full = False
        if self.dialect == "sqlite" and parsed.database and parsed.database != ":memory:":
            # Reentrant (a nested write in the same thread keeps the outer one's lock); shared
            # by this process's threads, which queue on _writer_lock first.
            self._file_lock = FileLock(
                parsed.database + ".writelock", mode=0o600, thread_local=False,
                poll_interval=WRITE_LOCK_POLL_SECONDS, preserve_lock_file=True,
            )
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_on_connect)
            event.listen(self.engine, "begin", _sqlite_on_begin)

    @contextmanager
    def _write(self) -> Iterator:
        """A write transaction (BEGIN IMMEDIATE on SQLite), committed on success.

        On SQLite, threads of one process queue on a lock first: SQLite's own busy handler
        sleeps in growing steps (up to 100 ms) while another writer holds the database, which
        under load costs far more than the write itself."""
        try:
            with self._writer_lock, self._process_lock(), self.engine.connect() as conn:
                conn.execution_options(write_transaction=True)
                with conn.begin():
                    yield conn
        except BaseException as exc:
            if is_disk_full(exc):
                self.disk_full = True
            raise

    def disk_still_full(self) -> bool:
        """After a write failed for a full disk: True while a probe write still fails for it
        (readiness asks this; the probe clears the state once space is back).

        The probe is a committed counter bump (a full disk refuses any commit) plus a line-sized
        row written and rolled back inside it (a database that cannot grow refuses the pages)."""
        if not self.disk_full:
            return False
        now = datetime.now(timezone.utc)
        try:
            with self._write() as conn:
                self._bump(conn, "disk_probe")
                probe = conn.begin_nested()
                try:
                    conn.execute(
                        insert(feedback).values(
                            text="probe " * 40_000, source="disk-probe", submitted_at=now, received_at=now,
                            segment="probe", status="withdrawn",
                        )
                    )
                finally:
                    probe.rollback()
        except Exception as exc:  # noqa: BLE001 - only the disk-full state matters here
            return is_disk_full(exc)
        self.disk_full = False
        return False

    def _process_lock(self) -> contextlib.AbstractContextManager:
        """Across the service's worker processes, writers queue on an OS file lock instead of
        SQLite's busy handler, which sleeps in growing steps and lets one process starve the
        other under load. (Called with self._writer_lock held.)"""
        return self._file_lock if self._file_lock is not None else contextlib.nullcontext()

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
            raise StoreError(f"database migration failed: {self.explain(exc)}") from exc

    def explain(self, exc: BaseException) -> str:
        """What went wrong with the database, for an operator: where (host and port, or the
        SQLite file; never the password) and the driver's own words."""
        url = make_url(self.url)
        if self.dialect == "sqlite":
            where = f"SQLite file {url.database or ':memory:'}"
        else:
            port = url.port or _DEFAULT_PORTS.get(self.dialect, "default port")
            where = f"{self.dialect} server {url.host or 'localhost'}:{port}, database {url.database or '?'}"
            if url.username:
                where += f", user {url.username}"
        cause = _one_line(str(getattr(exc, "orig", None) or exc)) or type(exc).__name__
        if url.password:
            cause = cause.replace(str(url.password), "***")
        if is_disk_full(exc):
            cause = f"the disk is full ({cause})"
        return f"{type(getattr(exc, 'orig', None) or exc).__name__} at {where}: {cause[:500]}"

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

    def describe(self) -> str:
        """The URL without its password, for logs."""
        return make_url(self.url).render_as_string(hide_password=True)

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
