"""Withdrawal: receipt codes from the form and the API, /withdraw pages, /api/withdraw, re-imports, browser."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from recommender.door.screening import RECEIPT_ALPHABET, new_receipt_code, normalise_receipt
from recommender.store import NewFeedback
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401  (fixtures)
from tests.helpers import assert_error, parse_html

AUTH = {"Authorization": "Bearer test-organizer-token"}
CODE = re.compile(r"^[%s]{5}-[%s]{5}$" % (RECEIPT_ALPHABET, RECEIPT_ALPHABET))


def test_receipt_codes_are_short_unambiguous_and_forgiving():
    """Codes look like XXXXX-XXXXX without 0/O/1/I/L; lower case, spaces and full-width forms are accepted."""
    codes = {new_receipt_code() for _ in range(200)}
    assert len(codes) == 200 and all(CODE.match(c) for c in codes)
    code = next(iter(codes))
    assert normalise_receipt(code.lower().replace("-", " ")) == code.replace("-", "")
    assert normalise_receipt("ＡＢＣＤＥ－ＦＧＨＪＫ") == "ABCDEFGHJK"
    assert normalise_receipt("O0000-11111") is None and normalise_receipt(None) is None


def test_api_receipt_lookup_and_withdraw(client, service):
    """POST /api/feedback returns a receipt; lookup shows the text; withdraw deletes it for good and keeps only a hash."""
    created = client.post("/api/feedback", json={"text": "想学怎么用手机挂号", "segment": "居民", "submitter": "u1"}).json()
    receipt = created["receipt"]
    assert CODE.match(receipt)
    seen = client.post("/api/withdraw/lookup", json={"receipt": receipt.lower()})
    assert seen.status_code == 200
    assert seen.json() | {"submitted_at": None} == {"id": created["id"], "status": "kept", "text": "想学怎么用手机挂号",
                                                    "submitted_at": None, "segment": "居民",
                                                    "topic_label": None, "classes": []}  # no model: 未归类
    row = service.store.get(int(created["id"]))
    assert row.text and receipt.replace("-", "") not in str(row)

    gone = client.post("/api/withdraw", json={"receipt": receipt})
    assert gone.status_code == 200 and gone.json()["status"] == "withdrawn" and gone.json()["text"] == ""
    row = service.store.get(int(created["id"]))
    assert row.status == "withdrawn" and row.text == "" and row.submitter_hash is None
    assert client.post("/api/withdraw", json={"receipt": receipt}).json()["status"] == "withdrawn"  # idempotent
    entries, _ = service.store.audit_entries()
    assert entries[0]["action"] == "withdraw" and entries[0]["actor"] == "attendee"


def test_api_withdraw_errors(client):
    """Unknown or malformed codes are 404 in the error shape; extra fields and GET are refused."""
    assert_error(client.post("/api/withdraw", json={"receipt": "ABCDE-FGHJK"}), 404, "receipt_not_found")
    assert_error(client.post("/api/withdraw/lookup", json={"receipt": "<script>"}), 404, "receipt_not_found")
    assert_error(client.post("/api/withdraw", json={"receipt": "ABCDE-FGHJK", "x": 1}), 422)
    assert client.get("/api/withdraw").status_code == 405


def test_withdrawal_removes_the_line_from_suggestions_and_topic(trained_client, trained_service):
    """A withdrawn line (tokens and assignments deleted) no longer counts or shows anywhere at once."""
    created = trained_client.post("/api/feedback", json={"text": "灭火器怎么正确使用，想学消防安全知识", "submitter": "p-new"}).json()
    fid = created["id"]
    trained_service.assign_pending()  # what each web worker runs every second
    before = trained_client.get("/api/suggestions?top=10", headers=AUTH).json()["suggestions"]
    assert any(fid in s["feedback_ids"] for s in before)
    trained_client.post("/api/withdraw", json={"receipt": created["receipt"]})
    after = trained_client.get("/api/suggestions?top=10", headers=AUTH).json()["suggestions"]
    assert not any(fid in s["feedback_ids"] for s in after)
    version = trained_service.served().version
    assert all(r.id != int(fid) for r, _, _ in trained_service.store.assignment_rows(version, visible_only=False))


def test_form_thanks_page_shows_the_receipt_once_and_withdraw_pages_work(client, service):
    """Form → thanks shows the code (not in any URL) once; /withdraw → lookup → confirm deletes the text."""
    posted = client.post("/feedback", data={"text": "想学做账，社区的收支表不会做", "segment": "居民"}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == "/thanks"
    thanks = client.get("/thanks")
    assert thanks.headers["cache-control"] == "no-store"
    code = parse_html(thanks.text).by_id("receipt-code").text
    assert CODE.match(code) and code not in str(thanks.url)
    assert parse_html(client.get("/thanks").text).by_id("receipt-code") is None  # shown once

    form = parse_html(client.get("/withdraw").text)
    assert form.find("form").get("action") == "/withdraw/lookup" and form.find("input", name="receipt") is not None
    lookup = client.post("/withdraw/lookup", data={"receipt": code.lower()})
    page = parse_html(lookup.text)
    assert lookup.status_code == 200 and page.by_id("withdraw-text").text == "想学做账，社区的收支表不会做"
    confirm = page.find("form", action="/withdraw")
    assert confirm.find("input", name="receipt").get("value") == code
    done = client.post("/withdraw", data={"receipt": code}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/withdraw/done"
    assert "已撤回" in parse_html(client.get("/withdraw/done").text).text
    assert service.store.iter_feedback().__next__().text == ""
    again = parse_html(client.post("/withdraw/lookup", data={"receipt": code}).text)
    assert "已经撤回" in again.text and again.find("form", action="/withdraw") is None


def test_withdraw_pages_unknown_code_and_cross_site(client):
    """An unknown code shows the form again with an error (404); a cross-site POST is refused (403)."""
    page = client.post("/withdraw/lookup", data={"receipt": "ABCDE-FGHJK"})
    assert page.status_code == 404 and "没有找到" in parse_html(page.text).find(class_="error-summary").text
    assert parse_html(page.text).find("input", name="receipt").get("value") == "ABCDE-FGHJK"
    assert client.post("/withdraw", data={"receipt": "ABCDE-FGHJK"}, headers={"Origin": "https://evil.example"}).status_code == 403


def test_withdrawn_import_row_does_not_come_back_on_reimport(store):
    """The withdrawn row keeps its (source, external_id), so importing the same file skips it."""
    now = datetime.now(timezone.utc)
    row = NewFeedback(text="想学插花", segment="居民", submitted_at=now, source="import:a.csv", external_id="7",
                      receipt_hash="h" * 64)
    [fid] = store.add_many([row])
    store.withdraw("h" * 64)
    assert store.add_many([row]) == [None]
    assert store.get(fid).text == "" and store.get(fid).status == "withdrawn"


# --------------------------------------------------------------------------- browser

CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_browser_withdraw_and_hide(tmp_path):
    """Submit, note the receipt, withdraw it via /withdraw; an organizer hides a quoted line and it leaves the dashboard."""
    import socket
    import threading
    import time

    import uvicorn

    sync_api = pytest.importorskip("playwright.sync_api")
    from recommender.config import Settings
    from recommender.service import RecommenderService
    from recommender.retrain.pipeline import train_from_store
    from recommender.web.app import create_app
    from tests.fixtures_organizer import load_feedback
    from tests.test_browser import CHROMIUM_ARGS

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'f.db'}", data_dir=tmp_path / "data",
                        models_dir=tmp_path / "models", organizer_tokens="browser-organizer-token", model_poll_seconds=0.5)
    seed = RecommenderService(settings)
    seed.start()
    load_feedback(seed)
    train_from_store(seed.store, settings, progress=False)
    seed.close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                                           ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    errors: list[str] = []
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            page = browser.new_context(locale="zh-CN").new_page()
            page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
            page.set_default_timeout(10_000)
            page.goto(f"{base}/")
            page.fill("textarea[name=text]", "想学书法，毛笔字怎么入门")
            page.get_by_role("button", name="提交反馈").click()
            page.wait_for_url(f"{base}/thanks")
            code = page.locator("#receipt-code").inner_text()
            assert CODE.match(code)

            page.goto(f"{base}/withdraw")
            page.fill("#receipt", code)
            page.get_by_role("button", name="查看这条反馈").click()
            assert page.locator("#withdraw-text").inner_text() == "想学书法，毛笔字怎么入门"
            page.get_by_role("button", name="确认撤回并删除").click()
            page.wait_for_url(f"{base}/withdraw/done")
            assert "已撤回" in page.locator("main").inner_text()

            page.goto(f"{base}/organizer?top=10")
            page.fill("#token", "browser-organizer-token")
            page.get_by_role("button", name="登录").click()
            page.wait_for_url(f"{base}/organizer?top=10")
            card = page.locator("li.card").first
            quote = card.locator(".quotes blockquote").first.inner_text()
            card.locator("h3 a").click()
            item = page.locator("ol.feedback-list > li", has_text=quote).first
            if item.count() == 0:
                pytest.skip("quoted line not on the topic's first page")
            item.locator("summary").click()
            item.locator("select[name=reason]").select_option("spam")
            item.get_by_role("button", name="隐藏").click()
            assert "已隐藏" in page.locator(".flash--success").inner_text()
            page.goto(f"{base}/organizer?top=10")
            quotes = page.locator("li.card .quotes blockquote").all_inner_texts()
            assert quote not in quotes
            assert quote in page.locator("#hidden").inner_text()
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert errors == [], errors
