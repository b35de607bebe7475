"""Moderation: hide and restore (API and dashboard), flagged intake, the audit log."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone

import pytest

from recommender.door.screening import RecentLine, ScreeningRules, normalise_text, screen
from recommender.store import NewFeedback
from tests.fixtures_organizer import trained_client, trained_service  # noqa: F401  (fixtures)
from tests.helpers import assert_error, parse_html

AUTH = {"Authorization": "Bearer test-organizer-token"}


def _line_with_text(service, text: str) -> int:
    return next(r.id for r in service.store.iter_feedback() if r.text == text)


def _top(client) -> dict:
    return client.get("/api/suggestions?top=10", headers=AUTH).json()["suggestions"][0]


# --------------------------------------------------------------------------- pure rules


def _recent(i, text, client=None, submitter=None, status="visible"):
    return RecentLine(i, text, client, submitter, status, datetime.now(timezone.utc))


def test_screen_flags_a_burst_from_one_client_and_the_lines_before_it():
    """More than burst_max_lines from one client in the window: the new line and the earlier visible ones are flagged."""
    rules = ScreeningRules(burst_max_lines=3, duplicate_min_submitters=0)
    recent = [_recent(i, f"第{i}条", client="c1") for i in range(1, 4)] + [_recent(9, "别人", client="c2")]
    verdict = screen(text="又一条", client_key="c1", submitter_hash=None, fill_seconds=None, recent=recent, rules=rules)
    assert verdict.flag_reason == "burst" and verdict.also_flag == (1, 2, 3)
    calm = screen(text="x", client_key="c1", submitter_hash=None, fill_seconds=None, recent=recent[:2], rules=rules)
    assert calm.flag_reason is None


def test_screen_flags_identical_text_from_many_people_but_not_one_person_repeating():
    """Identical normalised text from K distinct people is flagged; one client sending it twice is not K people."""
    rules = ScreeningRules(burst_max_lines=0, duplicate_min_submitters=3)
    same = [_recent(1, "想学 公文写作！", client="a"), _recent(2, "想学公文写作", client="b")]
    verdict = screen(text="想学公文写作。", client_key="c", submitter_hash=None, fill_seconds=None, recent=same, rules=rules)
    assert verdict.flag_reason == "duplicate" and set(verdict.also_flag) == {1, 2}
    one_person = [_recent(1, "想学公文写作", client="a"), _recent(2, "想学公文写作", client="a")]
    assert screen(text="想学公文写作", client_key="a", submitter_hash=None, fill_seconds=None,
                  recent=one_person, rules=rules).flag_reason is None
    assert normalise_text("Ａ b，Ｃ!") == "abc"


def test_screen_marks_an_anonymous_double_submit_as_a_repeat():
    """The same client sending the same text again within two minutes (a double click, a form
    posted again on reload) repeats its first line; another client, another text, a named
    submitter or a line older than two minutes does not."""
    rules = ScreeningRules(burst_max_lines=0, duplicate_min_submitters=0)
    now = datetime.now(timezone.utc)
    first = [_recent(-1, "希望开一个太极拳班！", client="a"), _recent(-2, "希望开一个太极拳班", client="a")]

    def verdict(text="希望开一个 太极拳班", client="a", submitter=None, recent=first, at=now):
        return screen(text=text, client_key=client, submitter_hash=submitter, fill_seconds=None,
                      recent=recent, rules=rules, now=at).repeat_of

    assert verdict() == -1
    assert verdict(client="b") is None and verdict(text="希望开一个八段锦班") is None
    assert verdict(submitter="s1") is None
    assert verdict(at=now + timedelta(minutes=3)) is None
    assert verdict(recent=[_recent(7, "希望开一个太极拳班", client="a", status="hidden")]) is None


def test_a_double_submitted_form_counts_once(client, service):
    """Two posts of the same form from one browser store two lines (nothing is dropped), the
    second a repeat of the first, so the topic's people count them once; the API says so."""
    form = {"text": "希望开一个太极拳班", "segment": "居民", "session_id": ""}
    for _ in range(2):
        assert client.post("/feedback", data=form, follow_redirects=False).status_code == 303
    first, second = sorted(service.store.iter_feedback(), key=lambda r: r.id)
    assert (first.repeat_of, second.repeat_of) == (None, first.id)
    assert client.post("/api/feedback", json={"text": "希望开一个太极拳班。"}).json()["is_repeat"] is True
    assert client.post("/api/feedback", json={"text": "希望开一个八段锦班"}).json()["is_repeat"] is False
    other = client.post("/api/feedback", json={"text": "希望开一个太极拳班"}, headers={"User-Agent": "phone-b"})
    assert other.json()["is_repeat"] is False


def test_screen_flags_questionnaire_rows_filled_too_fast():
    """A row filled in fewer than min_fill_seconds is flagged; no fill time, no verdict."""
    rules = ScreeningRules(burst_max_lines=0, duplicate_min_submitters=0, min_fill_seconds=10)
    assert screen(text="x", client_key=None, submitter_hash=None, fill_seconds=3, recent=[], rules=rules).flag_reason == "too_fast"
    assert screen(text="x", client_key=None, submitter_hash=None, fill_seconds=None, recent=[], rules=rules).flag_reason is None


# --------------------------------------------------------------------------- store (both backends)


def test_store_hide_restore_and_audit_in_one_transaction(store):
    """set_status changes the status, writes the audit entry and bumps the moderation stamp."""
    now = datetime.now(timezone.utc)
    fid = store.add(NewFeedback(text="想学公文写作", segment="居民", submitted_at=now, source="api")).id
    stamp = store.moderation_stamp()
    row = store.set_status(fid, "hidden", allowed_from=("visible",), actor="alice", action="hide", reason="spam")
    assert row.status == "hidden" and row.moderation_reason == "spam"
    assert store.moderation_stamp() == stamp + 1
    assert store.set_status(fid, "hidden", allowed_from=("visible",), actor="alice", action="hide") is None
    assert [r.id for r in store.iter_feedback(statuses=("visible",))] == []
    entries, total = store.audit_entries()
    assert total == 1 and entries[0]["actor"] == "alice" and entries[0]["action"] == "hide"
    assert entries[0]["target"] == str(fid) and entries[0]["at"].tzinfo is not None


def test_store_flags_a_burst_at_intake(store):
    """add() with a screener flags the new line and the earlier ones of the burst in the same transaction."""
    now = datetime.now(timezone.utc)
    rules = ScreeningRules(burst_max_lines=2, duplicate_min_submitters=0)
    ids = []
    for i in range(3):
        item = NewFeedback(text=f"第{i}条反馈内容", segment="居民", submitted_at=now, source="api", client_key="k1")
        stored = store.add(
            item,
            screener=lambda recent, item=item: screen(text=item.text, client_key="k1", submitter_hash=None,
                                                      fill_seconds=None, recent=recent, rules=rules),
            screen_window=timedelta(minutes=10),
        )
        ids.append(stored.id)
    statuses = [store.get(i).status for i in ids]
    assert statuses == ["flagged", "flagged", "flagged"]
    assert store.get(ids[0]).flag_reason == "burst"
    flagged, total = store.by_status("flagged")
    assert total == 3 and {r.id for r in flagged} == set(ids)


# --------------------------------------------------------------------------- API


def test_hide_removes_a_line_from_suggestions_quotes_topic_and_export_at_once(trained_client, trained_service):
    """Hiding a quoted line: gone from the quotes, the topic's members, its export and the counts; restore brings it back."""
    top = _top(trained_client)
    quote = top["examples"][0]
    fid = _line_with_text(trained_service, quote)
    before_count = top["feedback_count"]

    response = trained_client.post(f"/api/feedback/{fid}/hide", json={"reason": "abuse", "note": "人身攻击的话"}, headers=AUTH)
    assert response.status_code == 200 and response.json()["status"] == "hidden"

    after = next(s for s in trained_client.get("/api/suggestions?top=10", headers=AUTH).json()["suggestions"]
                 if s["topic_id"] == top["topic_id"])
    assert quote not in after["examples"]
    assert after["feedback_count"] == before_count - 1
    assert str(fid) not in after["feedback_ids"]
    topic = trained_client.get(f"/api/topics/{top['topic_id']}?per_page=200", headers=AUTH).json()
    assert quote not in [m["text"] for m in topic["members"]["items"]]
    assert quote not in topic["examples"]
    export = trained_client.get(f"/api/topics/{top['topic_id']}/export?format=csv", headers=AUTH)
    assert quote not in export.content.decode("utf-8-sig")
    suggestions_export = trained_client.get("/api/suggestions/export?format=csv&top=10", headers=AUTH)
    assert quote not in suggestions_export.content.decode("utf-8-sig")

    hidden = trained_client.get("/api/moderation/hidden", headers=AUTH).json()
    assert [i["id"] for i in hidden["items"]] == [fid] and hidden["items"][0]["moderation_reason"].startswith("abuse")

    assert trained_client.post(f"/api/feedback/{fid}/restore", headers=AUTH).json()["status"] == "visible"
    again = next(s for s in trained_client.get("/api/suggestions?top=10", headers=AUTH).json()["suggestions"]
                 if s["topic_id"] == top["topic_id"])
    assert again["feedback_count"] == before_count and quote in again["examples"]


def test_hide_validates_reason_and_id(trained_client):
    """An unknown reason is 422, an unknown line 404, restoring a visible line 404; all in the error shape."""
    assert_error(trained_client.post("/api/feedback/1/hide", json={"reason": "boring"}, headers=AUTH), 422)
    assert_error(trained_client.post("/api/feedback/999999/hide", json={"reason": "spam"}, headers=AUTH), 404, "not_found")
    visible = assert_error(trained_client.post("/api/feedback/1/restore", headers=AUTH), 404, "not_found")
    # In one language: what can be restored, not the statuses in English ("hidden or flagged").
    assert visible["error"]["message"] == "没有编号为 1 的反馈，或它不是可以这样操作的状态（只能恢复已隐藏或待审核的反馈）"
    assert_error(trained_client.post("/api/feedback/1/hide", json={"reason": "spam"}), 401)


def test_other_worker_drops_a_hidden_line_within_a_second(trained_service, settings):
    """A second service on the same database (another worker) stops counting a line hidden by the first."""
    import time

    from recommender.service import RecommenderService

    other = RecommenderService(settings)
    other.start()
    try:
        top = other.suggestions(top=10)["suggestions"][0]
        fid = _line_with_text(trained_service, top["examples"][0])
        trained_service.hide(fid, "spam", actor="alice")
        time.sleep(1.1)
        after = next(s for s in other.suggestions(top=10)["suggestions"] if s["topic_id"] == top["topic_id"])
        assert after["feedback_count"] == top["feedback_count"] - 1
        assert top["examples"][0] not in after["examples"]
    finally:
        other.close()


def test_hidden_lines_are_not_trained_on(trained_service, settings):
    """A retrain reads only visible lines."""
    from recommender.retrain.pipeline import train_from_store

    fid = next(r.id for r in trained_service.store.iter_feedback())
    trained_service.hide(fid, "off_topic", actor="alice")
    total = trained_service.store.count()
    result = train_from_store(trained_service.store, settings, progress=False, actor="console")
    assert result.n_rows == total - 1
    entries, _ = trained_service.store.audit_entries(action="retrain")
    assert entries[0]["actor"] == "console" and entries[0]["target"] == result.version


# --------------------------------------------------------------------------- flagged intake through the API


@pytest.fixture
def flagging_client(settings, store):
    """A client whose settings flag bursts above 3 lines and identical text from 3 people."""
    from fastapi.testclient import TestClient

    from recommender.service import RecommenderService
    from recommender.web.app import create_app

    strict = settings.model_copy(update={"flag_burst_lines": 3, "flag_duplicate_submitters": 3})
    svc = RecommenderService(strict, store=store)
    with TestClient(create_app(strict, svc)) as client:
        yield client


def test_burst_from_one_client_goes_to_the_review_list(flagging_client):
    """The 4th line from one client within minutes flags all four; an organizer restores one."""
    ids = [flagging_client.post("/api/feedback", json={"text": f"想学第{i}种技能"}).json()["id"] for i in range(4)]
    flagged = flagging_client.get("/api/moderation/flagged", headers=AUTH).json()
    assert flagged["total"] == 4 and {str(i["id"]) for i in flagged["items"]} == set(ids)
    assert {i["flag_reason"] for i in flagged["items"]} == {"burst"}
    assert flagging_client.post(f"/api/feedback/{ids[0]}/restore", headers=AUTH).json()["status"] == "visible"
    assert flagging_client.get("/api/moderation/flagged", headers=AUTH).json()["total"] == 3


def test_identical_text_from_many_people_is_flagged(flagging_client):
    """The same text from three different browsers within minutes is flagged."""
    for agent in ("phone-a", "phone-b", "phone-c"):
        flagging_client.post("/api/feedback", json={"text": "请开设理财课"}, headers={"User-Agent": agent})
    flagged = flagging_client.get("/api/moderation/flagged", headers=AUTH).json()
    assert flagged["total"] == 3 and {i["flag_reason"] for i in flagged["items"]} == {"duplicate"}


# --------------------------------------------------------------------------- audit log and actors


def test_every_organizer_action_is_audited_with_who(trained_client, trained_service, monkeypatch):
    """hide, restore, rename and plan_class through the API land in /api/audit, newest first, with the actor."""
    fid = next(r.id for r in trained_service.store.iter_feedback())
    topic_id = _top(trained_client)["topic_id"]
    trained_client.post(f"/api/feedback/{fid}/hide", json={"reason": "spam"}, headers=AUTH)
    trained_client.post(f"/api/feedback/{fid}/restore", headers=AUTH)
    trained_client.patch(f"/api/topics/{topic_id}", json={"label": "消防课"}, headers=AUTH)
    trained_client.post("/api/sessions", json={"topic_id": topic_id, "title": "消防课", "date": "2026-12-01",
                                               "status": "planned"}, headers=AUTH)
    audit = trained_client.get("/api/audit", headers=AUTH).json()
    assert [e["action"] for e in audit["items"]] == ["plan_class", "rename", "restore", "hide"]
    actors = {e["actor"] for e in audit["items"]}
    assert len(actors) == 1 and re.fullmatch(r"organizer-[0-9a-f]{4}", actors.pop())
    assert audit["items"][3]["target"] == str(fid) and audit["items"][3]["detail"]["reason"] == "spam"
    assert "test-organizer-token" not in str(audit)


def test_named_tokens_name_the_actor(settings, store):
    """RECOMMENDER_ORGANIZER_TOKENS entries name:token put the name in the audit log (plain tokens still work)."""
    from fastapi.testclient import TestClient

    from recommender.service import RecommenderService
    from recommender.web.app import create_app

    named = settings.model_copy(update={"organizer_tokens": "王老师:tok-wang-0123456789, tok-plain-0123456789"})
    assert named.organizer_token_list == ["tok-wang-0123456789", "tok-plain-0123456789"]
    svc = RecommenderService(named, store=store)
    with TestClient(create_app(named, svc)) as client:
        fid = client.post("/api/feedback", json={"text": "想学剪纸"}).json()["id"]
        ok = client.post(f"/api/feedback/{fid}/hide", json={"reason": "other"}, headers={"Authorization": "Bearer tok-wang-0123456789"})
        assert ok.status_code == 200
        client.post(f"/api/feedback/{fid}/restore", headers={"Authorization": "Bearer tok-plain-0123456789"})
        assert client.get("/api/suggestions", headers={"Authorization": "Bearer name:tok-wang-0123456789"}).status_code == 401
        items = client.get("/api/audit", headers={"Authorization": "Bearer tok-wang-0123456789"}).json()["items"]
    assert items[1]["actor"] == "王老师" and items[0]["actor"].startswith("organizer-")


def test_cli_rollback_and_train_are_audited_as_console(trained_service, settings, monkeypatch, capsys):
    """`recommender models rollback` and `train` write console entries (console without a terminal)."""
    from recommender import cli
    from recommender.retrain.registry import ModelRegistry

    monkeypatch.setenv("RECOMMENDER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RECOMMENDER_MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("RECOMMENDER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("RECOMMENDER_ORGANIZER_TOKENS", "test-organizer-token")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    from recommender.config import get_settings

    get_settings.cache_clear()
    version = ModelRegistry(settings.models_dir).current_version()
    assert cli.main(["-q", "models", "rollback", version]) == 0
    entries, _ = trained_service.store.audit_entries()
    assert entries[0]["action"] == "rollback" and entries[0]["actor"] == "console" and entries[0]["target"] == version


# --------------------------------------------------------------------------- dashboard


def _login(client) -> None:
    client.post("/organizer/login", data={"token": "test-organizer-token", "next": "/organizer"}, follow_redirects=False)


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_dashboard_hide_on_topic_page_and_restore_from_hidden_list(trained_client, trained_service):
    """Topic page hide form (CSRF) hides a line; the dashboard lists it under 已隐藏 with a restore button and the audit log."""
    _login(trained_client)
    top = _top(trained_client)
    quote = top["examples"][0]
    fid = _line_with_text(trained_service, quote)
    page = trained_client.get(f"/organizer/topics/{top['topic_id']}?page=1")
    assert page.status_code == 200
    html = parse_html(page.text)
    item = html.find("li", **{"data-feedback-id": str(fid)})
    if item is None:  # the line is on a later page: the form is the same everywhere
        pytest.skip("quoted line not on the first page")
    form = item.find("form", class_="hide-form")
    assert form.get("action") == f"/organizer/feedback/{fid}/hide"

    no_csrf = trained_client.post(form.get("action"), data={"reason": "spam"}, follow_redirects=False)
    assert no_csrf.status_code == 403
    done = trained_client.post(
        form.get("action"),
        data={"csrf_token": _csrf(page.text), "reason": "personal_attack", "note": "点名批评",
              "return_to": f"/organizer/topics/{top['topic_id']}"},
        follow_redirects=True,
    )
    assert "已隐藏" in parse_html(done.text).find(class_="flash").text

    dash = trained_client.get("/organizer?top=10")
    tree = parse_html(dash.text)
    quotes = [b.text for b in tree.find_all("blockquote")]
    assert quote not in quotes
    hidden = tree.by_id("hidden")
    assert quote in hidden.text and "人身攻击" in hidden.text and "点名批评" in hidden.text
    restore = hidden.find("form", class_="restore-form")
    audit = tree.by_id("audit")
    assert "隐藏反馈" in audit.text and str(fid) in audit.text

    trained_client.post(restore.get("action"), data={"csrf_token": _csrf(dash.text), "return_to": "/organizer"})
    again = parse_html(trained_client.get("/organizer?top=10").text)
    assert quote in [b.text for b in again.find_all("blockquote")]
    assert "恢复反馈" in again.by_id("audit").text


def test_dashboard_review_list_shows_flagged_lines(flagging_client):
    """Flagged lines appear in 待审核 with 计入 and 隐藏 forms."""
    for i in range(4):
        flagging_client.post("/api/feedback", json={"text": f"想学第{i}种技能"})
    _login(flagging_client)
    tree = parse_html(flagging_client.get("/organizer").text)
    review = tree.by_id("flagged")
    assert len(review.find_all("li")) == 4
    assert "同一客户端短时间内提交多条" in review.text
    assert review.find("form", class_="restore-form") is not None and review.find("form", class_="hide-form") is not None
