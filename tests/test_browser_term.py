"""Real-browser walk-through of the term loop: record a class on the dashboard, open its QR
poster, answer the post-class form from a 390 px-wide phone page, and see the rating on the
topic page.

Reuses the live server and chromium of tests/test_browser.py. Writes
docs/screenshot-poster.png and docs/screenshot-class-form.png on every run.
"""

from __future__ import annotations

import pytest

from tests.test_browser import CHROMIUM, DOCS, TOKEN, browser, live_server  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"),
]

PHONE = "13812345678"


def test_a_class_poster_is_answered_from_a_phone_and_rated(live_server, browser):
    """Dashboard → record a held class → its poster (QR) → phone form (an error keeps the text) → rating on the topic page."""
    organizer = browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 900})
    page = organizer.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server}/organizer")
    page.fill("#token", TOKEN)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/organizer")

    card = page.locator("li.card").first
    topic_id = card.get_attribute("data-topic-id")
    card.locator("summary").click()
    card.locator("input[name=title]").fill("消防安全第一课：灭火器实操")
    card.locator("select[name=status]").select_option("held")
    card.locator("input[name=instructor]").fill("李教官")
    card.get_by_role("button", name="保存").click()
    page.wait_for_url(f"{live_server}/organizer")
    assert "已记录课程" in page.locator(".flash--success").inner_text()

    recent = page.locator("#recent-classes li").first
    assert "消防安全第一课" in recent.inner_text()
    feedback_url = recent.locator("a.feedback-link").get_attribute("href")
    assert feedback_url.startswith(f"{live_server}/class/")

    # The poster: opened from the dashboard, it shows the class and the QR code of its link.
    recent.locator("a.poster-link").click()
    page.wait_for_url("**/poster.svg")
    poster = page.content()
    assert "消防安全第一课" in poster and feedback_url in poster
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "screenshot-poster.png"))
    png = page.request.get(page.url.replace(".svg", ".png"))
    assert png.status == 200 and png.body()[:4] == b"\x89PNG"

    # A learner scans it: a 390 px phone, no organizer session.
    phone = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    learner = phone.new_page()
    learner.set_default_timeout(10_000)
    learner.goto(feedback_url)
    assert "消防安全第一课" in learner.locator(".class-title").inner_text()
    assert learner.evaluate("document.documentElement.scrollWidth") <= 390
    typed = f"下次想学急救包扎和心肺复苏，联系我{PHONE}"
    learner.fill("textarea[name=text]", typed)
    learner.get_by_role("button", name="提交").click()  # no rating chosen yet
    assert "1 到 5" in learner.locator("#rating-error").inner_text()
    assert learner.locator("textarea[name=text]").input_value().strip() == typed
    learner.get_by_label("5 分 · 非常满意").check()
    learner.screenshot(path=str(DOCS / "screenshot-class-form.png"), full_page=True)
    learner.get_by_role("button", name="提交").click()
    learner.wait_for_url(f"{live_server}/class-feedback/thanks**")
    assert learner.locator("h1").inner_text() == "谢谢您的评价！"
    assert len(learner.locator("#receipt-code").inner_text()) == 11
    phone.close()

    # The organizer sees the rating on the topic page.
    page.set_viewport_size({"width": 1100, "height": 900})
    page.goto(f"{live_server}/organizer/topics/{topic_id}")
    row = page.locator("table.sessions tr", has_text="消防安全第一课")
    assert "5.0 分" in row.locator(".session-rating").inner_text()
    assert "1 人评价" in row.inner_text()
    assert PHONE not in page.content()
    organizer.close()
