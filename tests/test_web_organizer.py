"""Organizer JSON API, exports and dashboard pages, through the whole app (TestClient)."""

from __future__ import annotations

import csv
import io
import re
import sys
import time
from datetime import date, timedelta
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from recommender.config import Settings
from recommender.ranking.explain import cooldown_text
from recommender.retrain.lock import retrain_lock
from recommender.retrain import runner
from tests.conftest import ORGANIZER_TOKEN
from tests.fixtures_organizer import INJECTION, trained_client, trained_service  # noqa: F401 (fixtures)
from tests.helpers import assert_error, dashboard_login, parse_html

INTERFACE_KEYS = {
    "topic_id", "rank", "label", "keywords", "score", "score_breakdown", "feedback_count",
    "distinct_submitters", "trend", "examples", "feedback_ids", "theme_id", "theme_label", "why",
}
EXTRA_KEYS = {
    "votes", "recently_covered", "last_class_on", "class_planned_on", "demand_rising_after_class",
    "monthly_counts", "similar_to", "cooldown_until", "recent_people", "previous_people", "breakdown_readable", "experts",
}
TRENDS_ZH = {"新出现", "上升", "平稳", "下降"}


def _login(client) -> str:
    """Log the client in to the dashboard and return the CSRF token of the dashboard page."""
    return dashboard_login(client, ORGANIZER_TOKEN)


def _top_topic(client, headers) -> dict:
    return client.get("/api/suggestions", headers=headers).json()["suggestions"][0]


def _topic_of_injection(service) -> str:
    served = service.served()
    for row, topic_id, _ in service.store.assignment_rows(served.version):
        if row.text.startswith("=cmd"):
            assert topic_id is not None, "the injection line fits a topic"
            return topic_id
    raise AssertionError("injection line not stored")


# --------------------------------------------------------------------------- suggestions


def test_suggestions_without_a_model_answer_503(client, organizer_headers):
    """No model trained yet: 503 in the JSON error shape, code no_model."""
    assert_error(client.get("/api/suggestions", headers=organizer_headers), 503, "no_model")


@pytest.mark.parametrize(
    "query",
    ["top=0", "top=51", "top=abc", "top=2.5", "as_of=2026-13-01", "as_of=20260101", "as_of=1700000000",
     "as_of=tomorrow", "segment=外星人"],
)
def test_bad_suggestion_parameters_answer_422_even_without_a_model(client, organizer_headers, query):
    """top outside 1..50, an invalid date, an unknown segment: 422 JSON error (checked before the model)."""
    response = client.get(f"/api/suggestions?{query}", headers=organizer_headers)
    body = assert_error(response, 422)
    assert body["error"]["details"][0]["field"] == query.split("=")[0]


def test_suggestions_shape_matches_interface(trained_client, organizer_headers):
    """GET /api/suggestions: exactly the INTERFACE.md keys (plus the documented extras), right types."""
    response = trained_client.get("/api/suggestions?top=3", headers=organizer_headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"as_of", "model_version", "suggestions"}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", body["as_of"])  # the organizers' today (tests/test_organizers_day.py)
    assert body["model_version"]
    assert 1 <= len(body["suggestions"]) <= 3
    for rank, s in enumerate(body["suggestions"], start=1):
        assert set(s) == INTERFACE_KEYS | EXTRA_KEYS
        assert list(s)[: len(INTERFACE_KEYS)] == [
            "topic_id", "rank", "label", "keywords", "score", "score_breakdown", "feedback_count",
            "distinct_submitters", "trend", "examples", "feedback_ids", "theme_id", "theme_label", "why",
        ]
        assert s["rank"] == rank
        assert isinstance(s["label"], str) and s["label"]
        assert all(isinstance(k, str) for k in s["keywords"])
        assert isinstance(s["score"], float)
        assert all(isinstance(v, float) for v in s["score_breakdown"].values())
        assert s["trend"] in {"new", "growing", "steady", "fading"}
        assert len(s["feedback_ids"]) == s["feedback_count"]
        assert s["distinct_submitters"] <= s["feedback_count"]
        assert isinstance(s["theme_id"], str) and isinstance(s["theme_label"], str) and s["theme_label"]


def test_suggestions_honour_as_of_and_segment(trained_client, organizer_headers):
    """as_of is echoed; an as_of before any feedback gives no suggestions; a segment narrows the count."""
    past = trained_client.get("/api/suggestions?as_of=2000-01-01", headers=organizer_headers).json()
    assert past["as_of"] == "2000-01-01" and past["suggestions"] == []
    everyone = trained_client.get("/api/suggestions?top=10", headers=organizer_headers).json()["suggestions"]
    some = trained_client.get("/api/suggestions?top=10&segment=网格员", headers=organizer_headers).json()["suggestions"]
    total = {s["topic_id"]: s["feedback_count"] for s in everyone}
    assert some, "the four themes each have enough 网格员 lines"
    for s in some:
        assert s["feedback_count"] < total.get(s["topic_id"], 10**6)


# --------------------------------------------------------------------------- topics


def test_topics_list_detail_and_pagination(trained_client, organizer_headers):
    """GET /api/topics lists every topic; GET /api/topics/{id} pages through its members."""
    topics = trained_client.get("/api/topics", headers=organizer_headers).json()
    assert set(topics) == {"model_version", "topics"}
    assert len(topics["topics"]) >= 3
    biggest = topics["topics"][0]
    first = trained_client.get(f"/api/topics/{biggest['topic_id']}?per_page=5", headers=organizer_headers).json()
    second = trained_client.get(f"/api/topics/{biggest['topic_id']}?per_page=5&page=2", headers=organizer_headers).json()
    assert first["members"]["total"] == biggest["size"] > 5
    assert len(first["members"]["items"]) == 5
    ids_1 = {m["id"] for m in first["members"]["items"]}
    ids_2 = {m["id"] for m in second["members"]["items"]}
    assert ids_1 and ids_2 and not ids_1 & ids_2
    assert {"sessions", "events", "keywords", "label"} <= set(first)


def test_topic_errors(trained_client, organizer_headers):
    """An unknown topic is 404, a bad page size 422, both in the JSON error shape."""
    assert_error(trained_client.get("/api/topics/T9999", headers=organizer_headers), 404, "not_found")
    assert_error(trained_client.get("/api/topics/T0001?per_page=0", headers=organizer_headers), 422)
    assert_error(trained_client.get("/api/topics/T0001?page=-1", headers=organizer_headers), 422)


def test_rename_topic_and_reset(trained_client, organizer_headers):
    """PATCH sets the organizer's label (shown everywhere); null restores the model's label."""
    topic = _top_topic(trained_client, organizer_headers)
    tid = topic["topic_id"]
    response = trained_client.patch(f"/api/topics/{tid}", json={"label": "  灭火与逃生  "}, headers=organizer_headers)
    assert response.status_code == 200
    assert response.json() == {"topic_id": tid, "label": "灭火与逃生"}
    detail = trained_client.get(f"/api/topics/{tid}", headers=organizer_headers).json()
    assert detail["label"] == "灭火与逃生" and detail["model_label"] != "灭火与逃生"
    labels = {s["topic_id"]: s["label"] for s in trained_client.get("/api/suggestions?top=10", headers=organizer_headers).json()["suggestions"]}
    assert labels[tid] == "灭火与逃生"
    reset = trained_client.patch(f"/api/topics/{tid}", json={"label": None}, headers=organizer_headers)
    assert reset.json() == {"topic_id": tid, "label": None}
    assert trained_client.get(f"/api/topics/{tid}", headers=organizer_headers).json()["label"] == detail["model_label"]


def test_rename_errors(trained_client, organizer_headers):
    """Too long 422, missing field 422, unknown topic 404."""
    tid = _top_topic(trained_client, organizer_headers)["topic_id"]
    assert_error(trained_client.patch(f"/api/topics/{tid}", json={"label": "长" * 31}, headers=organizer_headers), 422, "too_long")
    assert_error(trained_client.patch(f"/api/topics/{tid}", json={}, headers=organizer_headers), 422)
    assert_error(trained_client.patch("/api/topics/T9999", json={"label": "x"}, headers=organizer_headers), 404)


def test_a_topic_cannot_take_another_topics_name(trained_client, organizer_headers):
    """No two topics share a name: renaming to a label another topic shows (the model's or an
    organizer's, case and spaces aside) is 409 and changes nothing; the topic's own name is fine;
    the dashboard's form says why."""
    client, h = trained_client, organizer_headers
    first, second = client.get("/api/suggestions?top=2", headers=h).json()["suggestions"]
    taken = second["label"]
    body = assert_error(client.patch(f"/api/topics/{first['topic_id']}", json={"label": f" {taken} "}, headers=h), 409, "label_taken")
    assert taken in body["error"]["message"] and second["topic_id"] in body["error"]["message"]
    assert client.get(f"/api/topics/{first['topic_id']}", headers=h).json()["label"] == first["label"]
    own = client.patch(f"/api/topics/{first['topic_id']}", json={"label": first["label"]}, headers=h)
    assert own.status_code == 200
    client.patch(f"/api/topics/{first['topic_id']}", json={"label": None}, headers=h)
    csrf = _login(client)
    done = client.post(f"/organizer/topics/{first['topic_id']}/label", data={"label": taken, "csrf_token": csrf})
    assert done.status_code == 200 and "已有主题叫" in parse_html(done.text).find("div", class_="flash").text
    assert client.get(f"/api/topics/{first['topic_id']}", headers=h).json()["label"] == first["label"]


# --------------------------------------------------------------------------- sessions


def test_sessions_record_list_and_cool_down(trained_client, organizer_headers):
    """POST /api/sessions → 201; GET lists it; a held class marks the topic recently covered."""
    tid = _top_topic(trained_client, organizer_headers)["topic_id"]
    body = {"topic_id": tid, "title": "消防安全第一课", "date": date.today().isoformat(), "status": "held",
            "instructor": "王老师"}
    response = trained_client.post("/api/sessions", json=body, headers=organizer_headers)
    assert response.status_code == 201, response.text
    created = response.json()
    assert {k: created[k] for k in ("topic_id", "title", "date", "status", "instructor")} == body
    listed = trained_client.get("/api/sessions", headers=organizer_headers).json()["sessions"]
    assert [s["id"] for s in listed] == [created["id"]]
    after = {s["topic_id"]: s for s in trained_client.get("/api/suggestions?top=10", headers=organizer_headers).json()["suggestions"]}
    assert after[tid]["recently_covered"] is True
    assert after[tid]["last_class_on"] == body["date"]


@pytest.mark.parametrize(
    "change",
    [{"status": "done"}, {"date": "2026-13-01"}, {"date": 20260101}, {"title": ""}, {"topic_id": "T9999"}],
    ids=["status", "bad-date", "number-date", "empty-title", "unknown-topic"],
)
def test_session_validation(trained_client, organizer_headers, change):
    """A bad status, date or title: 422 in the JSON error shape; a well-formed id of no topic: 404
    (the request itself is valid, as the schema says)."""
    tid = _top_topic(trained_client, organizer_headers)["topic_id"]
    body = {"topic_id": tid, "title": "课", "date": "2026-05-01", "status": "planned", **change}
    expected = 404 if "topic_id" in change else 422
    assert_error(trained_client.post("/api/sessions", json=body, headers=organizer_headers), expected)


# --------------------------------------------------------------------------- retrain


@pytest.fixture
def retrain_script(monkeypatch, tmp_path):
    """Replace the retrain command with a script: set ``seconds`` and ``code`` before starting."""
    control = {"seconds": 0.0, "code": 0, "env_file": tmp_path / "child_env.txt"}

    def command() -> list[str]:
        script = (
            "import os, sys, time; "
            f"open({str(control['env_file'])!r}, 'w').write(os.environ.get('RECOMMENDER_DATABASE_URL', '') + '\\n' "
            "+ os.environ.get('RECOMMENDER_MODELS_DIR', '')); "
            f"print('training…'); time.sleep({control['seconds']}); sys.exit({control['code']})"
        )
        return [sys.executable, "-c", script]

    monkeypatch.setattr(runner, "retrain_command", command)
    yield control


def _wait_for(client, headers, state: str, timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = client.get("/api/admin/retrain", headers=headers).json()
        if status["status"] == state or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_retrain_starts_202_then_409_while_running(client, organizer_headers, retrain_script, settings):
    """POST /api/admin/retrain: 202 started; a second one while it runs is 409; status says running."""
    retrain_script["seconds"] = 30
    assert client.get("/api/admin/retrain", headers=organizer_headers).json()["status"] == "idle"
    first = client.post("/api/admin/retrain", headers=organizer_headers)
    assert first.status_code == 202
    assert first.json()["status"] == "started" and first.json()["pid"]
    try:
        busy = client.post("/api/admin/retrain", headers=organizer_headers)
        body = assert_error(busy, 409, "retrain_in_progress")
        assert "正在进行" in body["error"]["message"]
        assert client.get("/api/admin/retrain", headers=organizer_headers).json()["status"] == "running"
        env_lines = _wait_until_file(retrain_script["env_file"]).splitlines()
        assert env_lines == [settings.database_url, str(settings.models_dir)]
    finally:
        client.app.state.retrain_runner.stop()
    failed = _wait_for(client, organizer_headers, "failed")
    assert failed["status"] == "failed" and failed["exit_code"] != 0


def _wait_until_file(path, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} was not written")


def test_retrain_status_reports_finished_and_failed(client, organizer_headers, retrain_script):
    """GET /api/admin/retrain follows the child to finished (exit 0) or failed (with the log's tail)."""
    done = client.post("/api/admin/retrain", headers=organizer_headers)
    assert done.status_code == 202
    finished = _wait_for(client, organizer_headers, "finished")
    assert finished["status"] == "finished" and finished["exit_code"] == 0 and finished["finished_at"]
    retrain_script["code"] = 2
    assert client.post("/api/admin/retrain", headers=organizer_headers).status_code == 202
    failed = _wait_for(client, organizer_headers, "failed")
    assert failed["exit_code"] == 2
    assert "training…" in failed["log_tail"]


def test_retrain_refused_while_another_process_holds_the_lock(client, organizer_headers, retrain_script, settings):
    """A retrain started elsewhere (cron, console) holds the lock: 409 with who holds it."""
    with retrain_lock(settings.models_dir / ".retrain.lock", owner="cron"):
        body = assert_error(client.post("/api/admin/retrain", headers=organizer_headers), 409, "retrain_in_progress")
    assert "cron" in body["error"]["message"]
    assert client.get("/api/admin/retrain", headers=organizer_headers).json()["status"] == "idle"


# --------------------------------------------------------------------------- exports


def _filename(response) -> str:
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    return unquote(disposition.split("filename*=UTF-8''", 1)[1])


def test_suggestions_export_csv_and_xlsx(trained_client, organizer_headers):
    """The suggestions download as CSV (BOM) and XLSX with a Chinese filename; rows match the JSON."""
    ranked = trained_client.get("/api/suggestions?top=4", headers=organizer_headers).json()
    as_csv = trained_client.get("/api/suggestions/export?format=csv&top=4", headers=organizer_headers)
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.content.startswith(b"\xef\xbb\xbf")
    assert _filename(as_csv) == f"夜校主题建议_{ranked['as_of']}.csv"
    table = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert [row[1] for row in table[1:]] == [s["topic_id"] for s in ranked["suggestions"]]
    as_xlsx = trained_client.get("/api/suggestions/export?format=xlsx&top=4&segment=网格员", headers=organizer_headers)
    assert as_xlsx.status_code == 200
    assert _filename(as_xlsx).endswith("_网格员.xlsx")
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    assert next(sheet.values)[0] == "排名"
    assert_error(trained_client.get("/api/suggestions/export?format=pdf", headers=organizer_headers), 422)
    assert_error(trained_client.get("/api/suggestions/export?top=0", headers=organizer_headers), 422)


def test_topic_export_neutralises_formula_injection(trained_client, trained_service, organizer_headers):
    """A topic's feedback export (CSV and XLSX) turns "=cmd|' /C calc'!A0" into text."""
    tid = _topic_of_injection(trained_service)
    as_csv = trained_client.get(f"/api/topics/{tid}/export?format=csv", headers=organizer_headers)
    assert as_csv.status_code == 200
    assert _filename(as_csv).startswith(f"主题{tid}_")
    table = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert table[0] == ["编号", "提交时间", "人群", "反馈内容", "点赞数", "是否重复"]
    texts = [row[3] for row in table[1:]]
    assert "'" + INJECTION in texts
    assert not any(t.startswith("=") for row in table for t in row)
    as_xlsx = trained_client.get(f"/api/topics/{tid}/export?format=xlsx", headers=organizer_headers)
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert all(c.data_type != "f" for c in cells)
    assert "'" + INJECTION in [c.value for c in cells]
    detail = trained_client.get(f"/api/topics/{tid}", headers=organizer_headers).json()
    assert len(table) - 1 == detail["size"]
    assert_error(trained_client.get("/api/topics/T9999/export", headers=organizer_headers), 404)


def test_export_links_work_with_the_dashboard_cookie(trained_client, trained_service):
    """Logged in to the dashboard, the export links on the topic page download (no bearer needed)."""
    _login(trained_client)
    tid = _topic_of_injection(trained_service)
    page = parse_html(trained_client.get(f"/organizer/topics/{tid}").text)
    links = [a.get("href") for a in page.find_all("a") if "/export" in (a.get("href") or "")]
    assert links == [f"/api/topics/{tid}/export?format=csv", f"/api/topics/{tid}/export?format=xlsx"]
    for href in links:
        response = trained_client.get(href)
        assert response.status_code == 200, href
        assert response.headers["content-disposition"].startswith("attachment;")


# --------------------------------------------------------------------------- dashboard


def test_dashboard_without_a_model_says_to_retrain(client):
    """No model: the dashboard explains to run the retrain and offers the button."""
    _login(client)
    page = parse_html(client.get("/organizer").text)
    notice = page.by_id("no-model")
    assert notice is not None and "recommender train" in notice.text
    assert notice.find("form", action="/organizer/retrain") is not None


def test_dashboard_shows_ranked_cards_and_the_chart(trained_client, organizer_headers):
    """Cards in rank order with trend word, sparkline, quotes, score table and plan form; the bar chart SVG."""
    _login(trained_client)
    ranked = trained_client.get("/api/suggestions", headers=organizer_headers).json()["suggestions"]
    response = trained_client.get("/organizer")
    assert response.status_code == 200
    page = parse_html(response.text)
    cards = page.find_all("li", class_="card")
    assert [c.get("data-topic-id") for c in cards] == [s["topic_id"] for s in ranked]
    for card, s in zip(cards, ranked):
        assert card.find("span", class_="rank").text == str(s["rank"])
        assert s["label"] in card.find("h3").text
        assert card.find("span", class_="badge--trend").text in TRENDS_ZH
        assert card.find("svg", class_="sparkline") is not None
        assert 1 <= len(card.find_all("blockquote")) <= 3
        assert len(card.find("table", class_="breakdown").find_all("tr")) == len(s["score_breakdown"])
        form = card.find("form", action="/organizer/sessions")
        assert form.find("input", name="topic_id").get("value") == s["topic_id"]
        assert form.find("input", name="csrf_token").get("value")
    chart = page.find("svg", class_="bar-chart")
    assert chart is not None and chart.get("role") == "img"


def test_dashboard_filters_and_bad_filter(trained_client):
    """The GET filters keep their values; an invalid date shows an error (422) and default results."""
    _login(trained_client)
    page = parse_html(trained_client.get("/organizer?segment=网格员&as_of=2000-01-01").text)
    assert "selected" in page.find("option", value="网格员").attrs
    assert page.find("input", name="as_of").get("value") == "2000-01-01"
    assert page.find_all("li", class_="card") == []
    bad = trained_client.get("/organizer?as_of=2026-02-30")
    assert bad.status_code == 422
    assert "as_of" in bad.text
    assert parse_html(bad.text).find_all("li", class_="card")


def test_plan_a_class_from_the_dashboard(trained_client, organizer_headers):
    """The card's form records a held class: 303 back with a flash message; the card shows 近期已开课."""
    csrf = _login(trained_client)
    top = _top_topic(trained_client, organizer_headers)
    response = trained_client.post(
        "/organizer/sessions",
        data={"csrf_token": csrf, "topic_id": top["topic_id"], "title": top["label"], "date": date.today().isoformat(),
              "status": "held", "return_to": "/organizer?top=5"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/organizer?top=5"
    page = parse_html(trained_client.get(response.headers["location"]).text)
    today = date.today()
    assert f"已记录课程“{top['label']}”：{today.year}年{today.month}月{today.day}日，已开课。" in page.find("div", class_="flash").text
    card = page.find("li", id=f"topic-{top['topic_id']}")
    note = cooldown_text(today, today + timedelta(days=Settings().cooldown_days), today)
    assert note in card.find("p", class_="badges").text  # 「12月6日已开课，暂缓到 2027年3月6日」
    assert note in card.find("p", class_="why").text
    again = parse_html(trained_client.get("/organizer").text)
    assert again.find("div", class_="flash") is None, "a flash message is shown once"


def test_plan_form_errors_come_back_as_flash(trained_client):
    """A bad date or an empty title is not stored: 303 back with an error message."""
    csrf = _login(trained_client)
    bad = trained_client.post("/organizer/sessions", data={"csrf_token": csrf, "topic_id": "T0001", "title": "课",
                                                            "date": "not-a-date", "status": "held"}, follow_redirects=False)
    assert bad.status_code == 303
    page = parse_html(trained_client.get("/organizer").text)
    assert page.find("div", class_="flash--error") is not None
    assert trained_client.get("/api/sessions", headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"}).json()["sessions"] == []


def test_a_refused_plan_form_keeps_what_was_typed(trained_client):
    """The form that was refused opens again on the topic's page with the typed title,
    date, status and instructor; a later visit shows the defaults again."""
    csrf = _login(trained_client)
    topic_id = trained_client.get("/api/topics", headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"}).json()[
        "topics"][0]["topic_id"]
    back = f"/organizer/topics/{topic_id}"
    trained_client.post("/organizer/sessions", data={"csrf_token": csrf, "topic_id": topic_id, "title": "灭火器实操课",
                                                     "date": "2026-13-40", "status": "held", "instructor": "消防站王队",
                                                     "return_to": back}, follow_redirects=False)
    page = parse_html(trained_client.get(back).text)
    assert page.find("div", class_="flash--error") is not None
    form = page.find("details", class_="plan")
    assert "open" in form.attrs
    assert page.by_id("plan-title").get("value") == "灭火器实操课"
    assert page.by_id("plan-date").get("value") == "2026-13-40"
    assert page.by_id("plan-instructor").get("value") == "消防站王队"
    status = page.by_id("plan-status")
    assert [o.get("value") for o in status.find_all("option") if "selected" in o.attrs] == ["held"]
    again = parse_html(trained_client.get(back).text)
    assert again.by_id("plan-title").get("value") != "灭火器实操课"


def test_retrain_advice_when_much_feedback_fits_no_topic(trained_client, trained_service, monkeypatch):
    """A notice 建议重新训练 appears when the new demand advises it, naming the largest new group."""
    _login(trained_client)
    assert parse_html(trained_client.get("/organizer").text).by_id("retrain-advice") is None
    advised = {**trained_service.new_demand(), "unassigned_share": 0.5, "retrain_advised": True,
               "groups": [{"label": "太极拳", "people": 5, "lines": 5, "examples": ["想学太极拳"], "feedback_ids": [],
                           "first_at": "2026-11-01T00:00:00+00:00", "last_at": "2026-11-02T00:00:00+00:00"}]}
    monkeypatch.setattr(trained_service, "new_demand", lambda: advised)
    notice = parse_html(trained_client.get("/organizer").text).by_id("retrain-advice")
    assert notice is not None and "建议重新训练" in notice.text and "50%" in notice.text and "太极拳" in notice.text


def test_topic_page_rename_and_escaping(trained_client, organizer_headers):
    """The topic page renames through its CSRF form; markup in a label is shown as text, not run."""
    csrf = _login(trained_client)
    tid = _top_topic(trained_client, organizer_headers)["topic_id"]
    page = parse_html(trained_client.get(f"/organizer/topics/{tid}").text)
    form = page.find("form", action=f"/organizer/topics/{tid}/label")
    assert form is not None and form.find("input", name="csrf_token").get("value") == csrf
    evil = "<script>x</script>"
    response = trained_client.post(f"/organizer/topics/{tid}/label", data={"csrf_token": csrf, "label": evil},
                                   follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/organizer/topics/{tid}"
    html = trained_client.get(f"/organizer/topics/{tid}").text
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    dash = trained_client.get("/organizer").text
    assert "<script>x</script>" not in dash
    reset = trained_client.post(f"/organizer/topics/{tid}/label", data={"csrf_token": csrf, "reset": "1"},
                                follow_redirects=False)
    assert reset.status_code == 303
    assert "已恢复" in trained_client.get(f"/organizer/topics/{tid}").text


def test_topic_page_pagination_and_unknown_topic(trained_client, organizer_headers):
    """The feedback list pages by 30; an unknown topic is the 404 error page."""
    _login(trained_client)
    tid = trained_client.get("/api/topics", headers=organizer_headers).json()["topics"][0]["topic_id"]
    page = parse_html(trained_client.get(f"/organizer/topics/{tid}").text)
    assert page.find("ol", class_="feedback-list").find_all("li")
    assert_error(trained_client.get("/organizer/topics/T9999"), 404)


def test_dashboard_retrain_button_starts_a_retrain(client, retrain_script):
    """The dashboard's retrain button asks first; the confirmation starts the background retrain (303)."""
    csrf = _login(client)
    retrain_script["seconds"] = 30
    try:
        confirm = client.post("/organizer/retrain", data={"csrf_token": csrf}, follow_redirects=False)
        assert confirm.status_code == 200 and "确认重新训练" in confirm.text  # the confirm step: nothing started
        assert client.app.state.retrain_runner.status()["status"] != "running"
        form = parse_html(confirm.text).find("form", class_="retrain-confirm")
        assert form.find("input", name="confirm").get("value") == "yes"
        response = client.post("/organizer/retrain", data={"csrf_token": csrf, "confirm": "yes"}, follow_redirects=False)
        assert response.status_code == 303
        page = parse_html(client.get("/organizer").text)
        assert "已开始重新训练" in page.find("div", class_="flash").text
        again = client.post("/organizer/retrain", data={"csrf_token": csrf, "confirm": "yes"}, follow_redirects=False)
        assert again.status_code == 303
        assert "正在进行" in parse_html(client.get("/organizer").text).find("div", class_="flash--error").text
    finally:
        client.app.state.retrain_runner.stop()


def test_session_dates_default_to_the_day_suggestions_are_counted_to(trained_client, monkeypatch):
    """The plan forms' date fields (dashboard and topic page) are prefilled with the day the
    suggestions are counted to by default (the organizers' today), so a class recorded with it
    holds its topic back at once. The clock is pinned at 02:00 in Beijing (18:00 UTC the day
    before), when the two dates differ; tests/test_organizers_day.py has the rest."""
    from datetime import UTC, datetime, time, timedelta

    from recommender import config

    pinned = datetime.combine(datetime.now(UTC).date(), time(18, 0), tzinfo=UTC)
    monkeypatch.setattr(config, "now_utc", lambda: pinned)
    today = (pinned.date() + timedelta(days=1)).isoformat()
    headers = {"Authorization": f"Bearer {ORGANIZER_TOKEN}"}
    assert trained_client.get("/api/suggestions", headers=headers).json()["as_of"] == today
    _login(trained_client)
    page = parse_html(trained_client.get("/organizer").text)
    dates = {i.get("value") for i in page.find_all("input", type="date", name="date")}
    assert dates == {today}
    topic_id = trained_client.get("/api/topics", headers=headers).json()["topics"][0]["topic_id"]
    page = parse_html(trained_client.get(f"/organizer/topics/{topic_id}").text)
    assert page.by_id("plan-date").get("value") == today


@pytest.mark.slow
def test_real_retrain_subprocess_trains_and_the_service_serves_it(client, service, organizer_headers):
    """The real `python -m recommender train` child trains from the store; afterwards suggestions answer 200.
    Started again with nothing new, it keeps the model and its log (retrain.log) names no
    `--force`: the dashboard's and the API's user has no such option."""
    from tests.fixtures_organizer import load_feedback

    load_feedback(service)
    assert_error(client.get("/api/suggestions", headers=organizer_headers), 503, "no_model")
    assert client.post("/api/admin/retrain", headers=organizer_headers).status_code == 202
    status = _wait_for(client, organizer_headers, "finished", timeout=120)
    assert status["status"] == "finished", status
    response = client.get("/api/suggestions", headers=organizer_headers)
    assert response.status_code == 200
    assert response.json()["suggestions"]
    version = response.json()["model_version"]
    assert client.post("/api/admin/retrain", headers=organizer_headers).status_code == 202
    again = _wait_for(client, organizer_headers, "finished", timeout=120)
    assert again["status"] == "finished", again
    log_text = client.app.state.retrain_runner.log_path.read_text(encoding="utf-8")
    assert "没有新的反馈" in log_text and version in log_text
    assert "--force" not in log_text
