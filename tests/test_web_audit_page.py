"""操作记录 in the dashboard: the dashboard shows the latest entries and, when there are more,
links to ``/organizer/audit``, which pages through all of them in the same words. It said
「全部记录见 GET /api/audit」: an API path an organizer cannot open in a browser."""

from __future__ import annotations

from recommender.web import audit_pages, dashboard, dashboard_cards
from tests.conftest import ORGANIZER_TOKEN
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 - fixtures
from tests.helpers import dashboard_login, parse_html


def _rows(page) -> list:
    return page.find("table", class_="audit").find("tbody").find_all("tr")


def test_the_whole_audit_log_is_a_page_the_dashboard_links_to(trained_client, trained_service) -> None:  # noqa: F811
    """More entries than the dashboard shows: it links to 操作记录, whose pages hold every entry
    once, newest first, in the dashboard's words (a topic by its label, linked)."""
    topic = trained_service.topics()["topics"][0]
    trained_service.audit("organizer-test", "rename", topic["topic_id"], {"label": topic["label"]})  # the oldest of ours
    n = audit_pages.PER_PAGE + 5
    for i in range(n - 1):
        trained_service.audit("organizer-test", "hide", str(1000 + i), {"reason": "spam", "note": None})
    total = trained_service.audit_log(limit=1)["total"]
    assert total >= n > dashboard.AUDIT_SHOWN
    dashboard_login(trained_client, ORGANIZER_TOKEN)

    home = parse_html(trained_client.get("/organizer").text).by_id("audit")
    assert "/api/audit" not in home.text and "GET" not in home.text
    assert len(_rows(home)) == dashboard.AUDIT_SHOWN
    more = home.find("p", class_="audit-more")
    assert f"共 {total} 条" in more.text and more.find("a").get("href") == "/organizer/audit"

    first = trained_client.get("/organizer/audit")
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    page = parse_html(first.text)
    assert f"操作记录（共 {total} 条）" in page.find("h1").text
    rows = _rows(page)
    assert len(rows) == audit_pages.PER_PAGE
    assert rows[0].find("td", class_="audit-target").text == f"第 {1000 + n - 2} 条反馈"  # the newest first
    assert rows[0].find("td", class_="audit-detail").text == "原因：垃圾信息"
    assert rows[0].find("td", class_="audit-actor").text == "organizer-test"
    assert page.find("a", rel="next").get("href") == "?page=2"

    second = parse_html(trained_client.get("/organizer/audit", params={"page": "2"}).text)
    later = _rows(second)
    assert len(later) == total - audit_pages.PER_PAGE
    renamed = next(r for r in later if r.find("td", class_="audit-action").text == "主题改名")
    target = renamed.find("td", class_="audit-target")
    assert target.text == f"「{topic['label']}」"
    assert target.find("a").get("href") == dashboard_cards.topic_href(topic["topic_id"])
    seen = [r.find("td", class_="audit-target").text for r in rows + later]
    assert len(seen) == total and len(set(s for s in seen if s.startswith("第"))) == n - 1  # each entry once

    past = parse_html(trained_client.get("/organizer/audit", params={"page": "9"}).text)
    assert "第 9 页已经没有操作记录（共 2 页）" in past.find("p", class_="past-end").text
    assert _rows(parse_html(trained_client.get("/organizer/audit", params={"page": "x"}).text))  # page 1


def test_the_audit_page_needs_an_organizer_and_says_when_it_is_empty(trained_client, trained_service) -> None:  # noqa: F811
    """Without credentials the page answers 401 with the login form, like every organizer
    page; the dashboard shows no 「查看全部」 link while it shows every entry."""
    anonymous = trained_client.get("/organizer/audit")
    assert anonymous.status_code == 401 and 'action="/organizer/login"' in anonymous.text
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    home = parse_html(trained_client.get("/organizer").text).by_id("audit")
    total = trained_service.audit_log(limit=1)["total"]
    assert total <= dashboard.AUDIT_SHOWN and home.find("p", class_="audit-more") is None
