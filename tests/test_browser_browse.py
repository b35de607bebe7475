"""Real-browser walk through 全部主题 and the dashboard's chart, at desktop width and on a 390 px phone.

Reuses tests/test_browser.py's live server (uvicorn in a thread over a trained store) and its
Debian chromium. Writes docs/screenshot-topics.png and docs/screenshot-topics-phone.png.
"""

from __future__ import annotations

import pytest

from tests.test_browser import CHROMIUM, DOCS, TOKEN, browser, live_server  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"),
]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

#: Every text of the demand chart as drawn: its box and the chart's box (CSS pixels).
CHART_TEXT_BOXES = """() => {
  const svg = document.querySelector('svg.bar-chart');
  const outer = svg.getBoundingClientRect();
  return [...svg.querySelectorAll('text')].map(t => {
    const r = t.getBoundingClientRect();
    return {text: t.textContent, left: r.left, right: r.right, height: r.height,
            svgLeft: outer.left, svgRight: outer.right};
  });
}"""


def _logged_in_page(browser, live_server, viewport, path):
    """A new browser context of that size, logged in through the login form, at ``path``."""
    context = browser.new_context(locale="zh-CN", viewport=viewport)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    response = tab.goto(f"{live_server}{path}")
    assert response.status == 401
    tab.fill("#token", TOKEN)
    tab.get_by_role("button", name="登录").click()
    tab.wait_for_url(f"{live_server}{path}")
    return context, tab


def _overflow(tab) -> int:
    """How many CSS pixels the page is wider than the window (0: no sideways scrolling)."""
    return tab.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def test_all_topics_at_desktop_width_search_and_open_a_topic(browser, live_server):
    """Every topic is listed by theme; the search box filters without JavaScript; a topic opens."""
    context, tab = _logged_in_page(browser, live_server, DESKTOP, "/organizer/topics")
    try:
        rows = tab.locator("li.topic-row")
        total = rows.count()
        assert total >= 4
        assert tab.locator("section.theme-group").count() >= 2
        assert tab.locator("li.topic-row .badge--rank", has_text="推荐第 1 名").count() == 1
        assert tab.get_by_role("link", name="未归类", exact=False).count() >= 1
        DOCS.mkdir(exist_ok=True)
        tab.screenshot(path=str(DOCS / "screenshot-topics.png"), full_page=True)

        tab.fill("#topics-q", "诈骗")
        tab.get_by_role("button", name="搜索").click()
        tab.wait_for_url("**/organizer/topics?q=*")
        assert 1 <= rows.count() < total
        assert tab.locator("#topics-q").input_value() == "诈骗"
        first = rows.first
        label = first.locator("a.topic-link").inner_text()
        first.locator("a.topic-link").click()
        tab.wait_for_url("**/organizer/topics/T*")
        assert label in tab.locator("h1").inner_text()
        assert tab.locator("#standing .why").inner_text().startswith("为什么：")
    finally:
        context.close()


def test_all_topics_and_chart_on_a_390px_phone(browser, live_server):
    """At 390 px: no sideways scrolling, chart text at least 12 px tall and inside the chart, bars open topics."""
    context, tab = _logged_in_page(browser, live_server, PHONE, "/organizer/topics")
    try:
        assert tab.locator("li.topic-row").count() >= 4
        assert _overflow(tab) <= 0
        tab.screenshot(path=str(DOCS / "screenshot-topics-phone.png"), full_page=True)

        tab.goto(f"{live_server}/organizer")
        assert _overflow(tab) <= 0
        boxes = tab.evaluate(CHART_TEXT_BOXES)
        assert boxes
        for box in boxes:
            assert box["height"] >= 12, box
            assert box["left"] >= box["svgLeft"] - 0.5 and box["right"] <= box["svgRight"] + 0.5, box
        link = tab.locator("svg.bar-chart a").first
        link.scroll_into_view_if_needed()
        link.click()
        tab.wait_for_url("**/organizer/topics/T*")
        assert tab.locator("#standing").is_visible()
        assert _overflow(tab) <= 0
    finally:
        context.close()



def test_organizer_pages_load_without_failed_requests(browser, live_server):
    """The login page, the dashboard, 全部主题, a topic page, 未归类 and 主题更正 load every
    resource they ask for: no 404 in the browser's console (a page without an icon link makes
    Chromium ask for /favicon.ico)."""
    context = browser.new_context(locale="zh-CN", viewport=DESKTOP)
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    failed: list[str] = []
    tab.on("console", lambda m: failed.append(m.text) if m.type == "error" else None)
    try:
        tab.goto(f"{live_server}/organizer")  # 401: the login form
        tab.fill("#token", TOKEN)
        tab.get_by_role("button", name="登录").click()
        tab.wait_for_url(f"{live_server}/organizer")
        topic = tab.locator("a[href^='/organizer/topics/']").first.get_attribute("href")
        for path in ("/organizer/topics", topic, "/organizer/no-topic", "/organizer/corrections"):
            tab.goto(f"{live_server}{path}")
            tab.wait_for_load_state("load")
        tab.wait_for_timeout(300)  # the icon is fetched after the page's load event
        # The first visit's 401 is the login form, as intended; Chromium asks for the icon once.
        assert [m for m in failed if "status of 401" not in m] == []
    finally:
        context.close()


def test_back_link_stands_clear_of_the_header_and_the_public_footer_is_gone(browser, live_server):
    """At 390 px on 全部主题: 「← 返回看板」 starts at least 16 px below the header bar (it
    touched it), and the public 「撤回我提交的反馈」 footer is not on an organizer page."""
    context, tab = _logged_in_page(browser, live_server, PHONE, "/organizer/topics")
    try:
        gap = tab.evaluate(
            "() => document.querySelector('p.back').getBoundingClientRect().top"
            " - document.querySelector('header.site-header').getBoundingClientRect().bottom"
        )
        assert gap >= 16, gap
        assert tab.locator("footer").count() == 0
        assert tab.get_by_text("撤回我提交的反馈").count() == 0
    finally:
        context.close()


def test_expert_form_fields_have_the_forms_size_on_a_phone(browser, live_server):
    """At 390 px the 专家库 form's fields are as large as the other forms' (16 px text, so a phone
    does not zoom in, and a 44 px touch height), not the browser's 13 px default."""
    context, tab = _logged_in_page(browser, live_server, PHONE, "/organizer/experts")
    try:
        sizes = tab.evaluate(
            "() => [...document.querySelectorAll('form.expert-form input:not([type=hidden])')].map(i =>"
            " ({id: i.id, font: parseFloat(getComputedStyle(i).fontSize), height: i.getBoundingClientRect().height}))"
        )
        assert len(sizes) == 4
        for size in sizes:
            assert size["font"] >= 16 and size["height"] >= 44, size
        assert _overflow(tab) <= 0
    finally:
        context.close()


#: Where an element is drawn relative to the window (CSS pixels).
RIGHT_EDGE = "(el) => ({right: el.getBoundingClientRect().right, width: window.innerWidth})"


def test_an_experts_edit_and_delete_are_on_screen_on_a_phone(browser, live_server):
    """At 390 px the 专家库 table is one block per expert: 编辑 and 删除 are within the window,
    not in a fifth column past its right edge, and each value says what it is (「部门：…」)."""
    context, tab = _logged_in_page(browser, live_server, PHONE, "/organizer")
    try:
        added = tab.request.post(
            f"{live_server}/api/experts", headers={"Authorization": f"Bearer {TOKEN}"},
            data={"name": "孙老师", "department": "街道社区卫生服务中心", "subjects": ["急救", "心肺复苏"]},
        )
        assert added.status == 201, added.text()
        tab.goto(f"{live_server}/organizer/experts")
        row = tab.locator("table.experts tbody tr").first
        for name in ("编辑", "删除"):
            box = row.get_by_role("link" if name == "编辑" else "button", name=name).evaluate(RIGHT_EDGE)
            assert box["right"] <= box["width"], (name, box)
        label = row.locator("td[data-label='部门']").evaluate("el => getComputedStyle(el, '::before').content")
        assert "部门" in label
        assert _overflow(tab) <= 0
    finally:
        context.close()


def test_a_topics_class_links_are_on_screen_on_a_phone(browser, live_server):
    """At 390 px a topic's 开课记录 is one block per class: the poster and feedback links are
    within the window, not in the eighth column of a sideways-scrolling table."""
    context, tab = _logged_in_page(browser, live_server, PHONE, "/organizer")
    try:
        topic = tab.locator("li.card").first.get_attribute("data-topic-id")
        planned = tab.request.post(
            f"{live_server}/api/sessions", headers={"Authorization": f"Bearer {TOKEN}"},
            data={"topic_id": topic, "title": "手机上看的课", "date": "2030-01-05", "status": "planned"},
        )
        assert planned.status == 201, planned.text()
        tab.goto(f"{live_server}/organizer/topics/{topic}")
        row = tab.locator("table.sessions tbody tr", has_text="手机上看的课")
        link = row.get_by_role("link", name="课后反馈表")
        box = link.evaluate(RIGHT_EDGE)
        assert box["right"] <= box["width"], box
    finally:
        context.close()
