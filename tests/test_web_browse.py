"""Tests of 全部主题 (GET /organizer/topics), the dashboard's held-back list and chart, the cards'
why line and readable breakdown, and the topic page's score, rank and cool-down header."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from recommender.ranking.explain import TREND_ZH
from tests.conftest import ORGANIZER_TOKEN
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 (fixtures)
from tests.helpers import dashboard_login, parse_html

NS = "{http://www.w3.org/2000/svg}"


def _login(client) -> str:
    """Log in and return the dashboard's CSRF token."""
    return dashboard_login(client, ORGANIZER_TOKEN)


def _api(client, path):
    response = client.get(path, headers={"Authorization": f"Bearer {ORGANIZER_TOKEN}"})
    assert response.status_code == 200, response.text
    return response.json()


def _hold_class(client, csrf, topic_id, day):
    response = client.post(
        "/organizer/sessions",
        data={"csrf_token": csrf, "topic_id": topic_id, "title": "已开的课", "date": day.isoformat(), "status": "held",
              "return_to": "/organizer"},
        follow_redirects=False,
    )
    assert response.status_code == 303


def test_all_topics_needs_login(trained_client):
    """Without a session the page answers 401 with the login form."""
    response = trained_client.get("/organizer/topics")
    assert response.status_code == 401
    assert 'name="token"' in response.text


def test_every_topic_grouped_by_theme_with_size_trend_and_rank(trained_client):
    """Each topic of /api/topics appears once, under its theme, linked, with size, trend and rank."""
    _login(trained_client)
    topics = _api(trained_client, "/api/topics")["topics"]
    ranked = {s["topic_id"]: s for s in _api(trained_client, "/api/suggestions")["suggestions"]}
    page = parse_html(trained_client.get("/organizer/topics").text)
    rows = page.find_all("li", class_="topic-row")
    groups = page.find_all("section", class_="theme-group")
    index = [a.get("href") for a in page.find("nav", class_="theme-index").find_all("a")]
    assert index == [f"#{g.find('h2').get('id')}" for g in groups]
    assert sorted(r.get("data-topic-id") for r in rows) == sorted(t["topic_id"] for t in topics)
    for t in topics:
        [row] = [r for r in rows if r.get("data-topic-id") == t["topic_id"]]
        group = row
        while group.get("data-theme-id") is None:
            group = group.parent
        assert group.get("data-theme-id") == (t["theme_id"] or t["topic_id"])
        link = row.find("a", class_="topic-link")
        assert link.get("href") == f"/organizer/topics/{t['topic_id']}" and link.text == t["label"]
        assert row.find("span", class_="size").text == f"{t['size']} 条"
        assert row.find("span", class_="trend").text in set(TREND_ZH.values()) | {"暂无计入的反馈"}
        if t["topic_id"] in ranked:
            assert row.find("span", class_="people").text == f"{ranked[t['topic_id']]['distinct_submitters']} 人"
        rank = row.find("span", class_="badge--rank").text
        expected = f"推荐第 {ranked[t['topic_id']]['rank']} 名" if t["topic_id"] in ranked else "未进入建议"
        assert rank == expected


def test_search_keeps_matching_topics_and_the_typed_text(trained_client):
    """?q= keeps topics whose label or keywords contain it (no JavaScript), and the box keeps the text."""
    _login(trained_client)
    topics = _api(trained_client, "/api/topics")["topics"]
    target = next(t for t in topics if t["keywords"])
    word = target["keywords"][0]
    page = parse_html(trained_client.get("/organizer/topics", params={"q": word}).text)
    ids = {r.get("data-topic-id") for r in page.find_all("li", class_="topic-row")}
    assert target["topic_id"] in ids
    expected = {
        t["topic_id"] for t in topics
        if word in " ".join([t["topic_id"], t["label"], t["model_label"], t["theme_label"] or t["label"], *t["keywords"]])
    }
    assert ids == expected and len(ids) < len(topics)
    assert page.find("input", name="q").get("value") == word
    none = parse_html(trained_client.get("/organizer/topics", params={"q": "完全不存在的词"}).text)
    assert none.find_all("li", class_="topic-row") == []
    assert "没有找到包含“完全不存在的词”的主题" in none.find("p", class_="empty").text


def test_bad_filters_answer_422_and_keep_what_was_typed(trained_client):
    """A bad date or a too-long search: 422, the message, every topic still listed, the fields kept."""
    _login(trained_client)
    total = len(_api(trained_client, "/api/topics")["topics"])
    for params, message in (({"as_of": "2026-02-30", "q": "消防"}, "截至日期应为有效日期"), ({"q": "长" * 101}, "最多 100 个字")):
        response = trained_client.get("/organizer/topics", params=params)
        assert response.status_code == 422
        page = parse_html(response.text)
        assert message in page.find("div", class_="error-summary").text
        assert len(page.find_all("li", class_="topic-row")) == total
        assert page.find("input", name="q").get("value") == params["q"]


def test_segment_filter_ranks_for_that_segment_only(trained_client):
    """?segment= ranks with that segment's lines; topics under the privacy floor say so instead of a rank."""
    _login(trained_client)
    ranked = {s["topic_id"]: s for s in _api(trained_client, "/api/suggestions?top=50&segment=居民")["suggestions"]}
    page = parse_html(trained_client.get("/organizer/topics", params={"segment": "居民"}).text)
    for row in page.find_all("li", class_="topic-row"):
        s = ranked.get(row.get("data-topic-id"))
        if s is None:
            assert row.find("span", class_="trend").text == "该人群人数不足，不单独排名"
            assert row.find("span", class_="people") is None
        else:
            assert row.find("span", class_="people").text == f"{s['distinct_submitters']} 人（居民）"
    assert "selected" in page.find("option", value="居民").attrs


def test_no_topic_pool_and_new_demand_are_linked(trained_client):
    """全部主题 and the dashboard link to 未归类, 新出现的需求 and to each other."""
    _login(trained_client)
    browse = parse_html(trained_client.get("/organizer/topics").text)
    hrefs = {a.get("href") for a in browse.find_all("a")}
    assert {"/organizer/no-topic", "/organizer#new-demand", "/organizer"} <= hrefs
    no_topic = parse_html(trained_client.get("/organizer/no-topic").text)
    assert "/organizer/topics" in {a.get("href") for a in no_topic.find("nav", class_="organizer-nav").find_all("a")}
    # The model's internal number for "no topic" means nothing to an organizer.
    assert "（-1）" not in no_topic.find("main").text and "(-1)" not in no_topic.find("main").text
    dashboard = parse_html(trained_client.get("/organizer").text)
    links = dashboard.find("nav", class_="quick-links")
    assert {a.get("href") for a in links.find_all("a")} >= {"/organizer/topics", "/organizer/no-topic", "#new-demand", "#held-back"}


def test_cards_say_why_in_words_and_no_weighted_numbers(trained_client):
    """Each card has the why line of its suggestion; its breakdown is in 人/个/%/天, never 18.49-like numbers."""
    _login(trained_client)
    ranked = _api(trained_client, "/api/suggestions")["suggestions"]
    page = parse_html(trained_client.get("/organizer").text)
    for card, s in zip(page.find_all("li", class_="card"), ranked):
        assert s["why"].startswith(f"{s['distinct_submitters']} 人提出，近 30 天 {s['recent_people']} 人")
        assert s["why"] in card.find("p", class_="why").text
        rows = card.find("table", class_="breakdown").find_all("tr")
        assert [r.find("th").text for r in rows] == ["提出人数", "点赞", "增长", "上次开课"]
        assert rows[0].find("td").text.startswith(f"{s['distinct_submitters']} 人")
        for row in rows:
            assert not re.search(r"\d\.\d", row.find("td").text), row.text


def test_held_back_topic_is_listed_with_its_cool_down(trained_client):
    """A class held on the top topic: wherever it lands, its card or the 暂缓 list says until when."""
    csrf = _login(trained_client)
    top = _api(trained_client, "/api/suggestions?top=1")["suggestions"][0]
    held_on = date.today() - timedelta(days=1)
    _hold_class(trained_client, csrf, top["topic_id"], held_on)
    until = held_on + timedelta(days=90)
    page = parse_html(trained_client.get("/organizer?top=1").text)
    note = f"{held_on.month}月{held_on.day}日已开课，暂缓到 "
    card = page.find("li", id=f"topic-{top['topic_id']}")
    if card is None:
        [item] = [li for li in page.by_id("held-back").find_all("li") if li.get("data-topic-id") == top["topic_id"]]
        assert note in item.find("strong", class_="cooldown-note").text
    else:
        assert note in card.find("span", class_="badge--covered").text
    standing = _api(trained_client, "/api/suggestions?top=50")["suggestions"]
    [entry] = [s for s in standing if s["topic_id"] == top["topic_id"]]
    assert entry["recently_covered"] and entry["cooldown_until"] == until.isoformat()


def test_held_back_list_names_topics_below_the_cut(trained_client, trained_service):
    """Topics in cool-down ranked below top appear in 近期已开课，暂缓, with rank and note; none above the cut."""
    csrf = _login(trained_client)
    ranked = _api(trained_client, "/api/suggestions?top=50")["suggestions"]
    for s in ranked:
        _hold_class(trained_client, csrf, s["topic_id"], date.today())
    page = parse_html(trained_client.get("/organizer?top=1").text)
    items = page.by_id("held-back").find_all("li")
    after = _api(trained_client, "/api/suggestions?top=50")["suggestions"]
    assert [li.get("data-topic-id") for li in items] == [s["topic_id"] for s in after[1:]]
    for li, s in zip(items, after[1:]):
        assert f"现排第 {s['rank']} 名" in li.text
        assert "已开课，暂缓到" in li.text


def test_chart_follows_filters_and_links_to_topics(trained_client):
    """The chart's bars link to topic pages; its counts follow 人群 and 截至日期."""
    _login(trained_client)
    page = parse_html(trained_client.get("/organizer").text)
    chart = page.find("svg", class_="bar-chart")
    links = chart.find_all("a")
    assert links and all(a.get("href").startswith("/organizer/topics/T") for a in links)
    assert "全部人群" in chart.find("title").text

    past = (date.today() - timedelta(days=40)).isoformat()
    ranked = _api(trained_client, f"/api/suggestions?top=50&as_of={past}&segment=居民")["suggestions"]
    filtered = parse_html(trained_client.get("/organizer", params={"as_of": past, "segment": "居民"}).text)
    chart = filtered.find("svg", class_="bar-chart")
    assert f"居民，截至 {past}" in chart.find("title").text
    titles = [g.find("title").text for g in chart.find_all("g", class_="bar-row")]
    assert sorted(titles) == sorted(f"{s['label']}：{s['feedback_count']}" for s in ranked)


def test_topic_page_header_shows_score_rank_and_why(trained_client):
    """The topic page says its rank among the suggestions, its score, why, and the readable breakdown."""
    _login(trained_client)
    s = _api(trained_client, "/api/suggestions")["suggestions"][0]
    page = parse_html(trained_client.get(f"/organizer/topics/{s['topic_id']}").text)
    header = page.by_id("standing")
    assert f"推荐第 {s['rank']} 名" in header.text
    assert f"热度 {s['score']:.2f}" in header.text
    assert s["why"] in header.find("p", class_="why").text
    assert len(header.find("table", class_="breakdown").find_all("tr")) == 4


def test_topic_page_of_a_topic_below_the_cut_says_not_suggested(trained_client, trained_service):
    """A topic ranked below suggestions_top says 未进入建议 with its place among all topics."""
    _login(trained_client)
    trained_service.settings = trained_service.settings.model_copy(update={"suggestions_top": 1})
    second = _api(trained_client, "/api/suggestions?top=2")["suggestions"][1]
    page = parse_html(trained_client.get(f"/organizer/topics/{second['topic_id']}").text)
    assert "未进入建议" in page.by_id("standing").text
    assert "在全部主题中排第 2 名（推荐显示前 1 名）" in page.by_id("standing").text
    browse = parse_html(trained_client.get("/organizer/topics").text)
    [row] = [r for r in browse.find_all("li", class_="topic-row") if r.get("data-topic-id") == second["topic_id"]]
    assert row.find("span", class_="badge--rank").text == "未进入建议"
