"""`recommender serve --workers 2` starts and serves on SQLite and on PostgreSQL, and
/metrics adds up both workers when PROMETHEUS_MULTIPROC_DIR is set."""

from __future__ import annotations

import re

import httpx
import pytest

from bench.load import TOKEN, ServiceProcess

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(180)
def test_two_workers_serve_feedback_suggestions_and_summed_metrics(tmp_path, store_url, set_up_service):
    """Two worker processes answer; feedback is stored once each; /metrics counts every worker's requests."""
    prom = tmp_path / "prom"
    prom.mkdir()
    svc = ServiceProcess(tmp_path / "svc", workers=2, database_url=store_url, extra_env={"PROMETHEUS_MULTIPROC_DIR": str(prom)})
    set_up_service(svc)
    svc.start()
    try:
        assert len(svc.worker_pids()) == 2
        for i in range(40):  # a new connection each time, so both workers take some
            assert httpx.get(svc.base_url + "/healthz").status_code == 200
        ids = {
            httpx.post(svc.base_url + "/api/feedback", json={"text": f"多进程测试 {i} 想学习公文写作"}).json()["id"]
            for i in range(20)
        }
        assert len(ids) == 20
        suggestions = httpx.get(svc.base_url + "/api/suggestions", headers={"Authorization": f"Bearer {TOKEN}"})
        assert suggestions.status_code == 200 and suggestions.json()["suggestions"]
        for _ in range(4):  # whichever worker answers, it reports the sum over both
            text = httpx.get(svc.base_url + "/metrics").text
            count = re.search(r'recommender_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)', text)
            assert count and float(count.group(1)) >= 40, text[:2000]
            stored = re.search(r'recommender_feedback_stored_total\{source="api"\} (\S+)', text)
            assert stored and float(stored.group(1)) == 20
        assert len({p.name.split("_")[-1] for p in prom.glob("*.db")}) == 2  # one file set per worker pid
    finally:
        svc.stop()
    assert "Traceback" not in svc.output()


@pytest.mark.timeout(180)
def test_each_worker_process_writes_the_operator_log(tmp_path, set_up_service):
    """With --workers 2 every worker logs its own start (model served) and, at shutdown,
    its intake writer's figures: uvicorn sets up only its own loggers in the worker processes."""
    svc = ServiceProcess(tmp_path / "svc", workers=2, log_level="INFO")
    set_up_service(svc)
    svc.start()
    try:
        pids = svc.worker_pids()
        assert len(pids) == 2
        for i in range(10):
            assert httpx.post(svc.base_url + "/api/feedback", json={"text": f"日志测试 {i} 想学习公文写作"}).status_code == 201
    finally:
        svc.stop()
    log = svc.output()
    assert len(re.findall(r"INFO recommender\.web\.app: serving model \S+", log)) == 2, log[-3000:]
    assert re.search(r"INFO recommender\.door\.intake_queue: intake writer stopped: \d+ lines", log), log[-3000:]
    assert "日志测试" not in log  # never the feedback text
