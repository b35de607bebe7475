"""The term loop in the service and the store: each class gets a feedback link, its answers
are class feedback (ratings and praise never demand), 「下次想学什么」 that asks for something is
a line linked to the class, and each class shows its rating and the demand around it."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from recommender.errors import NotFound, ValidationFailed
from recommender.ranking.class_demand import demand_around
from recommender.ranking.rank import DemandRecord
from recommender.service.class_feedback import parse_rating
from tests.fixtures_organizer import trained_service  # noqa: F401 (fixture)

PHONE = "13812345678"


def _topic_of(service, word: str) -> str:
    """The topic most of the lines containing ``word`` are in."""
    for t in service.topics()["topics"]:
        if any(word in k for k in t["keywords"]) or word in t["label"]:
            return t["topic_id"]
    raise AssertionError(f"no topic about {word}")


def _record(service, topic_id: str, *, held_on: date | None = None, status: str = "held") -> dict:
    return service.record_session(
        actor="tester", topic_id=topic_id, title="消防安全第一课", held_on=held_on or date.today(),
        status=status, instructor="李教官",
    )


def _token(session: dict) -> str:
    return session["feedback_path"].rsplit("/", 1)[1]


# --------------------------------------------------------------------------- pure: demand around a class


def _rec(fid: str, topic: str, day: date, who: str | None) -> DemandRecord:
    return DemandRecord(fid, topic, datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc), who, "居民")


def test_demand_around_counts_distinct_people_before_and_since():
    """30 days before (class day excluded) vs the class day through today; one person twice counts once."""
    held = date(2026, 10, 1)
    records = [
        _rec("1", "T1", held - timedelta(days=1), "a"),
        _rec("2", "T1", held - timedelta(days=5), "a"),
        _rec("3", "T1", held - timedelta(days=30), "b"),
        _rec("4", "T1", held - timedelta(days=31), "c"),  # outside the window
        _rec("5", "T1", held, "d"),
        _rec("6", "T1", held + timedelta(days=3), None),  # no submitter: its own person
        _rec("7", "T2", held, "e"),  # another topic
        _rec("~agg:x", "T1", held, "f"),  # a retention aggregate: no day
        _rec("8", "T1", held + timedelta(days=20), "g"),  # after "today"
    ]
    (around,) = demand_around(records, [("T1", held)], today=held + timedelta(days=10))
    assert (around.before, around.after) == (2, 2)


def test_demand_around_counts_days_in_the_organizers_time_zone():
    """20:00 UTC on 30 September is 04:00 on 1 October in Shanghai: the day of the class."""
    from zoneinfo import ZoneInfo

    held = date(2026, 10, 1)
    late = DemandRecord("1", "T1", datetime(2026, 9, 30, 20, tzinfo=timezone.utc), "a", "居民")
    (utc,) = demand_around([late], [("T1", held)], today=held)
    (local,) = demand_around([late], [("T1", held)], today=held, tz=ZoneInfo("Asia/Shanghai"))
    assert (utc.before, utc.after) == (1, 0)
    assert (local.before, local.after) == (0, 1)


def test_demand_around_a_class_to_come_has_no_after():
    """A class after today: its demand since is 0, whatever was asked before."""
    held = date(2026, 10, 1)
    records = [_rec("1", "T1", held - timedelta(days=2), "a")]
    (around,) = demand_around(records, [("T1", held)], today=held - timedelta(days=1))
    assert (around.before, around.after) == (1, 0)


@pytest.mark.parametrize("value", ["0", "6", "", "五", "3.5", None, True, 2.0, "٣"], ids=repr)
def test_parse_rating_refuses_everything_but_1_to_5(value):
    """Only 1..5 (int or its digits) is a rating; anything else names the field."""
    with pytest.raises(ValidationFailed) as caught:
        parse_rating(value)
    assert caught.value.field == "rating"


def test_parse_rating_takes_form_text_and_json_ints():
    """Form text (spaces around allowed) and JSON ints alike."""
    assert [parse_rating(v) for v in ("1", " 5 ", 3)] == [1, 5, 3]


# --------------------------------------------------------------------------- service and store


def test_a_recorded_class_gets_an_unguessable_link(trained_service):
    """Each class gets its own 22-character token; its outcome starts empty."""
    tid = _topic_of(trained_service, "消防")
    first, second = _record(trained_service, tid), _record(trained_service, tid)
    assert first["feedback_path"].startswith("/class/") and len(_token(first)) == 22
    assert _token(first) != _token(second)
    assert first["rating"] is None and first["responses"] == 0
    assert first["demand_before"] >= 1 and first["demand_after"] == 0
    assert trained_service.open_class(_token(first))["id"] == first["id"]


def test_rating_and_praise_are_class_feedback_not_demand(trained_service):
    """A rating with praise: stored with the class, no feedback line, suggestions unchanged."""
    tid = _topic_of(trained_service, "消防")
    session = _record(trained_service, tid)
    lines_before = trained_service.store.count()
    _, line, receipt = trained_service.respond_to_class(_token(session), "5", "讲得很好，谢谢老师！")
    _, line2, _ = trained_service.respond_to_class(_token(session), 4, "")
    assert line is None and receipt is None and line2 is None
    assert trained_service.store.count() == lines_before
    (kept, _rating_only) = trained_service.store.responses_of(session["id"])[::-1]
    assert kept["text"] == "讲得很好，谢谢老师！" and kept["feedback_id"] is None
    (shown,) = trained_service.sessions(tid)[-1:]
    assert (shown["rating"], shown["responses"]) == (4.5, 2)


def test_support_and_asking_for_more_sessions_are_class_feedback(trained_service):
    """「支持夜校，希望多办几期」 names no subject: kept with the class, no feedback line;
    「希望多办几期太极拳」 asks for 太极拳: a line."""
    session = _record(trained_service, _topic_of(trained_service, "消防"))
    lines_before = trained_service.store.count()
    _, line, receipt = trained_service.respond_to_class(_token(session), 5, "支持夜校，希望多办几期")
    assert line is None and receipt is None and trained_service.store.count() == lines_before
    _, line, receipt = trained_service.respond_to_class(_token(session), 5, "希望多办几期太极拳")
    assert line is not None and receipt


def test_complaints_about_the_room_are_class_feedback(trained_service):
    """「声音太小，后排听不清」 speaks of the class's conditions: kept with the class, no line;
    「希望讲讲投影仪怎么用」 asks for a subject: a line."""
    session = _record(trained_service, _topic_of(trained_service, "消防"))
    lines_before = trained_service.store.count()
    _, line, receipt = trained_service.respond_to_class(_token(session), 3, "声音太小，后排听不清，PPT字太小")
    assert line is None and receipt is None and trained_service.store.count() == lines_before
    assert trained_service.store.responses_of(session["id"])[0]["text"] == "声音太小，后排听不清，PPT字太小"
    _, line, receipt = trained_service.respond_to_class(_token(session), 3, "希望讲讲投影仪怎么用")
    assert line is not None and receipt


def test_what_to_learn_next_is_a_masked_line_linked_to_the_class(trained_service):
    """「下次想学什么」 asking for something: a masked feedback line (source class) with a receipt."""
    tid = _topic_of(trained_service, "消防")
    session = _record(trained_service, tid)
    _, line, receipt = trained_service.respond_to_class(
        _token(session), 3, f"下次想学急救和心肺复苏，我的电话{PHONE}"
    )
    assert line is not None and receipt
    assert PHONE not in line.text and "[手机号]" in line.text
    assert line.source == "class" and line.session_id.endswith("消防安全第一课")
    (answer,) = trained_service.store.responses_of(session["id"])
    assert answer["feedback_id"] == line.id and answer["text"] is None and answer["rating"] == 3
    assert trained_service.find_receipt(receipt).id == line.id


def test_bad_answers_store_nothing(trained_service):
    """A bad rating, an unknown link or a cancelled class: an error, nothing stored."""
    tid = _topic_of(trained_service, "消防")
    session = _record(trained_service, tid)
    lines = trained_service.store.count()
    with pytest.raises(ValidationFailed):
        trained_service.respond_to_class(_token(session), "9", "下次想学急救")
    with pytest.raises(ValidationFailed):
        trained_service.respond_to_class(_token(session), "5", "x" * 5000)
    with pytest.raises(NotFound):
        trained_service.respond_to_class("A" * 22, "5", "")
    with pytest.raises(NotFound):
        trained_service.open_class("../../etc")
    cancelled = _record(trained_service, tid, status="cancelled")
    with pytest.raises(NotFound):
        trained_service.respond_to_class(_token(cancelled), "5", "")
    assert trained_service.store.count() == lines
    assert trained_service.store.responses_of(session["id"]) == []


def test_demand_before_a_class_counts_its_topics_people(trained_service):
    """Held today: the topic's people of the last 30 days are its demand before."""
    tid = _topic_of(trained_service, "消防")
    session = _record(trained_service, tid, held_on=date.today() + timedelta(days=1), status="planned")
    served = trained_service.served()
    day = datetime.now(timezone.utc).date()
    members, _ = trained_service.store.topic_members(served.version, tid, limit=1000)
    expected = {m.submitter_hash for m in members if day - timedelta(days=29) <= m.submitted_at.date() <= day}
    assert session["demand_before"] == len(expected)


def test_a_receipt_shows_its_topic_and_the_classes_on_it(trained_service):
    """The outcome of a line: its topic's label and the planned or held classes (not cancelled)."""
    draft = trained_service.draft("想学消防安全和灭火器使用", source="api")
    row, code = trained_service.submit_with_receipt(draft)
    trained_service.assign_pending()
    tid = trained_service.request_outcome(trained_service.find_receipt(code))["topic_id"]
    assert tid is not None
    _record(trained_service, tid, held_on=date(2026, 12, 20), status="planned")
    _record(trained_service, tid, status="cancelled")
    outcome = trained_service.request_outcome(trained_service.find_receipt(code))
    assert outcome["label"] == trained_service.topic(tid)["label"]
    assert [(c["date"], c["status"]) for c in outcome["classes"]] == [("2026-12-20", "planned")]


def test_a_receipt_in_no_topic_says_so(trained_service):
    """A line that fits no topic: no topic, no classes."""
    row, code = trained_service.submit_with_receipt(trained_service.draft("周末想学做木工家具", source="api"))
    trained_service.assign_pending()
    outcome = trained_service.request_outcome(trained_service.find_receipt(code))
    assert outcome == {"topic_id": None, "label": None, "classes": []}


def test_retention_clears_praise_kept_with_a_class(trained_service):
    """A purge clears the praise text of answers older than its cutoff; the rating stays."""
    tid = _topic_of(trained_service, "消防")
    session = _record(trained_service, tid)
    trained_service.respond_to_class(_token(session), 5, "讲得很好，谢谢老师")
    trained_service.store.purge(datetime.now(timezone.utc) - timedelta(days=1), None)
    assert trained_service.store.responses_of(session["id"])[0]["text"] == "讲得很好，谢谢老师"
    trained_service.store.purge(datetime.now(timezone.utc) + timedelta(seconds=1), None)
    (answer,) = trained_service.store.responses_of(session["id"])
    assert answer["text"] is None and answer["rating"] == 5


def test_migration_0006_gives_earlier_classes_a_link(settings):
    """Classes recorded before 0006 get distinct feedback tokens; the answers table starts empty."""
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
            command.upgrade(config, "0004")
        with store.engine.begin() as conn:
            for title in ("消防课", "反诈课"):
                conn.execute(text(
                    "INSERT INTO class_sessions (topic_id, title, held_on, status, created_at) "
                    "VALUES ('T0001', :title, '2026-01-01', 'held', '2026-01-01 00:00:00')"
                ), {"title": title})
        store.migrate()
        tokens = [row["feedback_token"] for row in store.list_sessions()]
        assert len(set(tokens)) == 2 and all(len(t) == 22 for t in tokens)
        assert store.session_by_token(tokens[0])["title"] == "消防课"
        assert store.class_ratings() == {}
    finally:
        store.dispose()
