"""The retrain lock: one retrain (or rollback, or prune) at a time, across processes and hosts
sharing ``models_dir``. A :class:`filelock.FileLock` on ``models/.retrain.lock`` plus a holder
record (``.retrain.lock.holder.json``) that says who holds it.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from recommender.errors import RetrainInProgress

__all__ = ["retrain_lock"]


def _holder_path(lock_path: Path) -> Path:
    return lock_path.with_name(lock_path.name + ".holder.json")


def _read_holder(path: Path) -> dict[str, Any] | None:
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _busy_message(holder: dict[str, Any] | None) -> str:
    """The busy message in Chinese (shown by the CLI, the dashboard and the API): who holds the lock."""
    if not holder:
        return "另一个重新训练正在进行中（不知道是哪个进程）"
    detail = (
        f"开始于 {holder.get('started_at', '?')}，进程 {holder.get('pid', '?')}，主机 {holder.get('host', '?')}"
    )
    if holder.get("owner"):
        detail += f"，由 {holder['owner']} 启动"
    return f"另一个重新训练正在进行中（{detail}）"


@contextmanager
def retrain_lock(path: Path | str, timeout: float | None = 0, *, owner: str | None = None) -> Iterator[dict[str, Any]]:
    """Hold the one-retrain-at-a-time lock (across processes) for the ``with`` block.

    ``timeout=0`` (default) fails at once, a number waits that many seconds, ``None`` waits
    forever. If another process holds it, ``RetrainInProgress`` says since when, which pid on
    which host and (if given) ``owner`` ("cron", "admin", "console"); the exception's
    ``holder`` attribute has the same as a dict. The operating system releases the lock when
    the holder dies, even by SIGKILL, so a killed retrain never blocks the next one.
    Yields the holder record written for this process.
    """
    lock_path = Path(path)
    if timeout is not None and timeout < 0:
        raise ValueError(f"timeout={timeout} should be >= 0 or None (wait forever)")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    holder_file = _holder_path(lock_path)
    # thread_local=False: an async endpoint may enter and leave the block on different threads.
    lock = FileLock(lock_path, timeout=-1 if timeout is None else timeout, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        holder = _read_holder(holder_file)
        error = RetrainInProgress(_busy_message(holder))
        error.holder = holder  # type: ignore[attr-defined]
        raise error from None
    try:
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "owner": owner,
        }
        tmp = holder_file.with_name(f"{holder_file.name}.{secrets.token_hex(4)}.tmp")
        tmp.write_text(json.dumps(holder, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, holder_file)
        yield holder
    finally:
        try:
            holder_file.unlink(missing_ok=True)
        finally:
            lock.release()
