"""Real browser (Debian chromium via Playwright) against a real uvicorn server: an organizer
adds an expert on the dashboard and sees them on the matching suggestion card.

Writes docs/screenshot-experts.png on every run. Reuses the server and browser fixtures of
tests/test_browser.py.
"""

from __future__ import annotations

from tests.test_browser import DOCS, TOKEN, browser, live_server, page, pytestmark  # noqa: F401 (fixtures, marks)

PHONE = "13812345678"


def test_organizer_adds_an_expert_and_sees_them_on_the_matching_card(live_server, page):
    """Log in, add 赵站长 (消防安全) in 专家库 (a refused add comes back to the page's form with
    what was typed, and reloads as the page); the list masks the phone; the fire card names him,
    another card says 需要邀请讲师."""
    response = page.goto(f"{live_server}/organizer/experts")
    assert response.status == 401
    page.fill("#token", TOKEN)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/organizer/experts")

    page.get_by_label("姓名").fill("赵站长")
    page.get_by_label("部门").fill("区消防救援站")
    page.get_by_label("可授课程").fill("消防安全、灭火器使用")
    page.get_by_label("联系方式").fill("随便")
    page.get_by_role("button", name="添加专家").click()
    page.wait_for_url(f"{live_server}/organizer/experts#add-expert")  # back on the page, not the POST's
    assert "联系方式" in page.locator(".form-error").inner_text()
    assert page.get_by_label("可授课程").input_value() == "消防安全、灭火器使用"  # kept as typed
    reloaded = page.reload()  # a reload shows the page again: no resubmission, no one-time error
    assert reloaded.status == 200 and page.locator(".form-error").count() == 0
    assert page.locator("table.experts").count() == 0  # nothing was added
    page.get_by_label("姓名").fill("赵站长")
    page.get_by_label("部门").fill("区消防救援站")
    page.get_by_label("可授课程").fill("消防安全、灭火器使用")
    page.get_by_label("联系方式").fill(PHONE)
    page.get_by_role("button", name="添加专家").click()
    page.wait_for_url(f"{live_server}/organizer/experts")
    assert "已添加专家" in page.locator(".flash--success").inner_text()
    row = page.locator("table.experts tbody tr").first
    assert row.locator(".expert-contact").inner_text() == "138****5678"
    assert PHONE not in page.content()
    DOCS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1100, "height": 700})
    page.screenshot(path=str(DOCS / "screenshot-experts.png"), full_page=True)

    page.goto(f"{live_server}/organizer?top=10")
    fire = page.locator("li.card", has=page.locator(".expert", has_text="赵站长"))
    assert fire.count() >= 1
    assert "消防" in fire.first.locator(".keywords").inner_text() + fire.first.locator("h3").inner_text()
    assert "区消防救援站" in fire.first.locator(".experts-line").inner_text()
    assert page.locator("li.card .no-expert", has_text="需要邀请讲师").count() >= 1

    page.goto(f"{live_server}/organizer/experts")
    page.get_by_role("link", name="编辑").first.click()
    assert page.get_by_label("联系方式").input_value() == PHONE  # the one view with the whole contact


LINES = "el => { const r = document.createRange(); r.selectNodeContents(el); return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size }"


def _logged_in(browser, live_server, width):
    """A new browser context ``width`` CSS pixels wide, logged in through the login form (at the dashboard)."""
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 900})
    tab = context.new_page()
    tab.goto(f"{live_server}/organizer/login")
    tab.fill("#token", TOKEN)
    tab.get_by_role("button", name="登录").click()
    tab.wait_for_url(f"{live_server}/organizer")
    return context, tab


def test_audit_log_columns_do_not_wrap_mid_word(live_server, browser):
    """操作记录 at desktop width and at 390 px: time, actor and action each stay on one line,
    the time is labelled 北京时间 and the details read as words."""
    for width in (1100, 390):
        context, tab = _logged_in(browser, live_server, width)
        try:
            tab.goto(f"{live_server}/organizer/experts")
            tab.get_by_label("姓名").fill(f"钱老师{width}")
            tab.get_by_label("部门").fill("街道办事处综合办公室")
            tab.get_by_label("可授课程").fill("公文写作")
            tab.get_by_role("button", name="添加专家").click()
            tab.goto(f"{live_server}/organizer#audit")
            table = tab.locator("table.audit")
            assert "北京时间" in table.locator("thead").inner_text()
            row = table.locator("tbody tr").first
            assert row.locator(".audit-detail").inner_text() == f"钱老师{width}（街道办事处综合办公室）"
            for cls in ("audit-at", "audit-actor", "audit-action"):
                assert row.locator(f".{cls}").evaluate(LINES) == 1, (width, cls)
        finally:
            context.close()


#: Each cell of the first audit row: where its right edge is drawn, the window's width, and
#: what its label (the ::before of a stacked row) says.
AUDIT_CELLS = """(row) => [...row.querySelectorAll('td')].filter(td => td.textContent.trim()).map(td => ({
  cls: td.className, right: td.getBoundingClientRect().right, width: window.innerWidth,
  label: getComputedStyle(td, '::before').content}))"""


def test_audit_log_is_one_block_per_entry_on_a_phone(live_server, browser):
    """At 390 px 操作记录 is one block per entry, as 专家库 and 开课记录 are: every value (the
    details too) is within the window, not in a column past its right edge, the table does not
    scroll sideways, and each value says what it is (「操作人：…」)."""
    context, tab = _logged_in(browser, live_server, 390)
    try:
        added = tab.request.post(
            f"{live_server}/api/experts", headers={"Authorization": f"Bearer {TOKEN}"},
            data={"name": "周老师", "department": "街道社区卫生服务中心综合办公室", "subjects": ["急救"]},
        )
        assert added.status == 201, added.text()
        tab.reload()  # the page was drawn before the expert was added
        row = tab.locator("table.audit tbody tr").first
        cells = row.evaluate(AUDIT_CELLS)
        assert {c["cls"] for c in cells} >= {"audit-at", "audit-actor", "audit-action", "audit-detail"}
        for cell in cells:
            assert cell["right"] <= cell["width"], cell
        labels = {c["cls"]: c["label"] for c in cells}
        assert "北京时间" in labels["audit-at"] and "操作人" in labels["audit-actor"], labels
        wrap = tab.locator("#audit .table-wrap").evaluate("el => el.scrollWidth - el.clientWidth")
        assert wrap <= 0
    finally:
        context.close()
