"""The store's engine: connection set-up (SQLite with WAL, or PostgreSQL), write transactions
with their locks, migrations, health, and the helpers every table area shares."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from filelock import FileLock
from sqlalchemy import Engine, create_engine, event, insert, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from recommender.errors import StoreError
from recommender.store.schema import audit_log, store_counters


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
        with self._writer_lock, self._process_lock(), self.engine.connect() as conn:
            conn.execution_options(write_transaction=True)
            with conn.begin():
                yield conn

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
