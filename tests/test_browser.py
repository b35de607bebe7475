"""Real-browser walk-through: Playwright drives Debian's chromium against a real uvicorn server.

Needs ``/usr/bin/chromium`` (CI runs ``apt-get install chromium``); skipped otherwise. Writes
docs/screenshot-form.png and docs/screenshot-dashboard.png on every run.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from recommender.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[1] / "docs"
TOKEN = "browser-test-token"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """A trained service on a temporary store, served by uvicorn in a background thread."""
    import uvicorn

    from recommender.service import RecommenderService
    from recommender.retrain.pipeline import train_from_store
    from recommender.web.app import create_app
    from tests.fixtures_organizer import load_feedback

    root = tmp_path_factory.mktemp("browser")
    settings = Settings(
        database_url=f"sqlite:///{root / 'feedback.db'}",
        data_dir=root / "data",
        models_dir=root / "models",
        organizer_tokens=TOKEN,
        model_poll_seconds=0.5,
    )
    seed = RecommenderService(settings)
    seed.start()
    load_feedback(seed)
    train_from_store(seed.store, settings, progress=False)
    seed.close()

    port = _free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="on",
        # Playwright's request context reuses idle connections; with uvicorn's 5 s keep-alive a
        # request sent as the server closes an idle one reads ECONNRESET (seen once under load,
        # after a retrain's POST took seconds). Browsers and proxies retry that; the tests don't.
        timeout_keep_alive=120,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-browser-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium through Playwright's sync API."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1100, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


def test_attendee_submits_the_form_and_sees_thanks(live_server, page):
    """Fill the textarea, choose a segment, submit: the thank-you page appears."""
    page.goto(f"{live_server}/")
    page.fill("textarea[name=text]", "希望讲讲电动车充电的消防安全隐患，还有灭火器怎么用")
    page.get_by_label("网格员", exact=True).check()
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "screenshot-form.png"), full_page=True)
    page.get_by_role("button", name="提交反馈").click()
    page.wait_for_url(f"{live_server}/thanks")
    assert page.locator("h1").inner_text() == "谢谢您的反馈！"


def test_organizer_logs_in_plans_a_class_and_sees_it_held_back(live_server, page):
    """Log in, see cards and the bar chart, record a held class today on the top topic, see 「…已开课，暂缓到…」."""
    response = page.goto(f"{live_server}/organizer?top=20")
    assert response.status == 401
    page.fill("#token", TOKEN)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{live_server}/organizer?top=20")

    cards = page.locator("li.card")
    assert cards.count() >= 3
    assert page.locator("svg.bar-chart").is_visible()
    assert page.locator("li.card svg.sparkline").count() == cards.count()
    top = cards.first
    topic_id = top.get_attribute("data-topic-id")
    assert top.locator(".badge--covered").count() == 0

    top.locator("summary").click()
    top.locator("select[name=status]").select_option("held")
    # The organizers' today (Asia/Shanghai), not the server's: the day the suggestions count to.
    assert top.locator("input[name=date]").input_value() == Settings().today().isoformat()
    top.get_by_role("button", name="保存").click()
    page.wait_for_url(f"{live_server}/organizer?top=20")

    assert "已记录课程" in page.locator(".flash--success").inner_text()
    card = page.locator(f"li.card[data-topic-id='{topic_id}']")
    assert "已开课，暂缓到" in card.locator(".badge--covered").inner_text()
    assert cards.first.get_attribute("data-topic-id") != topic_id or cards.count() == 1
    page.screenshot(path=str(DOCS / "screenshot-dashboard.png"), full_page=True)
