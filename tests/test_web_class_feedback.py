"""The term loop over HTTP: the session API carries each class's feedback link and outcome, the
post-class form (no JavaScript, keeps what was typed, masks), the posters, and the receipt page
showing what became of a request."""

from __future__ import annotations

import struct

import pytest

from recommender.config import Settings
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 (fixtures)
from tests.helpers import assert_error, label_for, parse_html

PHONE = "13812345678"


def _topic(client, headers) -> str:
    return client.get("/api/topics", headers=headers).json()["topics"][0]["topic_id"]


def _class(client, headers, **extra) -> dict:
    body = {"topic_id": _topic(client, headers), "title": "消防安全第一课", "date": "2026-12-01", "status": "held",
            "instructor": "李教官", **extra}
    response = client.post("/api/sessions", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _token(session: dict) -> str:
    return session["feedback_url"].rsplit("/", 1)[1]


def _answer_from_a_new_phone(client, session: dict, data: dict):
    """Post the class form as another learner: a browser without this class's answer cookie."""
    client.cookies.clear()
    return client.post(f"/class/{_token(session)}", data=data, follow_redirects=False)


def test_the_session_answer_carries_its_link_and_outcome(trained_client, organizer_headers):
    """POST /api/sessions: an absolute feedback_url, poster addresses, no rating yet, demand counts."""
    session = _class(trained_client, organizer_headers)
    assert session["feedback_url"].startswith("http://testserver/class/")
    assert session["poster_svg"] == f"/organizer/sessions/{session['id']}/poster.svg"
    assert session["poster_png"] == f"/organizer/sessions/{session['id']}/poster.png"
    assert session["rating"] is None and session["responses"] == 0
    assert isinstance(session["demand_before"], int) and isinstance(session["demand_after"], int)
    listed = trained_client.get("/api/sessions", headers=organizer_headers).json()["sessions"]
    assert [s["feedback_url"] for s in listed] == [session["feedback_url"]]
    topic = trained_client.get(f"/api/topics/{session['topic_id']}", headers=organizer_headers).json()
    assert topic["sessions"][0]["feedback_url"] == session["feedback_url"]


def test_the_link_uses_the_public_url_setting(trained_service, settings, organizer_headers):
    """RECOMMENDER_PUBLIC_URL: links and QR codes point there, not at the request's host."""
    from fastapi.testclient import TestClient

    from recommender.web.app import create_app

    configured = Settings(**{**settings.model_dump(), "public_url": "https://yexiao.example.cn/"})
    with TestClient(create_app(configured, trained_service)) as client:
        session = _class(client, organizer_headers)
        assert session["feedback_url"].startswith("https://yexiao.example.cn/class/")
        svg = client.get(session["poster_svg"], headers=organizer_headers).text
        assert f"https://yexiao.example.cn/class/{_token(session)}" in svg


def test_the_post_class_form_works_without_javascript(trained_client, organizer_headers):
    """GET /class/{token}: the class's title and date, five labelled ratings and the 下次想学什么 box."""
    session = _class(trained_client, organizer_headers)
    response = trained_client.get(f"/class/{_token(session)}")
    assert response.status_code == 200
    page = parse_html(response.text)
    assert "消防安全第一课" in page.find("h1").parent.text or "消防安全第一课" in response.text
    assert "2026年12月1日" in response.text
    form = page.find("form", class_="class-form")
    assert form.get("method") == "post" and form.get("action") == f"/class/{_token(session)}"
    radios = form.find_all("input", type="radio", name="rating")
    assert sorted(r.get("value") for r in radios) == ["1", "2", "3", "4", "5"]
    assert all(label_for(page, r.get("id")) is not None for r in radios)
    assert "下次想学什么" in label_for(page, "text").text
    assert page.find("script") is None


def test_unknown_links_answer_404(trained_client):
    """An unknown or malformed token: the HTML error page, 404."""
    assert_error(trained_client.get("/class/AAAAAAAAAAAAAAAAAAAAAA"), 404)
    assert_error(trained_client.get("/class/x"), 404)
    assert_error(trained_client.post("/class/AAAAAAAAAAAAAAAAAAAAAA", data={"rating": "5"}), 404)


def test_a_rating_with_praise_is_stored_with_the_class(trained_client, trained_service, organizer_headers):
    """Rating 5 with praise: 303 to the thank-you page, no receipt (no line), the class shows 5.0 from 1 answer."""
    session = _class(trained_client, organizer_headers)
    lines = trained_service.store.count()
    response = trained_client.post(
        f"/class/{_token(session)}", data={"rating": "5", "text": "讲得很好，谢谢老师"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/class-feedback/thanks")
    assert "class_receipt" not in response.headers.get("set-cookie", "")
    assert trained_service.store.count() == lines
    thanks = trained_client.get(response.headers["location"])
    assert "谢谢您的评价" in thanks.text and parse_html(thanks.text).by_id("receipt-code") is None
    (listed,) = trained_client.get("/api/sessions", headers=organizer_headers).json()["sessions"]
    assert (listed["rating"], listed["responses"]) == (5.0, 1)


def test_what_to_learn_next_becomes_a_masked_line_with_a_receipt(trained_client, trained_service, organizer_headers):
    """「下次想学什么」 asking for something: a masked line, its receipt shown once on the thank-you page."""
    session = _class(trained_client, organizer_headers)
    response = trained_client.post(
        f"/class/{_token(session)}", data={"rating": "4", "text": f"下次想学急救包扎，电话{PHONE}"}
    )
    assert response.status_code == 200 and response.url.path == "/class-feedback/thanks"
    code = parse_html(response.text).by_id("receipt-code").text
    assert len(code) == 11
    row = trained_service.find_receipt(code)
    assert row.source == "class" and PHONE not in row.text and "急救包扎" in row.text
    again = trained_client.get("/class-feedback/thanks")
    assert parse_html(again.text).by_id("receipt-code") is None  # shown once


def test_the_class_thank_you_page_shows_what_was_saved_like_the_main_form(trained_client, organizer_headers):
    """The main form's thank-you page shows the text as stored (masked) and the receipt; the
    class form's showed only the receipt. It shows what was saved too, the rating with it: a
    request (a line, with its receipt), praise (kept with the class, no receipt), each once."""
    session = _class(trained_client, organizer_headers)
    asked = trained_client.post(f"/class/{_token(session)}", data={"rating": "4", "text": f"下次想学急救包扎，电话{PHONE}"})
    page = parse_html(asked.text)
    assert page.by_id("stored-text").text == "下次想学急救包扎，电话[手机号]" and PHONE not in asked.text
    assert page.by_id("stored-rating").text == "评分：4 分 · 满意"
    assert page.by_id("receipt-code") is not None
    again = parse_html(trained_client.get("/class-feedback/thanks").text)
    assert again.by_id("stored-text") is None and again.by_id("stored-rating") is None  # shown once

    praised = _answer_from_a_new_phone(trained_client, session, {"rating": "5", "text": "讲得很好，谢谢老师"})
    page = parse_html(trained_client.get(praised.headers["location"]).text)
    assert page.by_id("stored-text").text == "讲得很好，谢谢老师" and page.by_id("receipt-code") is None
    rated = _answer_from_a_new_phone(trained_client, session, {"rating": "3"})
    page = parse_html(trained_client.get(rated.headers["location"]).text)
    assert page.by_id("stored-rating").text == "评分：3 分 · 一般" and page.by_id("stored-text") is None
    trained_client.cookies.set("class_saved", "1.1", path="/class-feedback/thanks")  # not signed: nothing shown
    assert parse_html(trained_client.get("/class-feedback/thanks").text).by_id("stored-rating") is None


@pytest.mark.parametrize("rating", ["", "0", "6", "abc"], ids=repr)
def test_a_bad_rating_keeps_what_was_typed(trained_client, trained_service, organizer_headers, rating):
    """No or a bad rating: 422, the form again with the error linked and the text as typed; nothing stored."""
    session = _class(trained_client, organizer_headers)
    typed = "下次想学急救包扎"
    response = trained_client.post(f"/class/{_token(session)}", data={"rating": rating, "text": typed})
    assert response.status_code == 422
    page = parse_html(response.text)
    assert page.by_id("rating-error") is not None and "1 到 5" in page.by_id("rating-error").text
    assert page.by_id("text").text == typed
    assert trained_service.store.responses_of(session["id"]) == []


def test_a_too_long_text_keeps_the_rating(trained_client, trained_service, organizer_headers):
    """Text over the limit: 422 on the text field, the chosen rating still checked."""
    session = _class(trained_client, organizer_headers)
    response = trained_client.post(
        f"/class/{_token(session)}", data={"rating": "2", "text": "学" * 2500}
    )
    assert response.status_code == 422
    page = parse_html(response.text)
    assert page.by_id("text-error") is not None
    assert "checked" in page.by_id("rating-2").attrs and "checked" not in page.by_id("rating-5").attrs


def test_posters_show_the_class_and_its_link(trained_client, organizer_headers):
    """The SVG poster names the class, its date and link; the PNG is a QR code image."""
    session = _class(trained_client, organizer_headers)
    svg = trained_client.get(session["poster_svg"], headers=organizer_headers)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert "消防安全第一课" in svg.text and "2026年12月1日" in svg.text and session["feedback_url"] in svg.text
    assert svg.headers["content-disposition"].startswith("inline")
    png = trained_client.get(session["poster_png"] + "?download=1", headers=organizer_headers)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png.content[16:24])
    assert (width, height) == (1240, 1754)  # A4 at 150 dpi (the test machines have a Chinese font)
    assert png.headers["content-disposition"].startswith("attachment")


def test_posters_need_an_organizer(trained_client, organizer_headers):
    """Without credentials: 401 with the login form; an unknown class: 404."""
    session = _class(trained_client, organizer_headers)
    assert trained_client.get(session["poster_svg"]).status_code == 401
    assert trained_client.get(session["poster_png"]).status_code == 401
    assert trained_client.get("/api/sessions").status_code == 401
    assert_error(trained_client.get("/organizer/sessions/99999/poster.svg", headers=organizer_headers), 404)
    assert_error(trained_client.get("/organizer/sessions/x/poster.png", headers=organizer_headers), 404)


def test_the_topic_page_and_dashboard_show_each_class(trained_client, organizer_headers):
    """The topic page lists the class with its rating and demand; the dashboard links its poster."""
    session = _class(trained_client, organizer_headers)
    _answer_from_a_new_phone(trained_client, session, {"rating": "4"})
    _answer_from_a_new_phone(trained_client, session, {"rating": "5"})
    page = parse_html(trained_client.get(f"/organizer/topics/{session['topic_id']}", headers=organizer_headers).text)
    row = page.find("tr", **{"data-session-id": str(session["id"])})
    assert "4.5 分" in row.find("td", class_="session-rating").text and "2 人评价" in row.text
    assert row.find("td", class_="demand-before").text.endswith("人提出")
    assert row.find("a", class_="poster-link").get("href") == session["poster_svg"]
    home = parse_html(trained_client.get("/organizer", headers=organizer_headers).text)
    recent = home.by_id("recent-classes")
    assert recent.find("a", class_="poster-link").get("href") == session["poster_svg"]


def test_the_receipt_page_shows_what_became_of_the_request(trained_client, trained_service, organizer_headers):
    """Looking a receipt up: the topic it is counted in and the classes on it (page and API)."""
    response = trained_client.post("/api/feedback", json={"text": "想学消防安全和灭火器使用"})
    code = response.json()["receipt"]
    trained_service.assign_pending()
    tid = trained_service.request_outcome(trained_service.find_receipt(code))["topic_id"]
    assert tid is not None
    trained_client.post(
        "/api/sessions", headers=organizer_headers,
        json={"topic_id": tid, "title": "灭火器实操课", "date": "2026-12-20", "status": "planned"},
    )
    page = parse_html(trained_client.post("/withdraw/lookup", data={"receipt": code}).text)
    outcome = page.by_id("request-outcome")
    assert outcome.find("strong", class_="outcome-topic").text == trained_service.topic(tid)["label"]
    assert "2026-12-20 · 灭火器实操课" in outcome.text
    body = trained_client.post("/api/withdraw/lookup", json={"receipt": code}).json()
    assert body["topic_label"] == trained_service.topic(tid)["label"]
    assert body["classes"] == [{"date": "2026-12-20", "title": "灭火器实操课", "status": "planned"}]


def test_the_receipt_page_says_unsorted(trained_client, trained_service):
    """A line in no topic: 未归类 on the receipt page, topic_label null in the API."""
    code = trained_client.post("/api/feedback", json={"text": "周末想学做木工家具"}).json()["receipt"]
    trained_service.assign_pending()
    page = parse_html(trained_client.post("/withdraw/lookup", data={"receipt": code}).text)
    assert page.by_id("request-outcome").find("strong", class_="outcome-topic").text == "未归类"
    assert trained_client.post("/api/withdraw/lookup", json={"receipt": code}).json()["topic_label"] is None


def test_organizers_read_the_answers_of_a_class(trained_client, organizer_headers):
    """GET /api/sessions/{id}/answers and the topic page: ratings, praise and 下次想学什么, newest first."""
    session = _class(trained_client, organizer_headers)
    _answer_from_a_new_phone(trained_client, session, {"rating": "5", "text": "讲得很好，谢谢老师"})
    _answer_from_a_new_phone(trained_client, session, {"rating": "3", "text": "下次想学急救包扎"})
    body = trained_client.get(f"/api/sessions/{session['id']}/answers", headers=organizer_headers).json()
    assert [(a["rating"], a["kind"], a["text"]) for a in body["answers"]] == [
        (3, "request", "下次想学急救包扎"), (5, "praise", "讲得很好，谢谢老师")
    ]
    assert_error(trained_client.get("/api/sessions/99999/answers", headers=organizer_headers), 404)
    assert trained_client.get(f"/api/sessions/{session['id']}/answers").status_code == 401
    page = parse_html(trained_client.get(f"/organizer/topics/{session['topic_id']}", headers=organizer_headers).text)
    answers = page.by_id(f"answers-{session['id']}")
    assert "讲得很好，谢谢老师" in answers.text and "已计入学习需求" in answers.text


def test_the_post_class_form_is_rate_limited_like_the_feedback_doors(trained_service, settings, organizer_headers):
    """POST /class/{token} counts in the feedback bucket: over RECOMMENDER_RATE_LIMIT, 429."""
    from fastapi.testclient import TestClient

    from recommender.web.app import create_app

    limited = Settings(**{**settings.model_dump(), "rate_limit": "2/minute"})
    with TestClient(create_app(limited, trained_service)) as client:
        session = _class(client, organizer_headers)
        answers = [client.post(f"/class/{_token(session)}", data={"rating": "5"}, follow_redirects=False)
                   for _ in range(3)]
        assert [a.status_code for a in answers] == [303, 303, 429]


def _answers(client, headers, session) -> list[tuple]:
    body = client.get(f"/api/sessions/{session['id']}/answers", headers=headers).json()
    return [(a["rating"], a["kind"], a["text"]) for a in body["answers"]]


def test_the_same_browser_changes_its_answer_instead_of_adding_one(trained_client, trained_service, organizer_headers):
    """Second visit from the same browser: 「你已提交过反馈」 with its answer filled in; sending
    again replaces the answer (one answer, the new rating) and withdraws a replaced request line."""
    client, h = trained_client, organizer_headers
    session = _class(client, h)
    first = _answer_from_a_new_phone(client, session, {"rating": "3", "text": "下次想学急救包扎"})
    assert first.status_code == 303 and "class_answer" in first.headers["set-cookie"]
    assert f"Path=/class/{_token(session)}" in first.headers["set-cookie"]  # sent to this class's form only
    (old_line,) = trained_service.store.responses_of(session["id"])
    again = parse_html(client.get(f"/class/{_token(session)}").text)
    assert "你已提交过反馈" in again.by_id("answered").text
    assert again.find("input", name="rating", checked=True).get("value") == "3"
    assert "下次想学急救包扎" in again.by_id("text").text
    assert again.find("a", href="?new=1") is not None  # someone else on this phone
    changed = client.post(f"/class/{_token(session)}", data={"rating": "5", "text": "讲得很好，谢谢老师"}, follow_redirects=False)
    assert changed.status_code == 303 and "changed=1" in changed.headers["location"]
    assert "已修改" in client.get(changed.headers["location"]).text
    assert _answers(client, h, session) == [(5, "praise", "讲得很好，谢谢老师")]
    assert trained_service.store.get(old_line["feedback_id"]).status == "withdrawn"
    shown = [s for s in client.get("/api/sessions", headers=h).json()["sessions"] if s["id"] == session["id"]]
    assert (shown[0]["rating"], shown[0]["responses"]) == (5.0, 1)


def test_an_unchanged_request_keeps_its_line(trained_client, trained_service, organizer_headers):
    """Changing only the rating keeps the 「下次想学什么」 line (no withdrawal, no second line)."""
    client, h = trained_client, organizer_headers
    session = _class(client, h)
    _answer_from_a_new_phone(client, session, {"rating": "3", "text": "下次想学急救包扎"})
    lines = trained_service.store.count()
    (before,) = trained_service.store.responses_of(session["id"])
    client.post(f"/class/{_token(session)}", data={"rating": "4", "text": "下次想学急救包扎"})
    (after,) = trained_service.store.responses_of(session["id"])
    assert after["feedback_id"] == before["feedback_id"] and after["rating"] == 4
    assert trained_service.store.count() == lines
    assert trained_service.store.get(after["feedback_id"]).status == "visible"


def test_another_phone_or_person_is_never_blocked(trained_client, organizer_headers):
    """A browser without the cookie, one with a forged cookie, and 「换一个人填写」 (answer=new)
    on an answered phone: each adds its own answer."""
    client, h = trained_client, organizer_headers
    session = _class(client, h)
    _answer_from_a_new_phone(client, session, {"rating": "2"})
    _answer_from_a_new_phone(client, session, {"rating": "4"})
    assert "你已提交过反馈" not in client.get(f"/class/{_token(session)}?new=1").text
    client.post(f"/class/{_token(session)}", data={"rating": "5", "answer": "new"})
    client.cookies.clear()
    client.cookies.set("class_answer", f"{session['id']}.1.forged-signature", path=f"/class/{_token(session)}")
    assert "你已提交过反馈" not in client.get(f"/class/{_token(session)}").text
    client.post(f"/class/{_token(session)}", data={"rating": "1"})
    assert sorted(a[0] for a in _answers(client, h, session)) == [1, 2, 4, 5]


def test_a_cookie_of_another_class_changes_nothing_there(trained_client, organizer_headers):
    """The signed cookie names its class: shown to another class's form it is no earlier answer."""
    client, h = trained_client, organizer_headers
    one, two = _class(client, h), _class(client, h, title="急救包扎课")
    answered = _answer_from_a_new_phone(client, one, {"rating": "3"})
    value = answered.cookies.get("class_answer") or client.cookies.get("class_answer")
    client.cookies.clear()
    client.cookies.set("class_answer", value, path=f"/class/{_token(two)}")
    assert "你已提交过反馈" not in client.get(f"/class/{_token(two)}").text
    client.post(f"/class/{_token(two)}", data={"rating": "5"})
    assert _answers(client, h, one) == [(3, "rating", "")] and _answers(client, h, two) == [(5, "rating", "")]
