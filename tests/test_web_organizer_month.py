"""An organizer's month on the dashboard, walked through as a new user: the dead ends found
(a download that was an error, a form the server then refused, a chart that left topics out
without saying so, class ratings looked for where they are not)."""

from __future__ import annotations

import csv
import io

from recommender.service.moderation import MAX_NOTE
from recommender.service.planning import MAX_LABEL, MAX_PERSON, MAX_TITLE
from recommender.web import dashboard, dashboard_cards
from tests.conftest import ORGANIZER_TOKEN
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 - fixtures
from tests.helpers import dashboard_login, parse_html


def _export_links(page) -> dict[str, str]:
    return {a.text: a.get("href") for a in page.find_all("a") if (a.get("href") or "").startswith("/api/suggestions/export")}


def test_dashboard_export_links_download_the_suggestions_shown(trained_client) -> None:  # noqa: F811
    """The 导出 CSV / Excel links under the filters download the suggestions as shown, also
    with the filters left empty (they sent ``top=&segment=``: a JSON 422 saved as
    「export.json」) and after a refused filter (the defaults shown, the defaults exported)."""
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    for params, rows in (({}, 5), ({"top": "3"}, 3), ({"top": "abc"}, 5)):
        page = parse_html(trained_client.get("/organizer", params=params).text)
        shown = len(page.find_all("li", class_="card"))
        links = _export_links(page)
        assert set(links) == {"CSV", "Excel"}, links
        as_csv = trained_client.get(links["CSV"])
        assert as_csv.status_code == 200, (params, links["CSV"], as_csv.text[:200])
        assert as_csv.headers["content-type"].startswith("text/csv")
        table = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
        assert len(table) - 1 == shown == min(rows, shown)
        as_xlsx = trained_client.get(links["Excel"])
        assert as_xlsx.status_code == 200 and "spreadsheetml" in as_xlsx.headers["content-type"]


def test_organizer_forms_let_through_what_the_service_accepts(trained_client, trained_service) -> None:  # noqa: F811
    """Each text field's maxlength is the service's own limit: the hide note allowed 200
    characters where the service takes 180, so a long note was refused and lost."""
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    topic_id = trained_service.topics()["topics"][0]["topic_id"]
    expected = {"note": MAX_NOTE, "title": MAX_TITLE, "instructor": MAX_PERSON, "label": MAX_LABEL}
    seen = set()
    for url in ("/organizer", f"/organizer/topics/{topic_id}", "/organizer/no-topic"):
        page = parse_html(trained_client.get(url).text)
        for field in page.find_all("input"):
            name = field.get("name")
            if name in expected:
                assert field.get("maxlength") == str(expected[name]), (url, field.get("id"))
                seen.add(name)
    assert seen == set(expected)
    line = trained_service.topic(topic_id, per_page=1)["members"]["items"][0]["feedback_id"]
    page = parse_html(trained_client.get(f"/organizer/topics/{topic_id}").text)
    csrf = page.find("input", name="csrf_token").get("value")
    hidden = trained_client.post(
        f"/organizer/feedback/{line}/hide",
        data={"csrf_token": csrf, "reason": "other", "note": "长" * MAX_NOTE, "return_to": f"/organizer/topics/{topic_id}"},
    )
    assert "已隐藏" in parse_html(hidden.text).find("div", class_="flash--success").text


def test_chart_says_how_many_of_the_topics_it_shows(trained_client, monkeypatch) -> None:  # noqa: F811
    """The demand chart draws the topics with most lines (20): below it the page said nothing of
    the others. It now says how many it shows of how many, and where every topic is listed."""
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    total = len(trained_client.get("/api/topics", headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"}).json()["topics"])
    chart = parse_html(trained_client.get("/organizer").text).find("section", class_="chart")
    assert f"全部 {total} 个主题" in chart.text
    monkeypatch.setattr(dashboard_cards, "CHART_TOPICS", 2)
    monkeypatch.setattr(dashboard, "CHART_TOPICS", 2)
    chart = parse_html(trained_client.get("/organizer").text).find("section", class_="chart")
    assert f"反馈条数最多的 2 个主题（共 {total} 个" in chart.text
    assert chart.find("a", href="/organizer/topics") is not None
    assert len(chart.find_all("rect")) >= 2


def test_class_feedback_page_says_where_class_ratings_are(trained_client) -> None:  # noqa: F811
    """课堂反馈 lists feedback lines that ask for nothing; the ratings and praise of the
    post-class form are kept with their class. The page says where to find them."""
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    note = parse_html(trained_client.get("/organizer/no-topic?kind=no_request").text).by_id("class-answers-note")
    assert note is not None and "评分和表扬" in note.text
    assert note.find("a", href="/organizer#recent-classes") is not None


def test_audit_log_names_a_model_by_when_it_was_trained(trained_client, trained_service) -> None:  # noqa: F811
    """操作记录's 对象 of a retrain was the version's file name (「20261207T021323Z-e370」, a UTC
    time): it reads as the time the model was trained, as everywhere else on the pages, with
    the version kept in the title."""
    version = trained_service.served().version
    trained_service.audit("organizer-test", "retrain", version, {"rows": 61, "topics": 4, "noise": 1, "kept_ids": 4,
                                                                 "engine": "local", "unchanged": True})
    trained_service.audit("organizer-test", "rename", "T0001", {"label": "消防"})
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    rows = parse_html(trained_client.get("/organizer").text).by_id("audit").find("tbody").find_all("tr")
    targets = [row.find("td", class_="audit-target") for row in rows[:2]]
    assert "T0001" not in targets[0].text
    shown = targets[1].find("span")
    assert shown is not None and version not in targets[1].text and shown.text.endswith("训练的模型")
    assert shown.get("title") == f"模型版本 {version}"
    assert rows[1].find("td", class_="audit-detail").text.startswith("没有新的反馈，模型保持不变")


def test_audit_log_names_topics_lines_and_experts_in_words(trained_client, trained_service) -> None:  # noqa: F811
    """操作记录's 对象 showed stored ids: 「T0001」 for a renamed topic or a planned class,
    「429」 for a hidden line, 「expert:1」 for an added expert. A topic reads by its label
    and links to its page, a line as its topic page numbers it, an expert in words; a topic no
    longer in the model keeps its id after 「主题」. A flagged line let through with 「计入」
    reads 「计入反馈」 (it read 「恢复反馈」, as a hidden line's 恢复)."""
    topic = trained_service.topics()["topics"][0]
    trained_service.audit("organizer-test", "expert_add", "expert:1", {"name": "王老师", "department": "消防站"})
    trained_service.audit("organizer-test", "hide", "429", {"reason": "spam", "note": None})
    trained_service.audit("organizer-test", "merge", "T9999", {"说明": "合并"})
    trained_service.audit("organizer-test", "plan_class", topic["topic_id"], {"title": "课", "date": "2026-12-01"})
    trained_service.audit("organizer-test", "restore", "430", {"previous_status": "hidden"})
    trained_service.audit("organizer-test", "restore", "431", {"previous_status": "flagged"})
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    rows = parse_html(trained_client.get("/organizer").text).by_id("audit").find("tbody").find_all("tr")
    actions = [row.find("td", class_="audit-action").text for row in rows[:3]]
    assert actions == ["计入反馈", "恢复反馈", "安排课程"]
    rows = rows[2:]
    targets = [row.find("td", class_="audit-target") for row in rows[:4]]
    assert [t.text for t in targets] == [f"「{topic['label']}」", "主题 T9999", "第 429 条反馈", "专家（编号 1）"]
    link = targets[0].find("a")
    assert link is not None and link.get("href") == dashboard_cards.topic_href(topic["topic_id"])
    assert targets[1].find("a") is None


def test_retrain_pages_say_corrections_are_kept(trained_client) -> None:  # noqa: F811
    """An organizer who just moved, split or merged topics is about to retrain: the
    confirmation and the 模型 section said only names and classes were kept. They name the
    corrections too, and the confirmation says the dashboard will tell what changed."""
    csrf = dashboard_login(trained_client, ORGANIZER_TOKEN)
    confirm = parse_html(trained_client.post("/organizer/retrain", data={"csrf_token": csrf}).text)
    words = confirm.find("main").text if confirm.find("main") else confirm.text
    assert "主题更正" in words and "模型保持不变" in words
    model = parse_html(trained_client.get("/organizer").text).by_id("model")
    assert "主题更正" in model.text and model.find("a", href="/organizer/corrections") is not None


def test_no_model_notice_says_how_much_feedback_a_first_model_needs(client, settings) -> None:
    """Before the first model the dashboard said 「收集到足够的反馈后」 without saying how much;
    a retrain started with fewer lines was refused. It says the number
    (RECOMMENDER_MIN_TRAIN_ROWS)."""
    dashboard_login(client, ORGANIZER_TOKEN)
    notice = parse_html(client.get("/organizer").text).by_id("no-model")
    assert f"至少 {settings.min_train_rows} 条" in notice.text
