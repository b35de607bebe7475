"""Real-browser corrections: in Debian's chromium an organizer moves a line, splits lines off
into a new topic and merges two topics on the dashboard (forms only), a retrain runs, and
every correction is still there. Writes docs/screenshot-corrections.png (the list) and
docs/screenshot-corrections-topic.png (a topic page's correction forms).

Reuses the live uvicorn server and the browser of tests/test_browser.py (a module of its own,
so the server's store starts fresh here).
"""

from __future__ import annotations

import time

import pytest

from tests.test_browser import DOCS, TOKEN, browser, live_server, page, pytestmark  # noqa: F401 - fixtures

AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: Lines of the smartphone topic about paying and booking with the phone (split off).
SERVICES = ("支付", "缴费", "打车", "挂号", "医保")


def _api(page, base: str, path: str) -> dict:
    response = page.request.get(f"{base}{path}", headers=AUTH)
    assert response.ok, (path, response.status, response.text())
    return response.json()


def _topic(page, base: str, word: str) -> str:
    for t in _api(page, base, "/api/topics")["topics"]:
        if word in t["label"] or any(word in k for k in t["keywords"]):
            return t["topic_id"]
    raise AssertionError(f"no topic about {word}")


def _line_ids(page, base: str, topic_id: str) -> dict[int, str]:
    items = _api(page, base, f"/api/topics/{topic_id}?per_page=200")["members"]["items"]
    return {m["feedback_id"]: m["text"] for m in items}


def _retrain(page, base: str) -> None:
    """Start a retrain (the organizer API) and wait until its model is the one served."""
    before = _api(page, base, "/api/topics")["model_version"]
    started = page.request.post(f"{base}/api/admin/retrain", headers=AUTH)
    assert started.status == 202, started.text()
    deadline = time.monotonic() + 180
    while True:
        status = _api(page, base, "/api/admin/retrain")["status"]
        assert status != "failed", _api(page, base, "/api/admin/retrain")
        if status == "finished" and _api(page, base, "/api/topics")["model_version"] != before:
            return
        assert time.monotonic() < deadline, "the retrain did not finish in time"
        time.sleep(0.5)


def test_move_split_and_merge_on_the_dashboard_survive_a_retrain(live_server, page):
    """Tick a line and move it, tick lines and split them off, merge two topics; retrain; all kept."""
    base = live_server
    assert page.goto(f"{base}/organizer").status == 401
    page.fill("#token", TOKEN)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/organizer")

    writing, phone = _topic(page, base, "公文"), _topic(page, base, "手机")
    fire, extinguisher = _topic(page, base, "消防安全"), _topic(page, base, "灭火器")

    # Move: one line of 公文写作 to the smartphone topic.
    moved = min(_line_ids(page, base, writing))
    page.goto(f"{base}/organizer/topics/{writing}")
    page.check(f"#pick-{moved}")
    page.select_option("#move-target", phone)
    page.get_by_role("button", name="移到所选主题").click()
    page.wait_for_url(f"{base}/organizer/topics/{writing}")
    assert "已把 1 条反馈移到" in page.locator(".flash--success").inner_text()
    assert page.locator(f"li[data-feedback-id='{moved}']").count() == 0

    # Split: the smartphone lines about paying and booking become 「手机办事」.
    lines = _line_ids(page, base, phone)
    picked = sorted(i for i, text in lines.items() if any(w in text for w in SERVICES))
    assert len(picked) >= 4
    page.goto(f"{base}/organizer/topics/{phone}?page=1")
    for i in picked:
        page.check(f"#pick-{i}")
    page.fill("#split-label", "手机办事")
    DOCS.mkdir(exist_ok=True)
    box = page.locator("#lines-form").bounding_box()  # in the viewport: add the scroll for the page
    box["y"] += page.evaluate("window.scrollY")
    page.screenshot(  # the move / split form and the ticked lines under it
        path=str(DOCS / "screenshot-corrections-topic.png"), full_page=True,
        clip={"x": 0, "y": box["y"] - 60, "width": 1100, "height": box["height"] + 520},
    )
    page.get_by_role("button", name="拆分为新主题").click()
    page.wait_for_url(f"{base}/organizer/topics/T*")
    split = page.url.rsplit("/", 1)[1]
    assert split not in (phone, writing) and "手机办事" in page.locator("h1").inner_text()
    assert sorted(int(x) for x in page.locator("li[data-feedback-id]").evaluate_all("els => els.map(e => e.dataset.feedbackId)")) == picked

    # Merge: 灭火器 into 消防安全.
    page.goto(f"{base}/organizer/topics/{fire}")
    page.select_option("#merge-other", extinguisher)
    page.get_by_role("button", name="合并").click()
    page.wait_for_url(f"{base}/organizer/topics/{fire}")
    assert "并入本主题" in page.locator(".flash--success").inner_text()
    merged = set(_line_ids(page, base, fire))

    page.goto(f"{base}/organizer/corrections")
    rows = page.locator("tr[data-correction-id]")
    assert rows.count() == 3
    assert [rows.nth(k).locator("td").nth(3).inner_text() for k in range(3)] == ["合并主题", "拆分主题", "移动反馈"]
    DOCS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1100, "height": 700})
    page.screenshot(path=str(DOCS / "screenshot-corrections.png"), full_page=True)

    _retrain(page, base)

    page.goto(f"{base}/organizer/topics/{phone}")
    assert page.locator(f"li[data-feedback-id='{moved}']").count() == 1
    page.goto(f"{base}/organizer/topics/{split}")
    assert "手机办事" in page.locator("h1").inner_text()
    shown = {int(x) for x in page.locator("li[data-feedback-id]").evaluate_all("els => els.map(e => e.dataset.feedbackId)")}
    assert set(picked) <= shown
    assert page.goto(f"{base}/organizer/topics/{extinguisher}").status == 404
    assert merged <= set(_line_ids(page, base, fire))
    # Still listed, each with its undo button, after the retrain.
    page.goto(f"{base}/organizer/corrections")
    assert page.get_by_role("button", name="撤销").count() == 3


@pytest.mark.parametrize("width", [390])
def test_corrections_page_is_usable_on_a_phone(live_server, page, width):
    """At 390 px the corrections list fits the screen (no sideways scrolling of the page)."""
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{live_server}/organizer/login")
    page.fill("#token", TOKEN)
    page.get_by_role("button", name="登录").click()
    page.goto(f"{live_server}/organizer/corrections")
    assert page.locator("h1").inner_text() == "主题更正"
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1


def test_a_refused_move_comes_back_to_the_topic_page_and_reloads_as_it(live_server, page):
    """Tick a line, press 移到所选主题 with no topic chosen: the browser is back on the topic page
    (not on the POST-only /lines URL) with the error and the line still ticked; reloading it
    shows the topic page again (200, not 405), without the one-time error."""
    base = live_server
    page.goto(f"{base}/organizer/login")
    page.fill("#token", TOKEN)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/organizer")
    writing = _topic(page, base, "公文")
    line = min(_line_ids(page, base, writing))
    page.goto(f"{base}/organizer/topics/{writing}")
    page.check(f"#pick-{line}")
    page.fill("#split-label", "还没想好")
    page.get_by_role("button", name="移到所选主题").click()
    page.wait_for_url(f"{base}/organizer/topics/{writing}")
    assert "请选择要移到哪个主题" in page.locator(".flash--error").inner_text()
    assert page.is_checked(f"#pick-{line}") and page.input_value("#split-label") == "还没想好"
    reloaded = page.reload()
    assert reloaded.status == 200 and reloaded.url == f"{base}/organizer/topics/{writing}"
    assert page.locator(".flash--error").count() == 0 and not page.is_checked(f"#pick-{line}")
