"""An organizer's first day on the dashboard: what a new user would otherwise have to guess."""

from __future__ import annotations

import re

from tests.conftest import ORGANIZER_TOKEN
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 - fixtures
from tests.helpers import dashboard_login, label_for, parse_html


def test_top_field_says_its_default(trained_client, settings) -> None:  # noqa: F811
    """显示条数 left empty shows RECOMMENDER_SUGGESTIONS_TOP suggestions: its label and placeholder say so."""
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    page = parse_html(trained_client.get("/organizer").text)
    field = page.by_id("filter-top")
    assert field.get("placeholder") == str(settings.suggestions_top)
    assert f"默认 {settings.suggestions_top}" in label_for(page, "filter-top").text
    assert "默认今天" in label_for(page, "filter-as-of").text


def test_a_wrong_filter_is_named_as_the_page_labels_it(trained_client) -> None:  # noqa: F811
    """显示条数 0 or a 截至日期 that is no date: the message names the field the organizer typed in,
    not the API's parameter (top, as_of)."""
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    for params, said in (({"top": "0"}, "显示条数应为 1 到 50"), ({"as_of": "2026-02-30"}, "截至日期应为有效日期")):
        response = trained_client.get("/organizer", params=params)
        assert response.status_code == 422
        summary = parse_html(response.text).find("div", class_="error-summary").text
        assert said in summary and "top" not in summary and "as_of" not in summary
    response = trained_client.get("/organizer/topics", params={"as_of": "2026-13-01"})
    assert response.status_code == 422 and "截至日期应为有效日期" in response.text


def test_a_held_class_cannot_be_after_today(trained_client, trained_service, monkeypatch) -> None:  # noqa: F811
    """「已开课」 on a day after the organizers' today (a wrong year, or the wrong status) is
    refused with what to do, on the dashboard and in the API (409: today's date refuses a
    well-formed request; Schemathesis holds schema-valid bodies to 2xx/404/409); planned is fine."""
    from datetime import UTC, date, datetime, time

    from recommender import config

    monkeypatch.setattr(config, "now_utc", lambda: datetime.combine(date(2026, 12, 6), time(18, 0), tzinfo=UTC))
    csrf = dashboard_login(trained_client, ORGANIZER_TOKEN)
    topic_id = trained_service.topics()["topics"][0]["topic_id"]
    form = {"csrf_token": csrf, "topic_id": topic_id, "title": "课", "date": "2027-12-07", "status": "held",
            "return_to": "/organizer"}
    page = parse_html(trained_client.post("/organizer/sessions", data=form).text)
    assert "“已开课”的日期不能晚于今天（2026-12-07）" in page.find("div", class_="flash--error").text
    headers = {"Authorization": f"Bearer {ORGANIZER_TOKEN}"}
    body = {"topic_id": topic_id, "title": "课", "date": "2026-12-08", "status": "held"}
    refused = trained_client.post("/api/sessions", json=body, headers=headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "held_in_future"
    today = trained_client.post("/api/sessions", json={**body, "date": "2026-12-07"}, headers=headers)
    planned = trained_client.post("/api/sessions", json={**body, "status": "planned"}, headers=headers)
    assert today.status_code == 201 and planned.status_code == 201
    assert trained_service.sessions()[-2]["status"] == "held"


def test_corrections_list_cells_say_what_they_are_on_a_phone(trained_client, trained_service) -> None:  # noqa: F811
    """On a phone the list drops its header row: the number, time, who and kind cells carry
    their column's name (shown before the value by the narrow-screen style)."""
    topics = [t["topic_id"] for t in trained_service.topics()["topics"]]
    line = trained_service.topic(topics[0], per_page=1)["members"]["items"][0]["feedback_id"]
    trained_service.move_lines([line], topics[1], actor="张老师")
    dashboard_login(trained_client, ORGANIZER_TOKEN)
    page = parse_html(trained_client.get("/organizer/corrections").text)
    headers = [th.text for th in page.find("thead").find_all("th")]
    cells = page.find("tbody").find("tr").find_all("td")
    labelled = [(cell.get("data-label"), header) for cell, header in zip(cells, headers) if cell.get("data-label")]
    assert [label for label, _ in labelled] == ["编号", "时间", "操作人", "更正"]
    assert all(header.startswith(label) for label, header in labelled)
    css = trained_client.get("/static/dashboard.css").text
    assert 'td[data-label]::before { content: attr(data-label) "："' in css


def test_first_visit_to_the_dashboard_is_a_login_not_an_error(trained_client) -> None:  # noqa: F811
    """Opening /organizer before logging in: 401 with the login form and a neutral note, not
    the red 「无法进入看板」 alert a refused token shows."""
    response = trained_client.get("/organizer")
    assert response.status_code == 401
    page = parse_html(response.text)
    assert page.find("div", class_="error-summary") is None
    assert "请先用组织者令牌登录" in page.find("div", class_="notice").text
    refused = parse_html(trained_client.post("/organizer/login", data={"token": "wrong-token-xxxxxxxx"}).text)
    assert "令牌不正确" in refused.find("div", class_="error-summary").text


def test_retrain_confirmation_buttons_do_not_touch_on_a_phone(trained_client) -> None:  # noqa: F811
    """The 确认 and 取消 of the retrain confirmation sit in a flex row with a gap: at 390 px both
    are full width and stack, and without the gap they touched (found on a phone)."""
    csrf = dashboard_login(trained_client, ORGANIZER_TOKEN)
    page = parse_html(trained_client.post("/organizer/retrain", data={"csrf_token": csrf}).text)
    form = page.find("form", class_="retrain-confirm")
    assert [b.text for b in form.find_all(class_="button")] == ["确认，开始重新训练", "取消"]
    css = trained_client.get("/static/dashboard.css").text
    rule = re.search(r"\.retrain-confirm[^{]*\{([^}]*)\}", css).group(1)  # its rule, shared with .confirm-actions
    assert "display: flex" in rule and "gap: var(--space-2)" in rule
