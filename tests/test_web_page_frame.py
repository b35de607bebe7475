"""The frame around a page: the public footer only on the public pages, an organizer's error
page that leads back to the dashboard, the organizer forms' fields and titles, and the audit
actors in Chinese words."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest

from recommender.door.screening import actor_zh
from recommender.retrain.registry import version_time
from tests.conftest import ORGANIZER_TOKEN
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 (fixtures)
from tests.helpers import assert_error, dashboard_login, parse_html

WITHDRAW_LINK = "撤回我提交的反馈"


def _footer(page) -> str:
    footer = page.find("footer")
    return footer.text if footer is not None else ""


def test_the_withdraw_footer_is_on_public_pages_only(trained_client):
    """「撤回我提交的反馈」 is for the people who wrote feedback: on the form and the withdraw page,
    not on any organizer page (dashboard, topics, a topic, 未归类, experts, corrections, the
    retrain confirmation, the login page)."""
    for path in ("/", "/withdraw"):
        assert WITHDRAW_LINK in _footer(parse_html(trained_client.get(path).text)), path
    login = trained_client.get("/organizer")
    assert login.status_code == 401
    assert WITHDRAW_LINK not in login.text
    csrf = dashboard_login(trained_client, ORGANIZER_TOKEN)
    topic = trained_client.get("/api/topics", headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"}).json()["topics"][0]
    pages = {
        path: trained_client.get(path)
        for path in ("/organizer", "/organizer/topics", f"/organizer/topics/{topic['topic_id']}",
                     "/organizer/no-topic", "/organizer/experts", "/organizer/corrections")
    }
    pages["retrain"] = trained_client.post("/organizer/retrain", data={"csrf_token": csrf})
    for name, response in pages.items():
        assert response.status_code == 200, name
        assert WITHDRAW_LINK not in response.text, name
        assert parse_html(response.text).find("footer") is None, name


def test_an_error_page_under_organizer_leads_back_to_the_dashboard(trained_client):
    """A topic that no longer exists (ids change with a retrain) answers a Chinese 404 page with
    the organizer navigation and 「返回看板」, not 「返回反馈表」 and the public footer; a public
    404 keeps leading to the form."""
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    page = assert_error(trained_client.get("/organizer/topics/T9999"), 404)
    links = {a.text.strip(): a.get("href") for a in page.find_all("a")}
    assert links.get("返回看板") == "/organizer"
    assert "返回反馈表" not in links
    assert page.find("nav", class_="organizer-nav") is not None
    assert WITHDRAW_LINK not in _footer(page)
    public = assert_error(trained_client.get("/no-such-page"), 404)
    links = {a.text.strip(): a.get("href") for a in public.find_all("a")}
    assert links.get("返回反馈表") == "/"
    assert WITHDRAW_LINK in _footer(public)


def test_an_organizers_error_page_has_a_logout_that_works(trained_client):
    """A 404 and a 403 under /organizer show 「退出登录」 with the session's form token, and
    pressing it logs out; without a session (a bearer token, no login) there is no such form."""
    bearer = {"Authorization": f"Bearer {ORGANIZER_TOKEN}"}
    page = assert_error(trained_client.get("/organizer/topics/T9999", headers=bearer), 404)
    assert page.find("form", action="/organizer/logout") is None
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    refused = assert_error(trained_client.post("/organizer/topics/T0001/pin", data={"pinned": "1"}), 403)
    assert refused.find("form", action="/organizer/logout") is not None
    page = assert_error(trained_client.get("/organizer/topics/T9999"), 404)
    logout = page.find("form", action="/organizer/logout")
    assert logout is not None and logout.find("button").text.strip() == "退出登录"
    token = logout.find("input", name="csrf_token").get("value")
    out = trained_client.post("/organizer/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert trained_client.get("/organizer", follow_redirects=False).status_code == 401


def test_expert_form_fields_are_text_fields_and_the_contact_is_optional(trained_client):
    """The expert form's fields are text inputs (so they get the forms' 16 px type and touch
    height, not the browser's 13 px default), each labelled; the contact says 「选填」."""
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    page = parse_html(trained_client.get("/organizer/experts").text)
    form = page.find("form", class_="expert-form")
    fields = [i for i in form.find_all("input") if i.get("type") != "hidden"]
    assert len(fields) == 4
    for field in fields:
        assert field.get("type") == "text", field.get("id")
        assert page.find("label", **{"for": field.get("id")}) is not None
    assert page.find("label", **{"for": "expert-contact"}).text == "联系方式（选填）"


def test_a_refused_login_says_so_in_the_page_title(trained_client):
    """Like the public pages, a refused form's title starts with 「错误：」 (read first by a screen reader)."""
    response = trained_client.post("/organizer/login", data={"token": "wrong-token-0123456789"})
    assert response.status_code in (401, 403)
    assert parse_html(response.text).find("title").text.startswith("错误：组织者登录")
    assert parse_html(trained_client.get("/organizer/login").text).find("title").text.startswith("组织者登录")


@pytest.mark.parametrize(
    ("stored", "shown"),
    [("console", "命令行"), ("console:li", "命令行（li）"), ("attendee", "反馈提交人"),
     ("王老师", "王老师"), ("organizer-9d25", "组织者 9d25"), ("organizer-team", "organizer-team"), (None, "")],
)
def test_audit_actors_in_chinese_words(stored, shown):
    assert actor_zh(stored) == shown


def test_the_dashboard_audit_log_names_the_command_line_in_chinese(trained_client, trained_service):
    """A retrain run from the command line (actor ``console``) is shown as 「命令行」."""
    trained_service.audit("console", "retrain", "v1", {})
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    page = parse_html(trained_client.get("/organizer").text)
    actors = [td.text for td in page.find_all("td", class_="audit-actor")]
    assert "命令行" in actors
    assert "console" not in actors


def test_the_model_is_named_by_when_it_was_trained_in_the_organizers_zone(trained_client, trained_service):
    """The dashboard names the model by its training time in 北京时间 (its version name is UTC:
    20261206T205810Z read as 12-06 beside 截至 2026-12-07), and keeps the version in the 模型
    section; a topic's 主题变化 says which training it happened at."""
    version = trained_service.served().version
    trained = version_time(version).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    page = parse_html(trained_client.get("/organizer").text)
    assert page.find("span", class_="model-version").text == f"{trained} 训练"
    assert version in page.by_id("model").text
    topic = trained_client.get("/api/topics", headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"}).json()["topics"][0]
    events = parse_html(trained_client.get(f"/organizer/topics/{topic['topic_id']}").text).find("ul", class_="events")
    assert f"{trained} 训练的模型" in events.text
    assert version_time("not-a-version") is None


def test_the_saved_class_message_points_to_a_link_on_the_dashboard(trained_client):
    """After recording a class the message sends the organizer to 「最近记录的课」: the
    dashboard's quick links lead there (at 390 px it is screens below the cards)."""
    csrf = dashboard_login(trained_client, ORGANIZER_TOKEN)
    topic = trained_client.get("/api/topics", headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"}).json()["topics"][0]
    response = trained_client.post(
        "/organizer/sessions",
        data={"csrf_token": csrf, "topic_id": topic["topic_id"], "title": "一节课", "date": "2026-01-05",
              "status": "held", "return_to": "/organizer"},
    )
    page = parse_html(response.text)
    assert "最近记录的课" in page.find("div", class_="flash").text
    quick = {a.text: a.get("href") for a in page.find("nav", class_="quick-links").find_all("a")}
    assert quick.get("最近记录的课") == "#recent-classes"
    assert page.by_id("recent-classes") is not None


def test_a_page_past_the_last_one_says_so_and_links_back(trained_client):
    """Hiding the last line of the last page sends the organizer back to a page that is now
    empty: the topic page and 未归类 say there is no such page any more and link to the last
    one (未归类 said 「没有这样的反馈」 though it had lines; the topic page showed nothing)."""
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    topic = trained_client.get("/api/topics", headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"}).json()["topics"][0]
    for path, last in ((f"/organizer/topics/{topic['topic_id']}", "?page=1"), ("/organizer/no-topic", "?page=1"),
                       ("/organizer/no-topic?kind=no_request", "?kind=no_request&page=1")):
        sep = "&" if "?" in path else "?"
        page = parse_html(trained_client.get(f"{path}{sep}page=99").text)
        note = page.find("p", class_="past-end")
        assert note is not None and note.text.startswith("第 99 页已经没有反馈（共 1 页）"), path
        assert note.find("a").get("href") == last, path
        assert "没有这样的反馈" not in page.text, path
    ordinary = parse_html(trained_client.get(f"/organizer/topics/{topic['topic_id']}").text)
    assert ordinary.find("p", class_="past-end") is None


def test_the_login_page_sends_an_organizer_already_logged_in_on(trained_client):
    """A bookmarked login page, opened while the session is still valid, goes on to the
    dashboard (or the page asked for) instead of asking for the token again; after 退出登录
    it is the form again."""
    csrf = dashboard_login(trained_client, ORGANIZER_TOKEN)
    for asked, target in (("/organizer/login", "/organizer"), ("/organizer/login?next=/organizer/experts", "/organizer/experts"),
                          ("/organizer/login?next=https://evil.example/", "/organizer")):
        response = trained_client.get(asked, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == target, asked
    trained_client.post("/organizer/logout", data={"csrf_token": csrf})
    response = trained_client.get("/organizer/login", follow_redirects=False)
    assert response.status_code == 200 and 'name="token"' in response.text


def test_the_hidden_message_names_the_dashboard_section_as_it_is_titled(trained_client):
    """After hiding a line the message points to 「已隐藏的反馈」, the heading the organizer will
    look for on the dashboard (it said 「已隐藏」, a heading that does not exist)."""
    csrf = dashboard_login(trained_client, ORGANIZER_TOKEN)
    topic = trained_client.get("/api/topics", headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"}).json()["topics"][0]
    fid = re.search(r'data-feedback-id="(\d+)"', trained_client.get(f"/organizer/topics/{topic['topic_id']}").text).group(1)
    page = parse_html(trained_client.post(
        f"/organizer/feedback/{fid}/hide",
        data={"csrf_token": csrf, "reason": "spam", "return_to": f"/organizer/topics/{topic['topic_id']}"},
    ).text)
    assert "可在看板的“已隐藏的反馈”中恢复" in page.find("div", class_="flash").text
    heading = parse_html(trained_client.get("/organizer").text).by_id("hidden-title").text
    assert heading.startswith("已隐藏的反馈")


def test_the_login_page_says_why_it_is_shown(trained_client, trained_service):
    """A first visit is asked to log in; a session that ran out (a cookie no longer valid) is
    told so; a form sent after it ran out is told that what was sent was not saved."""
    def hint(response) -> str:
        assert response.status_code == 401
        return parse_html(response.text).find("div", class_="notice").text

    assert hint(trained_client.get("/organizer")) == "看板只对组织者开放，请先用组织者令牌登录。"
    trained_client.cookies.set("organizer_session", "expired.value")
    assert hint(trained_client.get("/organizer")) == "登录已过期（每次登录有效 8 小时），请重新登录。"
    topic = trained_service.topics()["topics"][0]["topic_id"]
    sent = trained_client.post("/organizer/sessions", data={"topic_id": topic, "title": "课", "date": "2026-01-05"})
    assert hint(sent) == "登录已过期，刚才提交的内容没有保存。请重新登录后再做一次。"
