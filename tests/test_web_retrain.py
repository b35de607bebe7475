"""A retrain started from the dashboard, as the organizer reads its end: the real ``recommender
-v train`` child on the test store, then the dashboard's notice and ``GET /api/admin/retrain``.

Nothing new: the notice says so in words (没有新的反馈, 模型保持不变), not a bare "finished".
New lines on a new subject: the notice names the new model's topics and links each new one.
A retrain that could not run says why in the retrain's own words, not an exit code and a log
file the organizer cannot open.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from recommender.retrain import runner
from tests.conftest import ORGANIZER_TOKEN
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 (fixtures)
from tests.helpers import dashboard_login, parse_html

#: Eight people, one new subject none of the four themes covers.
TAICHI = [
    "想学太极拳，早上在小区广场练",
    "希望开一期太极拳入门课",
    "太极拳的基本动作想系统学一下",
    "老年人练太极拳有什么讲究，想学太极拳",
    "能不能请老师教太极拳",
    "社区能组织太极拳班吗，想学太极拳",
    "太极拳和八段锦想学，太极拳优先",
    "报名太极拳课程，想学太极拳套路",
]


def _finish(client, headers, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get("/api/admin/retrain", headers=headers).json()
        if status["status"] not in ("running", "started"):
            return status
        time.sleep(0.2)
    raise AssertionError("the retrain did not finish")


def _retrain_from_dashboard(client) -> None:
    csrf = dashboard_login(client, ORGANIZER_TOKEN)
    started = client.post("/organizer/retrain", data={"csrf_token": csrf, "confirm": "yes"}, follow_redirects=False)
    assert started.status_code == 303


def _notice(client):
    return parse_html(client.get("/organizer").text).by_id("retrain-status")


def test_a_retrain_that_finds_nothing_new_says_the_model_is_unchanged(trained_client, organizer_headers):
    """The real child finds the lines, tokenizer and model of the current version: the
    dashboard says nothing new arrived and the model (its time, its topics) stays; the API's
    ``summary`` says the same; the audit log's line too, instead of 「训练完成」."""
    version = trained_client.get("/api/topics", headers=organizer_headers).json()["model_version"]
    n_topics = len(trained_client.get("/api/topics", headers=organizer_headers).json()["topics"])
    _retrain_from_dashboard(trained_client)
    status = _finish(trained_client, organizer_headers)
    assert status["status"] == "finished", status
    assert status["result"]["changed"] is False and status["result"]["version"] == version
    notice = _notice(trained_client)
    assert notice is not None and notice.get("data-kind") == "unchanged"
    text = notice.text
    assert "没有新的反馈" in text and "模型保持不变" in text and f"{n_topics} 个主题" in text
    assert "训练的模型" in text and version not in text  # the model as a time, not its file name
    assert "没有新的反馈" in status["summary"]
    audit = trained_client.get("/api/audit", headers=organizer_headers).json()["items"][0]
    assert audit["action"] == "retrain" and audit["summary"].startswith("没有新的反馈，模型保持不变")


@pytest.mark.slow
def test_a_retrain_with_new_demand_names_its_new_topics(trained_client, trained_service, organizer_headers):
    """Eight people ask for 太极拳 after the last retrain: the retrain publishes a new model and
    the notice says so, with the topic counts before and after and a link to the new topic. A
    topic the organizer split off before the retrain is not new to them: not named as new."""
    biggest = trained_client.get("/api/topics", headers=organizer_headers).json()["topics"][0]["topic_id"]
    members = trained_client.get(f"/api/topics/{biggest}?per_page=3", headers=organizer_headers).json()["members"]
    split = trained_client.post(
        f"/api/topics/{biggest}/split", headers=organizer_headers,
        json={"feedback_ids": [m["feedback_id"] for m in members["items"]], "label": "组织者拆出的主题"},
    )
    assert split.status_code == 201, split.text
    before = trained_client.get("/api/topics", headers=organizer_headers).json()
    split_id = next(t["topic_id"] for t in before["topics"] if t["label"] == "组织者拆出的主题")
    now = datetime.now(timezone.utc)
    drafts = [
        trained_service.draft(text, segment="居民", submitter=f"taichi-{i}", submitted_at=now - timedelta(hours=i + 1),
                              source="api")
        for i, text in enumerate(TAICHI)
    ]
    trained_service.store_live([trained_service.live_item(d) for d in drafts])
    _retrain_from_dashboard(trained_client)
    status = _finish(trained_client, organizer_headers)
    assert status["status"] == "finished", status
    result = status["result"]
    assert result["changed"] is True and result["previous_version"] == before["model_version"]
    assert result["new_topic_ids"] and split_id not in result["new_topic_ids"], result
    assert result["previous_n_topics"] == len(before["topics"])
    after = {t["topic_id"]: t["label"] for t in trained_client.get("/api/topics", headers=organizer_headers).json()["topics"]}
    notice = _notice(trained_client)
    assert notice.get("data-kind") == "changed"
    assert "新模型已启用" in notice.text and "新主题" in notice.text
    links = {a.get("href"): a.text for a in notice.find_all("a")}
    for topic_id in result["new_topic_ids"]:
        assert links[f"/organizer/topics/{topic_id}"] == after[topic_id]
    assert any("太极拳" in after[t] for t in result["new_topic_ids"]), [after[t] for t in result["new_topic_ids"]]
    assert f"「{after[result['new_topic_ids'][0]]}」" in status["summary"]


@pytest.fixture
def refusing_child(monkeypatch):
    """A retrain child that refuses as ``recommender train`` does with too little feedback."""
    message = "没有重新训练：只有 12 条反馈，至少需要 30 条（设置 RECOMMENDER_MIN_TRAIN_ROWS）。当前模型保持不变。"
    script = (
        "import sys; print('2026-12-07 02:16:14,407 INFO recommender.retrain: retrain skipped'); "
        f"print({message!r}, file=sys.stderr); sys.exit(2)"
    )
    monkeypatch.setattr(runner, "retrain_command", lambda: [sys.executable, "-c", script])
    return message


def test_a_retrain_that_could_not_run_says_why(trained_client, organizer_headers, refusing_child):
    """Exit code 2 (too little feedback): the notice gives the retrain's own message, not
    「退出码 2，请查看 retrain.log」 (a file on the server the organizer cannot open)."""
    _retrain_from_dashboard(trained_client)
    status = _finish(trained_client, organizer_headers)
    assert status["status"] == "failed" and status["message"] == refusing_child
    notice = _notice(trained_client)
    assert notice.get("data-kind") == "failed" and notice.get("role") == "alert"
    assert refusing_child.removeprefix("没有重新训练：") in notice.text
    assert notice.text.count("没有") == 1  # 「…没有完成：只有 12 条反馈…」, not 「没有完成：没有重新训练：…」
    assert "retrain.log" not in notice.text and "退出码" not in notice.text


@pytest.fixture
def slow_child(monkeypatch):
    """A retrain child that runs for a while."""
    monkeypatch.setattr(runner, "retrain_command", lambda: [sys.executable, "-c", "import time; time.sleep(30)"])


def test_no_advice_to_retrain_while_a_retrain_runs(trained_client, trained_service, monkeypatch, slow_child):
    """建议重新训练 and its button stayed up while the retrain it advised ran: its button led to
    「已有一次重新训练正在进行」. While one runs the page says so and offers no second one."""
    advised = {**trained_service.new_demand(), "unassigned_share": 0.5, "retrain_advised": True}
    monkeypatch.setattr(trained_service, "new_demand", lambda: advised)
    try:
        _retrain_from_dashboard(trained_client)
        page = parse_html(trained_client.get("/organizer").text)
        assert page.by_id("retrain-status").get("data-kind") == "running"
        assert "正在重新训练" in page.by_id("retrain-status").text
        assert page.by_id("retrain-advice") is None
    finally:
        trained_client.app.state.retrain_runner.stop()
    assert parse_html(trained_client.get("/organizer").text).by_id("retrain-advice") is not None


def test_a_started_retrain_reads_in_the_audit_log_without_its_process_id(trained_client, slow_child, caplog):
    """操作记录 said 「已在后台开始（进程 24879）」: a process id means nothing to an organizer.
    The row says who started it (操作人), when (时间) and where its progress shows; the pid
    stays where an operator looks: the server's log and the API's stored detail."""
    caplog.set_level("INFO", logger="recommender.retrain.runner")
    try:
        _retrain_from_dashboard(trained_client)
        pid = trained_client.app.state.retrain_runner.status()["pid"]
        page = parse_html(trained_client.get("/organizer").text)
    finally:
        trained_client.app.state.retrain_runner.stop()
    row = next(tr for tr in page.by_id("audit").find_all("tr") if tr.find("td", class_="audit-action") and "重新训练" in tr.text)
    assert row.find("td", class_="audit-detail").text == "已在后台开始训练，进度和结果会显示在看板顶部"
    assert str(pid) not in row.text and "进程" not in row.text
    assert row.find("td", class_="audit-actor").text and row.find("td", class_="audit-at").text
    assert f"pid {pid}" in caplog.text
    stored = trained_client.get("/api/audit", headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"}).json()["items"]
    assert {"status": "started", "pid": pid} in [e["detail"] for e in stored]


def test_first_model_and_many_new_topics_in_words():
    """The first model is said as such (no 「主题从 … 变为」, no 「新主题」 list: every topic is new);
    more new topics than are named are counted, and the API's summary says the same."""
    from zoneinfo import ZoneInfo

    from recommender.web.retrain_view import NEW_TOPICS_NAMED, retrain_summary, retrain_view

    tz = ZoneInfo("Asia/Shanghai")
    done = {"status": "finished", "finished_at": "2026-12-07T02:16:15+00:00"}
    first = retrain_view({**done, "result": {"changed": True, "version": "20261207T021323Z-e370", "previous_version": None,
                                             "n_rows": 430, "n_topics": 44, "n_noise": 28}}, {}, tz)
    assert first["text"] == "重新训练已完成（2026-12-07 10:16）：第一个模型已启用，430 条反馈分成 44 个主题。"
    assert first["new_topics"] == []
    ids = [f"T{n:04d}" for n in range(1, NEW_TOPICS_NAMED + 4)]
    many = retrain_view({**done, "result": {
        "changed": True, "version": "20261208T021323Z-e371", "previous_version": "20261207T021323Z-e370", "n_rows": 500,
        "n_topics": 44 + len(ids), "n_noise": 20, "previous_n_topics": 44, "new_topic_ids": ids, "gone_topic_ids": []}},
        {t: f"主题{t}" for t in ids}, tz)
    assert len(many["new_topics"]) == NEW_TOPICS_NAMED and many["more_new"] == 3
    summary = retrain_summary(many)
    assert f"主题从 44 个变为 {44 + len(ids)} 个" in summary and f"等 {len(ids)} 个。" in summary
    assert "「主题T0001」" in summary and "主题T0011" not in summary
