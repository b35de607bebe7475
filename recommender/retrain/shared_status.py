"""The web-started retrain's status, shared by every worker of the service: a JSON record,
``.retrain.status.json`` next to the retrain lock in ``models_dir`` (the folder every worker and
every service machine shares, whatever the store: SQLite or PostgreSQL), written by the worker
that started the retrain and read by all. A dashboard reload or status poll that lands on another worker, or on a worker
started later, sees the same running or finished retrain; a start on any worker is refused
while one runs.

The record of a running retrain is trusted while the worker that started it is alive (its
reaper writes the end) or the retrain child is alive or holds the retrain lock; otherwise the
retrain ended without its worker seeing it (the worker stopped or crashed): the record is
concluded from the registry (a new current version: finished, with what changed; else
``interrupted``, nothing published) and written back, so a crashed retrain never stays "running".

A pid is recorded with its process's start time (:func:`process_start`): a pid the system
reused for an unrelated process after the worker or child died has another start time and
counts as dead, so such a record does not stay "running" either.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from pathlib import Path
from typing import Any

from filelock import FileLock

from recommender.errors import RetrainInProgress
from recommender.retrain.lock import retrain_lock

__all__ = ["INTERRUPTED", "SharedStatus", "pid_alive", "process_start"]

#: The message of a retrain that ended while no worker watched it, published nothing and
#: said nothing of its own (no error, no 「没有新的反馈」): the status is ``interrupted``.
INTERRUPTED = (
    "启动它的服务进程在训练期间停止了，训练没有走完，没有发布新模型，当前模型保持不变。"
)

_PROC = Path("/proc")


def process_start(pid: object) -> int | None:
    """When the process ``pid`` started, in clock ticks since boot (Linux: field 22 of
    ``/proc/<pid>/stat``); None where it cannot be read (no such process, not Linux).
    With the pid it names one process: a pid reused later has another start time."""
    if not isinstance(pid, int) or pid <= 0:
        return None
    try:
        stat = (_PROC / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces and ")": field 3 on
    # follow the last ")"; field 22 is the 20th of them.
    fields = stat[stat.rfind(")") + 1:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def pid_alive(pid: object, started: object = None) -> bool:
    """Whether a process of this host with that pid runs (a zombie counts: its parent reaps
    it); with ``started`` (its :func:`process_start` when recorded), only when the process
    now holding the pid started then: a reused pid is another process, and not alive."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    if isinstance(started, int):
        now = process_start(pid)
        if now is not None and now != started:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class SharedStatus:
    """``.retrain.status.json`` beside the retrain lock and the short lock that serializes its changes."""

    def __init__(self, lock_path: Path) -> None:
        self.path = lock_path.with_name(".retrain.status.json")
        self.retrain_lock_path = lock_path
        self.host = socket.gethostname()

    def guard(self) -> FileLock:
        """Held while a worker checks and starts a retrain, or concludes one: no two at once."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(self.path.with_name(self.path.name + ".lock"), timeout=30, thread_local=False)

    def read(self) -> dict[str, Any] | None:
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def write(self, record: dict[str, Any]) -> None:
        tmp = self.path.with_name(f"{self.path.name}.{secrets.token_hex(4)}.tmp")
        tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path)

    def running(self, record: dict[str, Any]) -> bool:
        """Whether the ``running`` record's retrain still runs: its worker (which will write the
        end) or its child is alive on this host (the same process: its start time, where
        recorded, matches), or someone holds the retrain lock."""
        if record.get("host") == self.host and (
            pid_alive(record.get("worker_pid"), record.get("worker_started"))
            or pid_alive(record.get("pid"), record.get("pid_started"))
        ):
            return True
        try:
            with retrain_lock(self.retrain_lock_path, owner="status-check"):
                return False
        except RetrainInProgress:
            return True
