"""The web-started retrain seen by every worker of ``recommender serve --workers N``: two apps
over the same data folder, models and store stand for two workers. A retrain started on one
is running and then finished (with its summary) on the other, a second start there is refused,
a worker started later still sees the end, and a retrain whose worker died is not "running"
forever."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from recommender.retrain import runner
from recommender.retrain.shared_status import INTERRUPTED, SharedStatus, pid_alive, process_start
from tests.conftest import ORGANIZER_TOKEN
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 (fixtures)
from tests.helpers import assert_error, dashboard_login, parse_html


@pytest.fixture
def gated_child(monkeypatch, tmp_path):
    """A retrain child that runs until the test creates its ``go`` file, then exits 0."""
    go = tmp_path / "go"
    script = f"import os, sys, time\nwhile not os.path.exists({str(go)!r}): time.sleep(0.02)\nsys.exit(0)"
    monkeypatch.setattr(runner, "retrain_command", lambda: [sys.executable, "-c", script])
    return go


def _worker(settings):
    """Another worker: its own app and service over the same settings (folders and store)."""
    from recommender.web.app import create_app

    return TestClient(create_app(settings))


def _status(client, headers) -> dict:
    return client.get("/api/admin/retrain", headers=headers).json()


def _wait_until(client, headers, state: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = _status(client, headers)
        if status["status"] == state or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_a_retrain_started_on_one_worker_is_seen_and_guarded_on_another(
    trained_client, settings, organizer_headers, gated_child
):
    """Worker A starts it; worker B's poll and dashboard say running, B's start is a 409 naming
    it; once it ends B says finished with the summary, and so does a worker started later."""
    with _worker(settings) as other:
        assert _status(other, organizer_headers)["status"] == "idle"
        started = trained_client.post("/api/admin/retrain", headers=organizer_headers)
        assert started.status_code == 202, started.text
        try:
            seen = _status(other, organizer_headers)
            assert seen["status"] == "running" and seen["pid"] == started.json()["pid"], seen
            body = assert_error(other.post("/api/admin/retrain", headers=organizer_headers), 409, "retrain_in_progress")
            assert "另一个重新训练正在进行中" in body["error"]["message"]
            assert f"pid {started.json()['pid']}" in body["error"]["message"]
            dashboard_login(other, ORGANIZER_TOKEN)
            notice = parse_html(other.get("/organizer").text).by_id("retrain-status")
            assert notice is not None and notice.get("data-kind") == "running"
            gated_child.touch()
            done = _wait_until(other, organizer_headers, "finished")
        finally:
            trained_client.app.state.retrain_runner.stop()
        assert done["status"] == "finished" and done["exit_code"] == 0 and done["finished_at"], done
        assert done["result"]["changed"] is False
        assert "没有新的反馈" in done["summary"]
    with _worker(settings) as restarted:  # a worker started afterwards still says how it ended
        assert _status(restarted, organizer_headers)["summary"] == done["summary"]


@pytest.mark.parametrize("published", [False, True], ids=["nothing-published", "new-model-current"])
def test_a_retrain_whose_worker_died_is_not_running_forever(
    trained_client, settings, organizer_headers, published, monkeypatch
):
    """The worker that started a retrain died and so did its child (no lock held): the next
    status poll says how it ended, from the registry (a model newer than the one current at
    its start: finished, with what changed; else: it did not finish), and a new one may start."""
    current = trained_client.get("/api/topics", headers=organizer_headers).json()["model_version"]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    shared = SharedStatus(trained_client.app.state.retrain_runner.lock_path)
    shared.write({
        "status": "running", "pid": dead.pid, "host": shared.host, "worker_pid": dead.pid, "exit_code": None,
        "started_at": datetime.now(timezone.utc).isoformat(), "finished_at": None,
        "before": None if published else current, "served": None,
    })
    assert not os.path.exists(settings.data_dir / "retrain.log")
    status = _status(trained_client, organizer_headers)
    if published:
        assert status["status"] == "finished" and status["result"]["version"] == current, status
        assert "第一个模型已启用" in status["summary"]
    else:  # it stopped with its worker: not a failure, nothing published, the model stays
        assert status["status"] == "interrupted" and status["message"] == INTERRUPTED, status
        assert "没有发布新模型" in status["summary"] and "当前模型保持不变" in status["summary"]
        assert "失败" not in status["summary"]
    assert shared.read()["status"] == status["status"]  # written back: concluded once
    monkeypatch.setattr(runner, "retrain_command", lambda: [sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert trained_client.post("/api/admin/retrain", headers=organizer_headers).status_code == 202
    finally:
        trained_client.app.state.retrain_runner.stop()


def _running_record(shared, *, pid, worker_pid, before, **started) -> None:
    shared.write({
        "status": "running", "pid": pid, "host": shared.host, "worker_pid": worker_pid, "exit_code": None,
        "started_at": datetime.now(timezone.utc).isoformat(), "finished_at": None,
        "before": before, "served": None, **started,
    })


def test_a_pid_reused_by_another_process_is_not_the_retrain():
    """A pid names the retrain's process only with its start time: the test process itself,
    given a start time it does not have, stands for a pid the system gave to another process."""
    me = os.getpid()
    started = process_start(me)
    assert isinstance(started, int) and started > 0
    assert pid_alive(me) and pid_alive(me, started)
    assert not pid_alive(me, started + 1)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert process_start(dead.pid) is None and not pid_alive(dead.pid, started)


def test_a_retrain_whose_pids_were_reused_is_not_running_forever(trained_client, settings, organizer_headers):
    """The worker and the child of a retrain died and their pids now belong to an unrelated
    process (here the test process, recorded with another start time): the status is
    concluded (nothing published: interrupted) instead of 「running」 for ever, and a record
    whose start times match that living process still reads running."""
    current = trained_client.get("/api/topics", headers=organizer_headers).json()["model_version"]
    shared = SharedStatus(trained_client.app.state.retrain_runner.lock_path)
    me, started = os.getpid(), process_start(os.getpid())
    _running_record(shared, pid=me, worker_pid=me, before=current, pid_started=started, worker_started=started)
    assert _status(trained_client, organizer_headers)["status"] == "running"
    _running_record(shared, pid=me, worker_pid=me, before=current, pid_started=started - 1, worker_started=started - 1)
    status = _status(trained_client, organizer_headers)
    assert status["status"] == "interrupted" and status["message"] == INTERRUPTED, status
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    notice = parse_html(trained_client.get("/organizer").text).by_id("retrain-status")
    assert notice.get("data-kind") == "interrupted" and notice.get("role") == "status"
    assert "没有发布新模型" in notice.text and "notice--error" not in notice.get("class")


@pytest.mark.parametrize(
    ("log", "state"),
    [
        ("没有新的反馈：当前模型 v 保持不变（30 条反馈，3 个主题）。\n", "finished"),
        ("没有重新训练：只有 3 条反馈，至少需要 30 条（设置 RECOMMENDER_MIN_TRAIN_ROWS）。\n", "failed"),
        ("Traceback (most recent call last):\n  File \"x\", line 1\nMemoryError\n", "failed"),
        ("2026-12-07 04:00:00 INFO loading feedback\n", "interrupted"),
    ],
    ids=["nothing-new", "refused", "crashed", "stopped"],
)
def test_a_retrain_concluded_without_its_worker_says_what_its_log_says(
    trained_client, settings, organizer_headers, log, state
):
    """Nothing published and no worker to tell: the retrain's log says whether it found nothing
    new (finished, the model unchanged), refused or crashed (failed, with its message), or
    stopped midway (interrupted)."""
    current = trained_client.get("/api/topics", headers=organizer_headers).json()["model_version"]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (settings.data_dir / "retrain.log").write_text(log, encoding="utf-8")
    shared = SharedStatus(trained_client.app.state.retrain_runner.lock_path)
    _running_record(shared, pid=dead.pid, worker_pid=dead.pid, before=current)
    status = _status(trained_client, organizer_headers)
    assert status["status"] == state, status
    if state == "finished":
        assert status["result"]["changed"] is False and "模型保持不变" in status["summary"]
    elif state == "failed":
        assert "没有完成" in status["summary"] or "失败" in status["summary"]
