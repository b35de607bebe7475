"""A retrain started from the web (dashboard or ``POST /api/admin/retrain``): ``recommender
-v train`` as a child process, one at a time for the whole service, reaped by a thread of the
worker that started it; its status is shared by every worker (``shared_status.py``), its
output goes to ``<data_dir>/retrain.log``. The child takes the retrain lock itself; the runner checks it
first so that a retrain already running elsewhere (cron, a console) is refused at once.

A retrain outlives the service that started it (the child has its own session). When the
service stops first (:meth:`RetrainRunner.close`, from the app's shutdown), the reaper still
notes how the child ended but no longer calls ``on_success`` on the closed service: the new
model is published to the registry and served at the next start.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from recommender.config import Settings
from recommender.errors import ModelCompatibilityError, NoModelError, RetrainInProgress
from recommender.retrain.lock import retrain_lock
from recommender.retrain.registry import ModelRegistry
from recommender.retrain.shared_status import INTERRUPTED, SharedStatus, process_start

__all__ = ["FROM_WEB", "STARTED_FROM", "RetrainRunner", "retrain_command", "retrain_env", "retrain_result"]

log = logging.getLogger(__name__)


#: The environment variable that tells the child who started it: ``FROM_WEB`` for the dashboard
#: or ``POST /api/admin/retrain``, whose user has no ``train`` options (``--force``): the child's
#: messages then name none of them (cli/training.py).
STARTED_FROM = "RECOMMENDER_RETRAIN_STARTED_FROM"
FROM_WEB = "web"


def retrain_command() -> list[str]:
    """The retrain child process (tests replace it with a short script)."""
    return [sys.executable, "-m", "recommender", "-v", "train"]  # -v: the log's time-stamped lines


def retrain_env(settings: Settings) -> dict[str, str]:
    """The service's environment with every setting of ``settings`` written over it, so the
    child trains exactly what this service serves (whatever set the settings: environment,
    command line or code)."""
    env = dict(os.environ)
    env.update(settings.as_environment())
    env[STARTED_FROM] = FROM_WEB
    return env


def _current(registry: ModelRegistry) -> str | None:
    try:
        return registry.current_version()
    except ModelCompatibilityError:
        return None


def _metadata(registry: ModelRegistry, version: str | None) -> dict:
    if version is None:
        return {}
    try:
        return registry.show(version).metadata
    except (NoModelError, ValueError, OSError):
        return {}


#: How ``recommender train`` opens its line when it found nothing new (the model stays).
NOTHING_NEW = "没有新的反馈"
#: A time-stamped log line of the child (``-v``): for the operator, not the organizer.
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def _last_message(lines: list[str]) -> str | None:
    """The child's own last message to a person (the Chinese line ``recommender train``
    prints on stderr: too little feedback, another retrain running, the database missing),
    not its log lines or a traceback; None when it printed none."""
    for line in reversed(lines):
        if line[:1].isspace() or _LOG_LINE.match(line) or not _CJK.search(line):
            continue
        return line.strip()
    return None


def retrain_result(registry: ModelRegistry, before: str | None, served: list[str] | None = None) -> dict | None:
    """What a successful retrain did, read from the registry: ``before`` is the version that
    was current when it started, ``served`` the topic ids the organizers saw then (the
    version's topics with their corrections: a split's topic, without a merged one; None:
    the version's own list). ``changed`` False: nothing new, ``before`` stays current (the
    child found the same lines, tokenizer and model); True: ``version`` is the new current
    one, with its lines and topics, and the topic ids it has that were not served before
    (``new_topic_ids``) and the other way round (``gone_topic_ids``). None when no version
    is current (the child succeeded without publishing: nothing to say)."""
    after = _current(registry)
    if after is None:
        return None
    meta = _metadata(registry, after)
    out = {
        "changed": after != before,
        "version": after,
        "previous_version": before,
        "n_rows": meta.get("n_rows"),
        "n_topics": meta.get("n_topics"),
        "n_noise": meta.get("n_noise"),
    }
    if after == before:
        return out
    ids = [t for t in meta.get("topic_ids") or [] if t is not None]
    if served is None:
        served = [t for t in _metadata(registry, before).get("topic_ids") or [] if t is not None]
    old_ids = served if before else []
    return {
        **out,
        "previous_n_topics": len(old_ids) if before else None,
        "new_topic_ids": [t for t in ids if t not in set(old_ids)] if before else [],
        "gone_topic_ids": [t for t in old_ids if t not in set(ids)],
    }


def _busy_message(record: dict) -> str:
    try:
        started = f"{datetime.fromisoformat(record['started_at']):%Y-%m-%d %H:%M:%S} UTC"
    except (KeyError, TypeError, ValueError):
        started = "?"
    return f"另一个重新训练正在进行中（本服务于 {started} 启动，pid {record.get('pid', '?')}）"


class RetrainRunner:
    """The retrain started from the web, one at a time for the whole service: a child process
    reaped by a thread of the worker that started it; its status is shared by every worker
    (:class:`~recommender.retrain.shared_status.SharedStatus`)."""

    def __init__(
        self,
        settings: Settings,
        *,
        audit: Callable[[str, str, str | None, dict], object] | None = None,
        on_success: Callable[[], object] | None = None,
        served_topics: Callable[[], list[str]] | None = None,
    ) -> None:
        """``audit(actor, action, target, detail)`` records who started a retrain;
        ``on_success()`` runs after a retrain succeeded (the service loads the new model);
        ``served_topics()``, the topic ids the organizers see now, is read at the start, so
        the result names the topics that are new to them (not an organizer's split)."""
        self.settings = settings
        self._audit = audit
        self._on_success = on_success
        self._served_topics = served_topics
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._reaper: threading.Thread | None = None
        self._closed = False
        self.log_path = Path(settings.data_dir) / "retrain.log"
        self.shared = SharedStatus(self.lock_path)

    @property
    def registry(self) -> ModelRegistry:
        return ModelRegistry(Path(self.settings.models_dir))

    @property
    def lock_path(self) -> Path:
        return self.registry.lock_path

    def start(self, actor: str | None = None) -> dict:
        """Start a retrain; ``RetrainInProgress`` (→ 409) if one started from the web (by any
        worker) or anyone's is running. ``actor`` (the organizer) goes into the audit log, by
        this process and by the child."""
        with self._lock, self.shared.guard():
            record = self.shared.read()
            if record is not None and record.get("status") == "running" and self.shared.running(record):
                raise RetrainInProgress(_busy_message(record))
            # Someone else (cron, a console) holding the lock: fail now with its details.
            with retrain_lock(self.lock_path, owner="admin-check"):
                pass
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            env = retrain_env(self.settings)
            if actor is not None:
                env["RECOMMENDER_AUDIT_ACTOR"] = actor
            before = _current(self.registry)
            served = self._topics_now()
            with open(self.log_path, "wb") as log_file:
                proc = subprocess.Popen(
                    retrain_command(),
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # a server restart or Ctrl-C does not kill a running retrain
                )
            self._proc = proc
            self.shared.write({
                "status": "running", "pid": proc.pid, "host": self.shared.host, "worker_pid": os.getpid(),
                "pid_started": process_start(proc.pid), "worker_started": process_start(os.getpid()),
                "exit_code": None, "started_at": datetime.now(timezone.utc).isoformat(), "finished_at": None,
                "before": before, "served": served,
            })
            log.info("retrain started by an organizer: pid %d, output in %s", proc.pid, self.log_path)
            if actor is not None and self._audit is not None:
                self._audit(actor, "retrain", None, {"status": "started", "pid": proc.pid})
        self._reaper = threading.Thread(target=self._wait, args=(proc, before, served), name="retrain-reaper", daemon=True)
        self._reaper.start()
        return {**self.status(), "status": "started", "status_url": "/api/admin/retrain"}

    def _topics_now(self) -> list[str] | None:
        if self._served_topics is None:
            return None
        try:
            return list(self._served_topics())
        except Exception:  # noqa: BLE001 - no model yet, or none readable: the version's list is used
            return None

    def _wait(self, proc: subprocess.Popen, before: str | None, served: list[str] | None) -> None:
        code = proc.wait()
        result = None
        if code == 0:
            try:
                result = retrain_result(self.registry, before, served)
            except Exception:  # noqa: BLE001 - the retrain succeeded; only its summary is missing
                log.exception("could not read what the retrain changed")
        log.log(logging.INFO if code == 0 else logging.ERROR, "retrain pid %d exited with %d", proc.pid, code)
        with self._lock:
            closed = self._closed
        if code == 0 and closed:
            log.info("retrain pid %d finished after the service stopped: its model is served at the next start", proc.pid)
        elif code == 0 and self._on_success is not None:
            try:  # serve the new model now instead of at the next poll
                self._on_success()
            except Exception:
                log.exception("could not load the newly trained model; the poller will retry")
        # Only now is the retrain "finished": a client that sees it (on any worker) gets the new model.
        self._end(proc.pid, code, result, reaped=True)

    def _end(
        self, pid: int, code: int | None, result: dict | None, message: str | None = None, *,
        reaped: bool = False, status: str | None = None,
    ) -> dict | None:
        """Write the end of the retrain ``pid`` into the shared record (if it is still that one's;
        ``reaped``: its own worker's word, over a conclusion another machine drew meanwhile);
        ``status``: the end concluded without an exit code (else from ``code`` and ``result``)."""
        try:
            with self.shared.guard():
                record = self.shared.read()
                if record is None or record.get("pid") != pid or (record.get("status") != "running" and not reaped):
                    return record
                record.update(
                    status=status or ("finished" if code == 0 or (code is None and result is not None) else "failed"),
                    exit_code=code, finished_at=datetime.now(timezone.utc).isoformat(), result=result,
                )
                if record["status"] in ("failed", "interrupted"):  # the log stays on the machine that started it
                    record["log_tail"] = self._log_tail()
                    record["message"] = message or _last_message(record["log_tail"])
                self.shared.write(record)
                return record
        except OSError:
            log.exception("could not record the end of retrain pid %d", pid)
            return None

    def _concluded(self, record: dict) -> dict:
        """A ``running`` record whose retrain ended unseen (its worker stopped): what it did,
        from the registry and the retrain's log. A new current version is a finished retrain;
        so is one whose log ends 「没有新的反馈…」 (the model stays, ``changed`` False). Else
        nothing was published: ``failed`` with the retrain's own message or a traceback in
        its log, or ``interrupted`` (:data:`INTERRUPTED`: it stopped with its worker, the
        current model stays) when it said nothing."""
        before = record.get("before")
        result = None
        tail = self._log_tail()
        said = _last_message(tail)
        try:
            current = _current(self.registry)
            if current not in (None, before) or (current is not None and said and said.startswith(NOTHING_NEW)):
                result = retrain_result(self.registry, before, record.get("served"))
        except Exception:  # noqa: BLE001 - the summary is missing, the end is still recorded
            log.exception("could not read what the retrain changed")
        if result is not None:
            return self._end(record["pid"], None, result) or record
        if said is None and not any(line.startswith("Traceback") for line in tail):
            return self._end(record["pid"], None, None, INTERRUPTED, status="interrupted") or record
        return self._end(record["pid"], None, None, said, status="failed") or record

    def status(self) -> dict:
        """``idle`` (no retrain started from the web), ``running``, ``finished``, ``failed`` or
        ``interrupted`` (stopped with the worker that started it, nothing published): the
        service's last one, whichever worker started it."""
        record = self.shared.read()
        if record is None or record.get("status") not in ("running", "finished", "failed", "interrupted"):
            return {"status": "idle", "pid": None, "exit_code": None, "started_at": None, "finished_at": None}
        if record["status"] == "running" and not self.shared.running(record):
            record = self._concluded(record)
        state = record.get("status")
        out = {key: record.get(key) for key in ("status", "pid", "exit_code", "started_at", "finished_at")}
        if state in ("failed", "interrupted"):
            out["log_tail"] = record.get("log_tail") or []
            message = record.get("message")
            if message:
                out["message"] = message
        if state == "finished" and record.get("result") is not None:
            out["result"] = record["result"]
        return out

    def _log_tail(self, lines: int = 8) -> list[str]:
        try:
            raw = self.log_path.read_bytes()[-8192:]
        except OSError:
            return []
        text = raw.decode("utf-8", "replace").replace("\r", "\n")
        return [line for line in text.splitlines() if line.strip()][-lines:]

    def close(self) -> None:
        """The service is stopping: a retrain still running goes on, but its end no longer
        calls ``on_success`` (the service it would load the model into is closed)."""
        with self._lock:
            self._closed = True

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate a running child (tests, shutdown) and wait until its end is recorded."""
        proc, reaper = self._proc, self._reaper
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if reaper is not None and reaper is not threading.current_thread():
            reaper.join(timeout)
