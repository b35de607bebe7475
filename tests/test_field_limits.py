"""Every field a person types is masked, fits its column and never reaches the database with a
NUL: the API, the dashboard forms and the service agree on both databases (422, never a 500)."""

from __future__ import annotations

import json

import pytest

from recommender.door.screening import HIDE_REASONS
from recommender.service.moderation import MAX_NOTE
from recommender.service.planning import MAX_LABEL, MAX_PERSON, MAX_TITLE
from recommender.store import TEXT_LIMITS
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401 (fixtures)
from tests.helpers import assert_error

PHONE = "13812345678"


def _top_topic(client, headers) -> str:
    return client.get("/api/topics", headers=headers).json()["topics"][0]["topic_id"]


def _member(client, headers, topic_id: str) -> dict:
    return client.get(f"/api/topics/{topic_id}?per_page=1", headers=headers).json()["members"]["items"][0]


# --------------------------------------------------------------------------- item 1: masking


def test_session_id_of_the_form_is_masked(trained_client, trained_service, organizer_headers):
    """POST /feedback with session_id `13812345678 张三丰`: the number is masked in the store and in
    GET /api/topics/{id}, as it would be in the text."""
    response = trained_client.post(
        "/feedback",
        data={"text": "灭火器怎么正确使用，想学消防安全", "session_id": f"{PHONE} 张三丰"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    stored = [r for r in trained_service.store.iter_feedback() if r.session_id and "张三丰" in r.session_id]
    assert [r.session_id for r in stored] == ["[手机号] 张三丰"]
    trained_service.assign_pending()
    topics = trained_client.get("/api/topics", headers=organizer_headers).json()["topics"]
    pages = [trained_client.get(f"/api/topics/{t['topic_id']}?per_page=200", headers=organizer_headers).text for t in topics]
    assert PHONE not in "".join(pages)


def test_session_id_of_the_api_is_masked(client, service):
    """POST /api/feedback: the session field goes through the same masking (e-mail, ID number, cued name)."""
    body = {"text": "想学公文写作", "session_id": "我叫王小明 a@b.cn 110101199003077777"}
    assert client.post("/api/feedback", json=body).status_code == 201
    (row,) = list(service.store.iter_feedback())
    assert row.session_id == "我叫[姓名] [邮箱] [身份证号]"


def test_organizer_texts_are_masked(trained_client, trained_service, organizer_headers):
    """Labels, class titles, instructors, departments and hiding notes are masked too (store and audit log)."""
    tid = _top_topic(trained_client, organizer_headers)
    renamed = trained_client.patch(f"/api/topics/{tid}", json={"label": f"消防{PHONE}"}, headers=organizer_headers)
    assert renamed.json()["label"] == "消防[手机号]"
    session = trained_client.post(
        "/api/sessions",
        json={"topic_id": tid, "title": f"消防课 联系{PHONE}", "date": "2026-05-01", "status": "planned",
              "instructor": f"王老师 {PHONE}", "department": "街道办 a@b.cn"},
        headers=organizer_headers,
    ).json()
    assert (session["title"], session["instructor"], session["department"]) == (
        "消防课 联系[手机号]", "王老师 [手机号]", "街道办 [邮箱]")
    fid = _member(trained_client, organizer_headers, tid)["feedback_id"]
    hidden = trained_client.post(
        f"/api/feedback/{fid}/hide", json={"reason": "other", "note": f"电话{PHONE}"}, headers=organizer_headers
    )
    assert hidden.json()["moderation_reason"] == "other: 电话[手机号]"
    audit = json.dumps(trained_client.get("/api/audit?per_page=50", headers=organizer_headers).json(), ensure_ascii=False)
    assert PHONE not in audit and "a@b.cn" not in audit


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_an_id_column_holding_phone_numbers_is_kept_only_as_a_hash(service, tmp_path):
    """An import whose id column is a phone number stores a keyed hash instead; re-importing it
    still finds the rows (nothing twice)."""
    rows = [
        service.draft("想学公文写作", external_id=PHONE, source="import:x.csv"),
        service.draft("想学做表格", external_id="row-2", source="import:x.csv"),
    ]
    first, _ = service.store_batch(rows)
    again, duplicates = service.store_batch(rows)
    stored = {r.text: r.external_id for r in service.store.iter_feedback()}
    assert stored["想学做表格"] == "row-2"
    assert stored["想学公文写作"].startswith("pii-") and PHONE not in stored["想学公文写作"]
    assert len(first) == 2 and again == [] and duplicates == 2


# --------------------------------------------------------------------------- item 3: limits and NUL


def test_every_limit_fits_its_column():
    """The longest accepted value of each organizer field fits the column it is stored in."""
    assert MAX_TITLE <= TEXT_LIMITS["session_title"]
    assert MAX_PERSON <= TEXT_LIMITS["session_instructor"] and MAX_PERSON <= TEXT_LIMITS["session_department"]
    assert MAX_LABEL <= TEXT_LIMITS["topic_label"]
    assert max(len(r) for r in HIDE_REASONS) + len(": ") + MAX_NOTE <= TEXT_LIMITS["moderation_reason"]


def test_longest_accepted_values_are_stored_and_one_more_is_422(trained_client, organizer_headers):
    """At each documented maximum the write succeeds (PostgreSQL too); one character more is 422."""
    tid = _top_topic(trained_client, organizer_headers)
    fid = _member(trained_client, organizer_headers, tid)["feedback_id"]
    longest = {"topic_id": tid, "title": "课" * MAX_TITLE, "date": "2026-05-01", "status": "held",
               "instructor": "王" * MAX_PERSON, "department": "办" * MAX_PERSON}
    assert trained_client.post("/api/sessions", json=longest, headers=organizer_headers).status_code == 201
    for field, value in (("title", "课" * (MAX_TITLE + 1)), ("instructor", "王" * (MAX_PERSON + 1)),
                         ("department", "办" * 150)):
        assert_error(trained_client.post("/api/sessions", json={**longest, field: value}, headers=organizer_headers), 422)
    note = trained_client.post(
        f"/api/feedback/{fid}/hide", json={"reason": "personal_attack", "note": "注" * MAX_NOTE}, headers=organizer_headers
    )
    assert note.status_code == 200
    trained_client.post(f"/api/feedback/{fid}/restore", headers=organizer_headers)
    assert_error(trained_client.post(f"/api/feedback/{fid}/hide", json={"reason": "other", "note": "注" * 195},
                                     headers=organizer_headers), 422)
    assert trained_client.patch(f"/api/topics/{tid}", json={"label": "名" * MAX_LABEL}, headers=organizer_headers).status_code == 200


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("PATCH", "/api/topics/%00", {"label": "x"}),
        ("GET", "/api/topics/%00", None),
        ("GET", "/api/topics/%00/export", None),
        ("PATCH", "/api/topics/T0001%00", {"label": "x"}),
        ("PATCH", "/api/topics/{tid}", {"label": "夜校\x00专题"}),
        ("POST", "/api/sessions", {"topic_id": "T\x000", "title": "x", "date": "2026-05-01", "status": "held"}),
        ("POST", "/api/sessions", {"topic_id": "{tid}", "title": "消防\x00课", "date": "2026-05-01", "status": "held",
                                   "instructor": "\x00", "department": "街\x00道"}),
        ("POST", "/api/feedback/{fid}/hide", {"reason": "other", "note": "\x00备注"}),
    ],
    ids=["patch-nul-id", "get-nul-id", "export-nul-id", "patch-id-with-nul", "nul-label", "nul-topic-id-in-body",
         "nul-title", "nul-note"],
)
def test_a_nul_anywhere_is_never_a_500(trained_client, organizer_headers, method, path, body):
    """A NUL in a path id or a text field: 2xx, 404 or 422 on both databases, never a 500."""
    tid = _top_topic(trained_client, organizer_headers)
    fid = _member(trained_client, organizer_headers, tid)["feedback_id"]
    path = path.format(tid=tid, fid=fid)
    if body is not None:
        body = json.loads(json.dumps(body).replace("{tid}", tid))
    response = trained_client.request(method, path, json=body, headers=organizer_headers)
    assert response.status_code in (200, 201, 404, 422), (response.status_code, response.text[:300])
    if response.status_code >= 400:
        assert_error(response, response.status_code)
    else:
        assert "\x00" not in response.text and "\\u0000" not in response.text


def _dashboard(client) -> str:
    from tests.conftest import ORGANIZER_TOKEN

    client.post("/organizer/login", data={"token": ORGANIZER_TOKEN, "next": "/organizer"}, follow_redirects=False)
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/organizer").text).group(1)


def test_dashboard_forms_refuse_nul_and_overlong_values_without_a_500(trained_client, organizer_headers):
    """The dashboard's rename, plan-a-class and hide forms: NULs cleaned, long values an error
    message (303 with a flash), never a 500 — on both databases."""
    tid = _top_topic(trained_client, organizer_headers)
    fid = _member(trained_client, organizer_headers, tid)["feedback_id"]
    csrf = _dashboard(trained_client)
    posts = [
        ("/organizer/topics/%00/label", {"label": "x"}),
        (f"/organizer/topics/{tid}/label", {"label": "消防\x00"}),
        ("/organizer/sessions", {"topic_id": tid, "title": "课\x00", "date": "2026-05-01", "status": "held",
                                 "instructor": "王" * 150, "department": "办" * 150}),
        ("/organizer/sessions", {"topic_id": "\x00", "title": "课", "date": "2026-05-01", "status": "held"}),
        (f"/organizer/feedback/{fid}/hide", {"reason": "personal_attack", "note": "注" * 195}),
        (f"/organizer/feedback/{fid}/hide", {"reason": "other", "note": "注\x00"}),
    ]
    for path, form in posts:
        response = trained_client.post(path, data={**form, "csrf_token": csrf}, follow_redirects=False)
        assert response.status_code in (303, 404), (path, response.status_code, response.text[:300])


def test_migration_masks_what_was_stored_before(settings):
    """Migration 0003 masks the personal data typed before every field was masked (class attended,
    organizer texts, their audit copies) and drops the text hash of withdrawn lines."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from recommender.store import FeedbackStore
    from recommender.store.engine import MIGRATIONS_DIR

    store = FeedbackStore(settings.database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with store.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
        with store.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO feedback (source, text, submitted_at, received_at, segment, session_id, votes, status, text_key) "
                "VALUES ('form', '想学', '2026-01-01 00:00:00', '2026-01-01 00:00:00', '其他', :sid, 0, 'visible', 'k1'), "
                "('form', '', '2026-01-01 00:00:00', '2026-01-01 00:00:00', '其他', NULL, 0, 'withdrawn', 'k2')"
            ), {"sid": f"{PHONE} 张三丰"})
            conn.execute(text(
                "INSERT INTO class_sessions (topic_id, title, held_on, status, instructor, department, created_at) "
                "VALUES ('T0001', :title, '2026-01-01', 'held', :who, NULL, '2026-01-01 00:00:00')"
            ), {"title": f"课 {PHONE}", "who": "a@b.cn"})
            conn.execute(text(
                "INSERT INTO audit_log (at, actor, action, target, detail) VALUES ('2026-01-01 00:00:00', 'x', 'plan_class', 'T0001', :d)"
            ), {"d": json.dumps({"title": f"课 {PHONE}"}, ensure_ascii=False)})
        store.migrate()
        with store.engine.connect() as conn:
            assert [r[0] for r in conn.execute(text("SELECT session_id FROM feedback ORDER BY id"))] == ["[手机号] 张三丰", None]
            assert conn.execute(text("SELECT title, instructor FROM class_sessions")).one() == ("课 [手机号]", "[邮箱]")
            assert PHONE not in conn.execute(text("SELECT detail FROM audit_log")).scalar()
            assert [r[0] for r in conn.execute(text("SELECT text_key FROM feedback ORDER BY id"))] == ["k1", None]
    finally:
        store.dispose()
