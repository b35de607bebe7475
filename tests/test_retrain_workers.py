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
from recommender.retrain.shared_status import INTERRUPTED, SharedStatus
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
    else:
        assert status["status"] == "failed" and status["message"] == INTERRUPTED, status
        assert "没有完成" in status["summary"]
    assert shared.read()["status"] == status["status"]  # written back: concluded once
    monkeypatch.setattr(runner, "retrain_command", lambda: [sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert trained_client.post("/api/admin/retrain", headers=organizer_headers).status_code == 202
    finally:
        trained_client.app.state.retrain_runner.stop()
