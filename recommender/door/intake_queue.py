"""Group commit: one writer thread per process stores every waiting submission in one transaction.

A web worker receives feedback lines from many concurrent requests. Committing each in its
own transaction costs a lock turn, a commit (a WAL append on SQLite, a round trip and a
flush on PostgreSQL) and per-statement overhead for every line. :class:`GroupCommit`
instead queues the lines; its single writer thread takes *everything* waiting (up to
``max_batch``), stores it with one call of ``commit`` (one transaction) and only then
resolves each line's future, so a request is answered after its line is durable. While a
batch commits the next one gathers, so batches grow with the load and no line waits for a
timer.

Failures: when a batch fails, its lines are retried one at a time, so one bad line cannot
fail or lose the others and every caller gets its own answer. A failure that says the
database is unavailable (``unavailable(exc)`` true: locked past the busy timeout, connection
lost) is not retried line by line: every line of the batch gets that error (nothing was
stored; the web layer answers 503 with Retry-After), instead of N more waits on a database
that is not there, and without retrying a commit whose outcome the lost connection hid.

Shutdown: :meth:`GroupCommit.close` refuses new lines, lets the writer store everything
already queued and joins it. Callers wait on a thread future (:meth:`GroupCommit.submit`)
or, from a coroutine, on an asyncio future (:meth:`GroupCommit.submit_async`; the writer
wakes each event loop once per batch).

No web framework, no SQL here; nothing here logs feedback text.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

from recommender.errors import StoreError

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Most lines stored in one transaction (more wait for the next one).
DEFAULT_MAX_BATCH = 256
_STOP = object()


class IntakeClosed(StoreError):
    """The writer is shut down (the worker is stopping): the line was not stored."""


@dataclass
class CommitStats:
    """What the writer did (for tests and the shutdown log line)."""

    batches: int = 0
    lines: int = 0
    largest: int = 0
    retried_batches: int = 0
    failed_lines: int = 0
    store_seconds: float = 0.0  # wall time inside commit(): the database, its lock and the GIL
    store_cpu_seconds: float = 0.0  # CPU time of the writer thread inside commit()


class GroupCommit(Generic[T, R]):
    """A queue and its single writer thread; see the module docs.

    ``commit(items)`` stores a list of items in one transaction and returns one result per
    item, in order, or raises (then nothing was stored)."""

    def __init__(
        self,
        commit: Callable[[Sequence[T]], Sequence[R]],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        unavailable: Callable[[BaseException], bool] = lambda exc: False,
        name: str = "intake-writer",
        linger: float = 0.0,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._commit = commit
        self._max_batch = max_batch
        self._unavailable = unavailable
        self._linger = linger
        self._last_size = 0
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self.stats = CommitStats()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def closed(self) -> bool:
        return self._closed

    def pending(self) -> int:
        """Lines queued and not yet taken by the writer (approximate)."""
        return self._queue.qsize()

    def submit(self, item: T) -> Future[R]:
        """Queue one item; the future resolves (result or exception) after its commit."""
        future: Future[R] = Future()
        self._put(item, future)
        return future

    def submit_async(self, item: T) -> asyncio.Future:
        """Queue one item from a coroutine: an asyncio future of the running loop, resolved
        after the commit. The writer wakes the loop once per batch for all of its lines
        (cheaper than a thread-safe future per line)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._put(item, _AsyncWaiter(loop, future))
        return future

    def _put(self, item: T, waiter) -> None:
        with self._lock:
            if self._closed:
                raise IntakeClosed("intake is shutting down")
            self._queue.put((item, waiter))

    def close(self, timeout: float | None = 30.0) -> None:
        """Refuse new items, store everything already queued, stop the writer (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(_STOP)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("intake writer still busy after %.0f s at shutdown", timeout or 0)

    # ------------------------------------------------------------------ writer thread
    def _run(self) -> None:
        stopping = False
        try:
            while not stopping:
                entry = self._queue.get()
                if entry is _STOP:
                    break
                batch = [entry]
                # Under load (the last batch had company) wait a moment for more lines:
                # a bigger batch costs the same one commit and lock turn.
                deadline = time.monotonic() + self._linger if self._last_size > 1 else 0.0
                while len(batch) < self._max_batch:
                    try:
                        remaining = deadline - time.monotonic()
                        entry = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if entry is _STOP:
                        stopping = True
                        break
                    batch.append(entry)
                self._last_size = len(batch)
                self._store(batch)
        finally:
            # Never leave a caller waiting: anything still queued (only if the loop died)
            # gets an error instead of hanging its request.
            leftover = []
            while True:
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
                if entry is not _STOP:
                    leftover.append(entry)
            _deliver([(waiter, None, IntakeClosed("intake writer stopped")) for _item, waiter in leftover
                      if _claim(waiter)])
            if self.stats.batches:
                log.info(
                    "intake writer stopped: %d lines in %d transactions (largest %d, %d retried line by line); "
                    "%.1f s storing, of which %.1f s CPU of this thread",
                    self.stats.lines, self.stats.batches, self.stats.largest, self.stats.retried_batches,
                    self.stats.store_seconds, self.stats.store_cpu_seconds,
                )

    def _store(self, batch: list[tuple[T, object]]) -> None:
        # A caller that gave up (cancelled its future) is not stored: nobody would get its answer.
        live = [(item, waiter) for item, waiter in batch if _claim(waiter)]
        if not live:
            return
        self.stats.batches += 1
        self.stats.largest = max(self.stats.largest, len(live))
        started, started_cpu = time.perf_counter(), time.thread_time()
        try:
            results = self._commit([item for item, _ in live])
            if len(results) != len(live):
                raise RuntimeError(f"commit returned {len(results)} results for {len(live)} items")
        except Exception as exc:  # noqa: BLE001 - every caller gets an answer
            if len(live) == 1 or self._unavailable(exc):
                self.stats.failed_lines += len(live)
                _deliver([(waiter, None, exc) for _, waiter in live])
                return
            self.stats.retried_batches += 1
            log.warning(
                "storing %d feedback lines together failed (%s); storing them one at a time",
                len(live), type(exc).__name__,
            )
            self._store_one_by_one(live)
            return
        finally:
            self.stats.store_seconds += time.perf_counter() - started
            self.stats.store_cpu_seconds += time.thread_time() - started_cpu
        self.stats.lines += len(live)
        _deliver([(waiter, result, None) for (_, waiter), result in zip(live, results)])

    def _store_one_by_one(self, live: list[tuple[T, object]]) -> None:
        down: BaseException | None = None
        outcomes = []
        for item, waiter in live:
            if down is not None:  # the database went away: do not wait on it once per line
                self.stats.failed_lines += 1
                outcomes.append((waiter, None, down))
                continue
            try:
                result = self._commit([item])[0]
            except Exception as exc:  # noqa: BLE001
                self.stats.failed_lines += 1
                outcomes.append((waiter, None, exc))
                if self._unavailable(exc):
                    down = exc
            else:
                self.stats.lines += 1
                outcomes.append((waiter, result, None))
        _deliver(outcomes)


@dataclass(frozen=True)
class _AsyncWaiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future


def _claim(waiter) -> bool:
    """True when the caller still waits (its line is to be stored)."""
    if isinstance(waiter, _AsyncWaiter):
        return not waiter.future.cancelled()
    return waiter.set_running_or_notify_cancel()


def _deliver(outcomes: list[tuple[object, object, BaseException | None]]) -> None:
    """Resolve each waiter: thread futures at once, asyncio futures with one call into each loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list] = {}
    for waiter, result, exc in outcomes:
        if isinstance(waiter, _AsyncWaiter):
            by_loop.setdefault(waiter.loop, []).append((waiter.future, result, exc))
        elif exc is not None:
            waiter.set_exception(exc)
        else:
            waiter.set_result(result)
    for loop, pending in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve_in_loop, pending)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass


def _resolve_in_loop(pending: list[tuple[asyncio.Future, object, BaseException | None]]) -> None:
    for future, result, exc in pending:
        if future.done():  # cancelled meanwhile
            continue
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)
