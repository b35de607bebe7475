"""The public web surface: the feedback form, POST /feedback, /thanks, /api/feedback, probes."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from recommender.door.validation import clean_text
from recommender.text.masking import mask_personal_data
from tests.helpers import assert_error, label_for, parse_html

PHONE_TEXT = "想学手机拍照，有问题打我电话13812345678"
PHONE_MASKED = "想学手机拍照，有问题打我电话[手机号]"


def form_page(response):
    """The parsed page and its feedback form."""
    page = parse_html(response.text)
    form = page.find("form", method="post")
    assert form is not None, "the page has a POST form"
    return page, form


def textarea_value(element) -> str:
    """What a browser shows in a textarea: its text with one leading newline dropped."""
    raw = "".join(n for n in element.nodes if isinstance(n, str))
    return raw[1:] if raw.startswith("\n") else raw


def described_by(page, control) -> list:
    """The elements a control's aria-describedby names (each must exist)."""
    ids = (control.get("aria-describedby") or "").split()
    found = [page.by_id(i) for i in ids]
    assert all(found), f"aria-describedby names missing ids: {ids}"
    return found


# ---------------------------------------------------------------------------- form page
def test_form_page_is_zh_cn_mobile_and_scriptless(client):
    """GET / is a zh-CN page with a viewport meta, the shared stylesheet and no JavaScript."""
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = parse_html(response.text)
    assert page.find("html").get("lang") == "zh-CN"
    assert "width=device-width" in page.find("meta", name="viewport").get("content")
    assert page.find("link", rel="stylesheet", href="/static/style.css") is not None
    assert page.find_all("script") == []
    assert not any(name.startswith("on") for el in page.iter() for name in el.attrs)
    assert page.find("main") is not None and page.find("h1").text


def test_form_fields_are_labelled(client, settings):
    """Text, segment radios (fieldset/legend) and class field each have a label and help text."""
    page, form = form_page(client.get("/"))
    assert form.get("action") == "/feedback"

    text = form.find("textarea", name="text")
    assert text is not None and text.get("id") == "text"
    assert "下次想学什么？学习中遇到了什么困难？工作中有什么困扰？" in label_for(page, "text").text
    assert any(el.get("id") == "text-help" for el in described_by(page, text))

    fieldset = form.find("fieldset")
    assert fieldset is not None and fieldset.find("legend").text
    described_by(page, fieldset)
    radios = fieldset.find_all("input", type="radio", name="segment")
    assert [r.get("value") for r in radios] == list(settings.segments)
    for radio in radios:
        assert label_for(page, radio.get("id")).text == radio.get("value")
    assert not any("checked" in r.attrs for r in radios)

    session = form.find("input", name="session_id")
    assert session is not None and label_for(page, session.get("id")).text
    described_by(page, session)

    assert form.find("button", type="submit").text == "提交反馈"
    assert page.find(class_="error-summary") is None


def test_form_has_privacy_note(client):
    """The form tells people not to write names or phone numbers and that they are masked."""
    page, _ = form_page(client.get("/"))
    note = page.find(class_="privacy").text
    assert "手机号" in note and "姓名" in note and "遮盖" in note


def test_stylesheet_is_served(client):
    """The shared stylesheet is served and styles touch targets."""
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "--touch" in response.text


def test_pages_link_an_icon_that_is_served(client):
    """Every page names its icon, so a browser does not ask for /favicon.ico (a 404 in its
    console on every page); the icon it names is served."""
    page = parse_html(client.get("/").text)
    icons = [link.get("href") for link in page.find_all("link") if "icon" in (link.get("rel") or [])]
    assert icons, "no <link rel=icon>"
    response = client.get(icons[0])
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")


# ---------------------------------------------------------------------------- POST /feedback
def test_form_post_redirects_to_thanks_and_stores_masked(client, store):
    """A valid form post answers 303 to /thanks and stores the masked text with segment and class."""
    response = client.post(
        "/feedback",
        data={"text": PHONE_TEXT, "segment": "网格员", "session_id": "5月12日 公文写作"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/thanks"
    rows = list(store.iter_feedback())
    assert len(rows) == 1
    row = rows[0]
    assert row.text == PHONE_MASKED
    assert (row.segment, row.session_id, row.source) == ("网格员", "5月12日 公文写作", "form")
    assert row.submitter_hash is None


def test_form_without_segment_is_stored_as_other(client, store):
    """No segment chosen: the line is stored under 其他."""
    response = client.post("/feedback", data={"text": "想学怎么用表格统计居民信息"}, follow_redirects=False)
    assert response.status_code == 303
    (row,) = store.iter_feedback()
    assert row.segment == "其他" and row.session_id is None


def test_thanks_page_links_back_to_the_form(client):
    """Following the redirect lands on a Chinese thank-you page with a link back to the form."""
    response = client.post("/feedback", data={"text": "想学公文写作", "segment": "居民"})
    assert response.status_code == 200
    assert response.url.path == "/thanks"
    page = parse_html(response.text)
    assert "谢谢" in page.find("h1").text
    assert page.find("a", href="/") is not None


@pytest.mark.parametrize(
    ("data", "field", "message_part"),
    [
        ({"text": "   ", "segment": "网格员", "session_id": "第3期"}, "text", "不能为空"),
        ({"text": "！！。。。？", "segment": "网格员", "session_id": "第3期"}, "text", "标点"),
        ({"text": "想学写通知", "segment": "外星人", "session_id": "第3期"}, "segment", "无效"),
        ({"text": "想学写通知", "segment": "网格员", "session_id": "课" * 101}, "session_id", "过长"),
    ],
    ids=["blank", "punctuation-only", "unknown-segment", "session-too-long"],
)
def test_form_error_shows_message_next_to_field_and_keeps_input(client, store, data, field, message_part):
    """A refused form comes back 422 with the message at the field, a linked alert summary and the input kept."""
    response = client.post("/feedback", data=data, follow_redirects=False)
    assert response.status_code == 422
    page, form = form_page(response)
    assert page.find("title").text.startswith("错误")

    summary = page.find(class_="error-summary")
    assert summary.get("role") == "alert"
    assert summary.get("tabindex") == "-1" and "autofocus" in summary.attrs
    link = summary.find("a")
    assert message_part in link.text
    target = page.by_id(link.get("href").removeprefix("#"))
    assert target is not None and target.get("name") == field

    error = page.by_id(f"{field}-error")
    assert error is not None and message_part in error.text
    control = form.find("fieldset") if field == "segment" else form.find(name=field)
    assert error in described_by(page, control)
    if field != "segment":
        assert control.get("aria-invalid") == "true"

    # Everything typed is still there, exactly.
    assert textarea_value(form.find("textarea", name="text")) == data["text"]
    checked = [r.get("value") for r in form.find_all("input", name="segment") if "checked" in r.attrs]
    assert checked == ([data["segment"]] if data["segment"] != "外星人" else [])
    assert form.find("input", name="session_id").get("value") == data["session_id"]
    assert store.count() == 0


def test_form_keeps_typed_markup_as_text(client):
    """Typed HTML comes back escaped inside the textarea, never as markup."""
    typed = '<script>alert("x")</script></textarea><b>想学</b>'
    response = client.post("/feedback", data={"text": typed, "segment": "外星人"}, follow_redirects=False)
    assert response.status_code == 422
    page, form = form_page(response)
    assert page.find_all("script") == [] and page.find_all("b") == []
    assert textarea_value(form.find("textarea", name="text")) == typed


def test_form_without_text_field_rerenders_with_message(client, store):
    """A post missing the text field is not a 500: the form comes back with the empty-text message."""
    response = client.post("/feedback", data={"segment": "居民"}, follow_redirects=False)
    assert response.status_code == 422
    page, form = form_page(response)
    assert "不能为空" in page.by_id("text-error").text
    assert [r.get("value") for r in form.find_all("input", name="segment") if "checked" in r.attrs] == ["居民"]
    assert store.count() == 0


def test_form_with_json_body_rerenders(client):
    """JSON posted to the form route is treated as an empty form, not an error 500."""
    response = client.post("/feedback", json={"text": "想学公文"}, follow_redirects=False)
    assert response.status_code == 422
    form_page(response)


def test_form_with_file_instead_of_text_rerenders(client):
    """A file upload in the text field is refused with a message, not stored, never 500."""
    response = client.post(
        "/feedback", files={"text": ("a.txt", b"hello", "text/plain")}, data={"segment": "居民"}, follow_redirects=False
    )
    assert response.status_code == 422
    page, _ = form_page(response)
    assert page.by_id("text-error") is not None


def test_form_with_broken_multipart_rerenders(client):
    """A broken multipart body gets the form back with a message (400 or 422), never 500."""
    response = client.post(
        "/feedback",
        content=b"--xyz\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nabc",
        headers={"content-type": "multipart/form-data; boundary=xyz"},
        follow_redirects=False,
    )
    assert response.status_code in (400, 422)
    page, _ = form_page(response)
    assert page.find(class_="error-summary").get("role") == "alert"


@pytest.mark.parametrize(
    "body,content_type",
    [
        (b"text=%FF%FE%E4%B8&segment=%E5%B1%85%E6%B0%91", "application/x-www-form-urlencoded"),
        ("text=想学做表格".encode("gb18030"), "application/x-www-form-urlencoded"),
        (
            b'--b\r\nContent-Disposition: form-data; name="text"\r\n\r\n\xff\xfe\xe4\xb8\r\n--b--\r\n',
            "multipart/form-data; boundary=b",
        ),
    ],
    ids=["bad-percent-escape", "raw-gbk", "multipart"],
)
def test_form_with_invalid_utf8_is_refused_with_a_clear_message(client, service, body, content_type):
    """Invalid UTF-8 in the form (escaped, raw GBK bytes, multipart): 400 with the form and a
    message saying so, nothing stored (it used to be stored as mojibake)."""
    response = client.post("/feedback", content=body, headers={"content-type": content_type}, follow_redirects=False)
    assert response.status_code == 400
    page, _ = form_page(response)
    assert "UTF-8" in page.find(class_="error-summary").text
    assert list(service.store.iter_feedback()) == []


def test_form_body_over_limit_is_413_page(client, settings):
    """A form body over max_body_bytes answers 413 with an HTML page."""
    response = client.post(
        "/feedback", data={"text": "学" * settings.max_body_bytes}, follow_redirects=False
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "太大" in response.text


def test_form_chunked_body_over_limit_is_413(client, store):
    """A form body without Content-Length (chunked) is cut off at the limit with 413, nothing stored."""

    def chunks():
        yield b"text="
        for _ in range(80):
            yield b"a" * 1024

    response = client.post(
        "/feedback",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert response.status_code == 413
    assert store.count() == 0


def test_unknown_page_and_wrong_method_are_html_error_pages(client):
    """Outside /api/ errors are the Chinese HTML error page."""
    page = assert_error(client.get("/no-such-page"), 404)
    assert page.find("a", href="/") is not None
    assert_error(client.get("/feedback"), 405)


# ---------------------------------------------------------------------------- POST /api/feedback
def test_api_feedback_created_with_id(client, store):
    """POST /api/feedback answers 201 with the stored id, segment, time, repeat and masked flags."""
    response = client.post("/api/feedback", json={"text": "  想学\n智能手机\t用法  ", "segment": "居民", "session_id": "S1"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "segment", "submitted_at", "is_repeat", "masked", "receipt"}
    assert isinstance(body["id"], str) and body["id"].isdigit()
    assert body["segment"] == "居民" and body["is_repeat"] is False and body["masked"] is False
    submitted = datetime.fromisoformat(body["submitted_at"])
    assert submitted.utcoffset().total_seconds() == 0
    row = store.get(int(body["id"]))
    assert (row.text, row.segment, row.session_id, row.source) == ("想学 智能手机 用法", "居民", "S1", "api")
    assert row.submitted_at == submitted


def test_api_feedback_masks_personal_data(client, store):
    """A phone number is masked before storing and the answer says so."""
    response = client.post("/api/feedback", json={"text": PHONE_TEXT})
    assert response.status_code == 201
    assert response.json()["masked"] is True and response.json()["segment"] == "其他"
    assert store.get(int(response.json()["id"])).text == PHONE_MASKED


def test_api_feedback_repeat_from_same_submitter(client, store):
    """The same submitter sending near-identical text again is marked a repeat; the raw id is not stored."""
    first = client.post("/api/feedback", json={"text": "希望多讲讲公文写作", "submitter": "user-42"})
    again = client.post("/api/feedback", json={"text": "希望多讲讲公文写作！", "submitter": "user-42"})
    assert first.json()["is_repeat"] is False
    assert again.status_code == 201 and again.json()["is_repeat"] is True
    row = store.get(int(again.json()["id"]))
    assert row.submitter_hash and "user-42" not in row.submitter_hash


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"text": ""}, "empty"),
        ({"text": " \n\t\u3000 "}, "empty"),
        ({"text": "！？。……"}, "no_content"),
        ({"text": "😀🎉"}, "no_content"),
        ({"text": "学" * 2001}, "too_long"),
        ({"text": "想学公文", "segment": "外星人"}, "unknown_segment"),
        ({"text": "想学公文", "session_id": "x" * 101}, "too_long"),
        ({"text": 123}, "invalid_request"),
        ({"text": ["想学公文"]}, "invalid_request"),
        ({"text": None}, "invalid_request"),
        ({"text": {"zh": "想学"}}, "invalid_request"),
        ({"text": True}, "invalid_request"),
        ({"text": "想学公文", "segment": 3}, "invalid_request"),
        ({"segment": "居民"}, "invalid_request"),
        ({"text": "想学公文", "txt": "typo"}, "invalid_request"),
        (["想学公文"], "invalid_request"),
        ("想学公文", "invalid_request"),
        (None, "invalid_request"),
    ],
    ids=[
        "empty", "whitespace", "punctuation", "emoji-only", "too-long", "unknown-segment", "session-too-long",
        "text-number", "text-list", "text-null", "text-object", "text-bool", "segment-number", "missing-text",
        "unknown-field", "body-list", "body-string", "body-null",
    ],
)
def test_api_feedback_refuses_bad_input_with_422(client, store, payload, code):
    """Bad JSON input answers 422 in the JSON error shape with a specific code; nothing is stored."""
    body = assert_error(client.post("/api/feedback", json=payload), 422, code)
    if code != "invalid_request":  # intake's own Chinese message
        assert any("\u4e00" <= ch <= "\u9fff" for ch in body["error"]["message"])
    assert store.count() == 0


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (["想学公文"], "请求体应为 JSON 对象"),
        ("想学公文", "请求体应为 JSON 对象"),
        (None, "缺少请求体（JSON 对象）"),
        ({"segment": "居民"}, "缺少 text"),
        ({"text": "想学公文", "txt": "typo"}, "不接受的字段：txt"),
        ({"text": 123}, "text 应为文字"),
    ],
    ids=["body-list", "body-string", "no-body", "missing-text", "unknown-field", "text-number"],
)
def test_api_feedback_says_what_is_wrong_with_the_body(client, payload, message):
    """A malformed body's message names the mistake (not 「请求 的格式不对」 for a body that is no object)."""
    body = assert_error(client.post("/api/feedback", json=payload), 422, "invalid_request")
    assert body["error"]["message"] == message


def test_api_feedback_empty_text_message_is_chinese(client):
    """Empty text gets intake's Chinese message naming what to do."""
    body = assert_error(client.post("/api/feedback", json={"text": "   "}), 422, "empty")
    assert body["error"]["message"] == "反馈内容不能为空，请写下您想学的内容或建议。"


@pytest.mark.parametrize(
    "raw",
    [b'{"text": ', b"{'text': 'x'}", b"", b'{"text": "a"} trailing', b"\xff\xfe{}"],
    ids=["truncated", "single-quotes", "empty-body", "trailing", "not-utf8"],
)
def test_api_feedback_malformed_json_is_4xx_json(client, raw):
    """Malformed JSON answers a 4xx in the JSON error shape (422 invalid_json where it parses as bytes)."""
    response = client.post("/api/feedback", content=raw, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)
    if raw in (b'{"text": ', b"{'text': 'x'}"):
        assert_error(response, 422, "invalid_json")


def test_api_feedback_5mb_body_is_413(client, store):
    """A 5 MB JSON body answers 413 payload_too_large before anything is stored."""
    payload = json.dumps({"text": "学" * (5 * 1024 * 1024 // 3)}, ensure_ascii=False).encode()
    assert len(payload) >= 5 * 1024 * 1024 - 16
    response = client.post("/api/feedback", content=payload, headers={"content-type": "application/json"})
    assert_error(response, 413, "payload_too_large")
    assert store.count() == 0


def test_api_feedback_chunked_body_over_limit_is_413(client, settings):
    """A body without Content-Length (chunked) is cut off at the limit with 413 too."""

    def chunks():
        yield b'{"text": "'
        for _ in range(80):
            yield b"a" * 1024
        yield b'"}'

    response = client.post("/api/feedback", content=chunks(), headers={"content-type": "application/json"})
    assert_error(response, 413, "payload_too_large")


def test_api_unknown_route_is_json_404(client):
    """Unknown /api/ paths answer the JSON error shape."""
    assert_error(client.get("/api/no-such-thing"), 404, "not_found")


def test_openapi_documents_feedback_api(client):
    """The OpenAPI schema documents /api/feedback: strict request model, 201 model, error responses, example."""
    spec = client.get("/openapi.json").json()
    post = spec["paths"]["/api/feedback"]["post"]
    assert post["summary"] and post["description"]
    assert {"201", "413", "422"} <= set(post["responses"])
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    model = spec["components"]["schemas"][ref]
    assert model["additionalProperties"] is False and model["required"] == ["text"]
    assert model["examples"][0]["text"]
    for path in ("/healthz", "/readyz"):
        assert spec["paths"][path]["get"]["description"]


# ---------------------------------------------------------------------------- probes
def test_healthz_is_ok(client):
    """GET /healthz answers 200 {"status": "ok"}."""
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_without_model_is_503_with_train_hint(client):
    """GET /readyz with no model answers 503 no_model telling to run `recommender train`."""
    body = assert_error(client.get("/readyz"), 503, "no_model")
    assert "recommender train" in body["error"]["message"]


def test_readyz_with_model_is_ready(client, service, monkeypatch):
    """GET /readyz with a served model and a reachable store answers 200 with the model version."""
    monkeypatch.setattr(service, "served", lambda: SimpleNamespace(version="20261128T120501Z-ab12"))
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "model_version": "20261128T120501Z-ab12"}


def test_readyz_with_unreachable_database_is_503(client, service, monkeypatch):
    """GET /readyz answers 503 store_unavailable when the database does not answer."""
    monkeypatch.setattr(service, "served", lambda: SimpleNamespace(version="v"))
    monkeypatch.setattr(service.store, "ping", lambda: False)
    assert_error(client.get("/readyz"), 503, "store_unavailable")


def test_readyz_with_a_missing_database_server(settings, tmp_path):
    """A store URL that cannot connect makes readyz 503 (real failure, not a stub) while healthz stays 200."""
    from recommender.service import RecommenderService
    from recommender.store import FeedbackStore
    from recommender.web.app import create_app

    broken = settings.model_copy(update={"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"})
    svc = RecommenderService(broken, store=FeedbackStore(broken.database_url))
    client = TestClient(create_app(broken, svc))  # not entered: the lifespan would migrate and fail
    assert client.get("/healthz").status_code == 200
    assert_error(client.get("/readyz"), 503, "store_unavailable")


# ---------------------------------------------------------------------------- privacy of logs
def test_feedback_text_is_never_logged(client, caplog):
    """No log record, at any level, contains the feedback text (form or API)."""
    marker = "独一无二的反馈内容甲乙丙"
    with caplog.at_level(logging.DEBUG):
        client.post("/feedback", data={"text": marker + "一", "segment": "居民"})
        client.post("/api/feedback", json={"text": marker + "二"})
        client.post("/feedback", data={"text": marker + "三", "segment": "外星人"})
        client.post("/api/feedback", json={"text": marker + "四", "segment": "外星人"})
    assert caplog.records, "the service logs something (stored feedback ids)"
    assert marker not in caplog.text
    assert all(marker not in str(r.args) for r in caplog.records)


# ---------------------------------------------------------------------------- property
ANY_CHAR = st.characters(exclude_categories=())  # every code point, lone surrogates included
FEEDBACK_LIKE = st.text(alphabet="我想学电话13812345678 ，。！\n\t@a.bQQ号是:叫王", max_size=60)


@hypothesis_settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(ANY_CHAR, max_size=300), FEEDBACK_LIKE))
def test_any_text_is_stored_cleaned_and_masked_or_refused(client, store, text):
    """Any Unicode text posted to /api/feedback is 201 and reads back cleaned+masked, or a 4xx: never 5xx."""
    raw = json.dumps({"text": text})  # ASCII escapes, so lone surrogates travel too
    response = client.post("/api/feedback", content=raw, headers={"content-type": "application/json"})
    assert response.status_code < 500, response.text
    if response.status_code == 201:
        expected = mask_personal_data(clean_text(text))
        assert store.get(int(response.json()["id"])).text == expected
        assert response.json()["masked"] is (expected != clean_text(text))
    else:
        assert_error(response, 422)
