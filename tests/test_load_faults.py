"""No lost feedback under load and faults.

- 50 concurrent clients submit feedback lines (2,000 by default; the issue's full 20,000 with
  ``RECOMMENDER_TEST_LOAD_LINES=20000``) to a real ``recommender serve --workers 2`` while a
  retrain runs and the service swaps models: every line stored exactly once, no 5xx,
  suggestions answered throughout.
- A worker killed mid-request (SIGKILL): every line that got 201 is stored, none twice, and
  uvicorn's supervisor starts a new worker.
- The database briefly locked: submissions wait and succeed; none is partial.
- Disk full while a retrain writes the model: the retrain fails, the current model is
  untouched and no half version folder is left.

Run alone with ``pytest -m load``; ``-m "not load"`` skips them.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import re
import signal
import sqlite3
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from bench.load import TOKEN, ServiceProcess
from recommender.store import FeedbackStore
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.load, pytest.mark.e2e]

LINES = int(os.environ.get("RECOMMENDER_TEST_LOAD_LINES", "2000"))
CLIENTS = 50
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MARKER = re.compile(r"LT[0-9a-f]{8}-\d{6}")


def stored_markers(database_url: str) -> Counter:
    """How many stored feedback lines carry each test marker."""
    store = FeedbackStore(database_url)
    try:
        return Counter(m for row in store.iter_feedback() for m in MARKER.findall(row.text))
    finally:
        store.dispose()


async def submit_all(base_url: str, markers: list[str], *, clients: int, on_progress=None) -> dict[str, object]:
    """POST one line per marker from ``clients`` concurrent clients; marker -> status code or exception name."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for m in markers:
        queue.put_nowait(m)
    outcome: dict[str, object] = {}
    # A fresh connection per request: on a starved 2-core machine the test's own event loop
    # can leave a kept-alive connection idle past uvicorn's 5 s keep-alive, and httpx does
    # not retry a POST on a connection the server has just closed (browsers do). That race
    # is the client's, not the service's; the test is about what the service stores.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:

        async def client(k: int) -> None:
            while True:
                try:
                    marker = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                body = {"text": f"负载测试 {marker} 想学习公文写作和会议纪要", "segment": "网格员", "submitter": f"load-{k}"}
                try:
                    response = await http.post("/api/feedback", json=body)
                    outcome[marker] = response.status_code
                except httpx.TransportError as exc:
                    outcome[marker] = type(exc).__name__
                if on_progress is not None:
                    on_progress(len(outcome))

        await asyncio.gather(*(client(k) for k in range(clients)))
    return outcome


def new_markers(n: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"LT{run}-{i:06d}" for i in range(n)]


@pytest.fixture
def live(tmp_path, store_url, set_up_service):
    """A set-up (demo data, one model) `recommender serve --workers 2` on the test database."""
    svc = ServiceProcess(
        tmp_path / "svc",
        workers=2,
        database_url=store_url,
        extra_env={"RECOMMENDER_MODEL_POLL_SECONDS": "0.5"},
        log_level="INFO",
    )
    set_up_service(svc)
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()


@pytest.mark.timeout(600)
def test_no_feedback_lost_while_retraining_and_swapping(live):
    """Concurrent submissions during a retrain and a model swap: each line stored once, no 5xx, suggestions 200."""
    first = httpx.get(live.base_url + "/readyz").json()["model_version"]
    markers = new_markers(LINES)
    retrain_started = threading.Event()
    retrain: dict[str, object] = {}
    suggestion_status: Counter = Counter()
    versions_seen: set[str] = set()
    done = threading.Event()

    def run_retrain() -> None:
        retrain_started.set()
        retrain["result"] = live.cli("train", "--force")  # the lines of a burst are flagged: force a refit

    def progress(count: int) -> None:
        if count >= LINES // 5 and not retrain_started.is_set():
            threading.Thread(target=run_retrain, daemon=True).start()
            retrain_started.set()

    def watch_suggestions() -> None:
        with httpx.Client(base_url=live.base_url, headers=AUTH, timeout=30) as http:
            while not done.is_set():
                response = http.get("/api/suggestions")
                suggestion_status[response.status_code] += 1
                if response.status_code == 200:
                    versions_seen.add(response.json()["model_version"])
                time.sleep(0.05)

    watcher = threading.Thread(target=watch_suggestions, daemon=True)
    watcher.start()
    try:
        outcome = asyncio.run(submit_all(live.base_url, markers, clients=CLIENTS, on_progress=progress))
        deadline = time.monotonic() + 300
        while "result" not in retrain and time.monotonic() < deadline:
            time.sleep(0.2)
        train = retrain["result"]
        assert train.returncode == 0, train.stderr
        # Both workers swap within model_poll_seconds; wait until the watcher has seen the new model.
        deadline = time.monotonic() + 15
        while len(versions_seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        done.set()
        watcher.join(timeout=30)

    statuses = Counter(outcome.values())
    assert statuses == Counter({201: LINES}), statuses
    stored = stored_markers(live.database_url)
    assert set(stored) == set(markers), f"missing {len(set(markers) - set(stored))}"
    assert max(stored.values()) == 1, [m for m, c in stored.items() if c > 1][:5]
    assert set(suggestion_status) == {200}, suggestion_status
    assert first in versions_seen and len(versions_seen) >= 2, versions_seen

    # Every line is in the new model's demand: assigned under the version now served.
    current = httpx.get(live.base_url + "/readyz").json()["model_version"]
    store = FeedbackStore(live.database_url)
    try:
        # A worker assigns its own lines within a second; another's (or those of a failed
        # write) in the orphan sweep: 5 s grace + 5 s period, slower on a loaded machine.
        deadline = time.monotonic() + 30
        while (left := store.unassigned(current, limit=10)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert left == [], f"{len(left)}+ lines never assigned to {current}"
    finally:
        store.dispose()
    assert "Traceback" not in live.output()


@pytest.mark.timeout(300)
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_worker_killed_mid_request_loses_and_duplicates_nothing(live):
    """SIGKILL one worker under load: every 201 line is stored once, nothing twice, a new worker starts."""
    workers = live.worker_pids()
    assert len(workers) == 2, workers
    markers = new_markers(800)
    killed = threading.Event()

    def progress(count: int) -> None:
        if count >= 200 and not killed.is_set():
            killed.set()
            os.kill(workers[0], signal.SIGKILL)

    outcome = asyncio.run(submit_all(live.base_url, markers, clients=20, on_progress=progress))
    assert killed.is_set()
    statuses = Counter(outcome.values())
    assert not [s for s in statuses if isinstance(s, int) and s >= 500], statuses
    assert statuses[201] >= 600, statuses  # only requests in flight at the kill may fail
    stored = stored_markers(live.database_url)
    created = {m for m, s in outcome.items() if s == 201}
    assert created <= set(stored), f"{len(created - set(stored))} lines answered 201 but not stored"
    assert max(stored.values()) == 1
    assert set(stored) <= set(markers)
    # uvicorn's supervisor notices the dead worker and starts another one.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        pids = live.worker_pids()
        if len(pids) == 2 and workers[0] not in pids:
            break
        time.sleep(0.5)
    assert len(pids) == 2 and workers[0] not in pids, pids
    assert f"Child process [{workers[0]}] died" in live.output()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the new worker is serving too
        if all(httpx.get(live.base_url + "/readyz", timeout=5).status_code == 200 for _ in range(10)):
            break
        time.sleep(0.5)
    assert httpx.post(live.base_url + "/api/feedback", json={"text": "重启后的反馈"}).status_code == 201


# ------------------------------------------------------------------ database briefly locked


def hold_write_lock(database_url: str, seconds: float, held: threading.Event) -> threading.Thread:
    """Hold an exclusive write lock on the feedback table for ``seconds`` (SQLite: BEGIN EXCLUSIVE)."""

    def run() -> None:
        if database_url.startswith("sqlite"):
            conn = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            held.set()
            time.sleep(seconds)
            conn.execute("ROLLBACK")
            conn.close()
        else:
            engine = create_engine(database_url)
            with engine.connect() as conn, conn.begin():
                conn.execute(text("LOCK TABLE feedback IN EXCLUSIVE MODE"))
                held.set()
                time.sleep(seconds)
            engine.dispose()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert held.wait(10)
    return thread


def test_briefly_locked_database_delays_but_loses_nothing(client, settings, store):
    """With the feedback table locked for 2 s, submissions wait and then succeed; each stored once."""
    held = threading.Event()
    locker = hold_write_lock(settings.database_url, 2.0, held)
    results: list[int] = []
    started = time.monotonic()

    def submit(i: int) -> None:
        results.append(client.post("/api/feedback", json={"text": f"锁表期间的反馈 LOCK-{i:03d} 想学电脑"}).status_code)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    locker.join(10)
    assert results == [201] * 10
    assert time.monotonic() - started >= 1.5  # they did wait for the lock
    texts = [r.text for r in store.iter_feedback()]
    assert sorted(re.findall(r"LOCK-\d{3}", " ".join(texts))) == [f"LOCK-{i:03d}" for i in range(10)]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_database_locked_past_the_busy_timeout_answers_503(settings, monkeypatch):
    """Locked for longer than the busy timeout: a clear 503, never 500, nothing stored."""
    from fastapi.testclient import TestClient

    from recommender.service import RecommenderService
    from recommender.store import engine
    from recommender.web.app import create_app

    monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_MS", 200)
    store = FeedbackStore(settings.database_url)
    store.migrate()
    service = RecommenderService(settings, store=store)
    with TestClient(create_app(settings, service), raise_server_exceptions=False) as client:
        held = threading.Event()
        locker = hold_write_lock(settings.database_url, 1.5, held)
        response = client.post("/api/feedback", json={"text": "锁表太久时的反馈"})
        locker.join(10)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "2"
    assert store.count() == 0


# ------------------------------------------------------------------ disk full on model write


def test_disk_full_on_model_write_leaves_the_current_model(trained_service, settings, monkeypatch, caplog):
    """ENOSPC while writing model.joblib: the retrain fails, CURRENT is unchanged, no version folder is left."""
    import joblib

    from recommender.retrain.registry import ModelRegistry
    from recommender.retrain.pipeline import train_from_store

    registry = ModelRegistry(Path(settings.models_dir))
    before = registry.current_version()
    folders_before = sorted(p.name for p in Path(settings.models_dir).iterdir())

    def full_disk(value, target, *args, **kwargs):
        target.write(b"\x80partial-artifact")  # half a file, as a real full disk would leave
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    caplog.set_level(logging.INFO)
    with monkeypatch.context() as patched, pytest.raises(OSError) as raised:
        patched.setattr(joblib, "dump", full_disk)
        train_from_store(trained_service.store, settings, progress=False, force=True)
    assert raised.value.errno == errno.ENOSPC
    assert "No space left on device" in str(raised.value)

    assert registry.current_version() == before
    assert sorted(p.name for p in Path(settings.models_dir).iterdir()) == folders_before  # no .tmp- debris
    trained_service.refresh_model()
    assert trained_service.served().version == before
    # The lock was released: the next retrain (disk freed) succeeds.
    result = train_from_store(trained_service.store, settings, progress=False, force=True)
    assert registry.current_version() == result.version != before
