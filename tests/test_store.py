"""FeedbackStore on SQLite and PostgreSQL: feedback, dedupe, time zones, token cache, assignments,
topics, class sessions, migrations and SQLite connection settings."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from recommender.store import FeedbackStore, NewFeedback
from recommender.store.feedback_store import MIGRATIONS_DIR, SQLITE_BUSY_TIMEOUT_MS
from recommender.store.schema import metadata

T0 = datetime(2024, 5, 1, 11, 30, 15, 123456, tzinfo=timezone.utc)


def item(text="想学公文写作", *, at=T0, source="api", external_id=None, submitter=None, segment="居民", **kw):
    """A NewFeedback with sensible defaults."""
    return NewFeedback(
        text=text,
        segment=segment,
        submitted_at=at,
        source=source,
        external_id=external_id,
        submitter_hash=submitter,
        **kw,
    )


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


# ---------------------------------------------------------------------------- feedback
def test_add_then_get_round_trips_every_field(store):
    """add() stores every field and get() returns it as stored, with received_at set now."""
    before = datetime.now(timezone.utc)
    stored = store.add(
        item("想学智能手机用法", session_id="S1", submitter="h" * 32, votes=3, external_id="x1", source="import:a.csv")
    )
    after = datetime.now(timezone.utc)
    assert stored.id > 0
    got = store.get(stored.id)
    assert got == stored
    assert (got.text, got.segment, got.session_id, got.submitter_hash, got.votes) == (
        "想学智能手机用法", "居民", "S1", "h" * 32, 3
    )
    assert (got.source, got.external_id, got.public_id, got.is_repeat) == ("import:a.csv", "x1", "x1", False)
    assert before - timedelta(seconds=1) <= got.received_at <= after + timedelta(seconds=1)
    assert store.get(stored.id + 1000) is None
    assert store.count() == 1


def test_public_id_is_own_id_without_external_id(store):
    """Without an external id the public id is the store's own id as a string."""
    stored = store.add(item())
    assert stored.public_id == str(stored.id)


def test_add_with_assignment_stores_both(store):
    """add(assignment=…) writes the line and its topic assignment together."""
    stored = store.add(item(), assignment=("v1", "T0001", 0.75))
    rows = list(store.assignment_rows("v1"))
    assert [(r.id, t, s) for r, t, s in rows] == [(stored.id, "T0001", 0.75)]


def test_text_round_trips_unchanged(store):
    """Any text (CJK extension B, emoji, quotes, long) comes back exactly as stored."""
    texts = ["𠀀𪚥 字", "想学😀做表格", "'; DROP TABLE feedback; --", "学" * 2000, "a\\b%_"]
    ids = [store.add(item(t)).id for t in texts]
    assert [store.get(i).text for i in ids] == texts


def test_add_many_skips_duplicates_of_source_and_external_id(store):
    """add_many returns None for (source, external_id) already stored or repeated in the batch."""
    first = store.add_many([item("一", external_id="1", source="import:a.csv"), item("二", external_id="2", source="import:a.csv")])
    assert all(isinstance(i, int) for i in first)
    again = store.add_many(
        [
            item("一", external_id="1", source="import:a.csv"),  # stored before
            item("三", external_id="3", source="import:a.csv"),  # new
            item("三again", external_id="3", source="import:a.csv"),  # twice in this batch
            item("一", external_id="1", source="import:b.csv", at=T0 + timedelta(days=1)),  # same id, other file, other time: new
            item("无编号"),  # no external id: never a duplicate
            item("无编号"),
        ]
    )
    assert again[0] is None and again[2] is None
    assert all(isinstance(again[i], int) for i in (1, 3, 4, 5))
    assert store.count() == 6
    assert store.add_many([]) == []


def test_add_many_skips_a_copy_of_an_imported_file_under_another_name(store):
    """A row with an id that another import holds with the same text and time is that row again
    (a second download 「导出 (1).xlsx」, or the CSV of the same export); the same id saying
    something else, or at another time, is another file's row."""
    first = [item(t, external_id=f"{n}-20240501-q3", source="import:导出.xlsx") for n, t in ((1, "想学反诈"), (2, "想学消防"))]
    assert None not in store.add_many(first)
    again = store.add_many(
        [
            item("想学反诈", external_id="1-20240501-q3", source="import:导出 (1).xlsx"),  # a copy
            item("想学消防", external_id="2-20240501-q3", source="import:导出.csv"),  # the same export as CSV
            item("想学书法", external_id="1-20240501-q3", source="import:另一份.xlsx"),  # other text: new
            item("想学反诈", external_id="1-20240501-q3", source="import:第三份.xlsx", at=T0 + timedelta(hours=2)),
            item("想学反诈", external_id="1-20240501-q3", source="api"),  # not an import: never a copy
        ]
    )
    assert again[:2] == [None, None]
    assert all(isinstance(i, int) for i in again[2:])


def test_add_many_handles_more_ids_than_one_query_chunk(store):
    """A batch larger than the 500-id query chunk dedupes correctly."""
    batch = [item(f"第{i}条", external_id=str(i), source="import:big.csv") for i in range(1200)]
    assert None not in store.add_many(batch)
    assert store.add_many(batch) == [None] * 1200
    assert store.count() == 1200


def test_get_many_keeps_requested_order_and_skips_missing(store):
    """get_many returns rows in the order of the ids asked for, skipping unknown ids."""
    ids = [store.add(item(f"第{i}条")).id for i in range(3)]
    got = store.get_many([ids[2], 99999, ids[0]])
    assert [g.id for g in got] == [ids[2], ids[0]]


def test_iter_feedback_pages_through_everything_in_id_order(store):
    """iter_feedback yields every row once, in id order, across batches and after an id."""
    ids = [store.add(item(f"第{i}条")).id for i in range(7)]
    assert [r.id for r in store.iter_feedback(batch_size=3)] == ids
    assert [r.id for r in store.iter_feedback(batch_size=3, after_id=ids[4])] == ids[5:]


def test_mark_repeats_and_recent_by_submitter(store):
    """recent_by_submitter is inclusive and ordered; mark_repeats links a line to an earlier one."""
    a = store.add(item("一", at=T0, submitter="p1"))
    b = store.add(item("二", at=T0 + timedelta(days=2), submitter="p1"))
    store.add(item("三", at=T0 + timedelta(days=1), submitter="p2"))
    store.add(item("四", at=T0 + timedelta(days=40), submitter="p1"))
    got = store.recent_by_submitter("p1", T0, T0 + timedelta(days=2))
    assert [(i, t) for i, t, _ in got] == [(a.id, "一"), (b.id, "二")]
    assert got[0][2] == T0
    store.mark_repeats([(b.id, a.id)])
    assert store.get(b.id).repeat_of == a.id and store.get(b.id).is_repeat


# ---------------------------------------------------------------------------- time zones
@pytest.mark.parametrize(
    "given",
    [
        T0,
        T0.astimezone(ZoneInfo("Asia/Shanghai")),
        T0.astimezone(timezone(timedelta(hours=-9, minutes=-30))),
    ],
    ids=["utc", "shanghai", "minus-0930"],
)
def test_timezone_aware_round_trip(store, given):
    """Aware datetimes come back aware, in UTC, the same instant to the microsecond."""
    stored = store.add(item(at=given))
    got = store.get(stored.id).submitted_at
    assert got == T0
    assert got.utcoffset() == timedelta(0)
    assert got.microsecond == 123456


def test_naive_datetime_is_refused(store):
    """A naive datetime is refused rather than silently stored in an unknown zone."""
    with pytest.raises(Exception, match="naive"):
        store.add(item(at=T0.replace(tzinfo=None)))
    assert store.count() == 0


def test_time_range_is_utc(store):
    """time_range gives aware UTC min and max (None, None when empty)."""
    assert store.time_range() == (None, None)
    store.add(item(at=T0.astimezone(ZoneInfo("Asia/Shanghai"))))
    store.add(item(at=T0 + timedelta(days=3)))
    lo, hi = store.time_range()
    assert (lo, hi) == (T0, T0 + timedelta(days=3))
    assert lo.utcoffset() == timedelta(0) and hi.utcoffset() == timedelta(0)


# ---------------------------------------------------------------------------- token cache
def test_tokens_cache_put_get_replace_and_version(store):
    """Tokens are cached per tokenizer version, replaced on re-put, and [] round-trips."""
    a, b = store.add(item("一")).id, store.add(item("二")).id
    assert store.get_tokens([a, b], "tok-1") == {}
    store.put_tokens({a: ["公文", "写作"], b: []}, "tok-1")
    assert store.get_tokens([a, b], "tok-1") == {a: ["公文", "写作"], b: []}
    assert store.get_tokens([a, b], "tok-2") == {}
    store.put_tokens({a: ["智能手机"]}, "tok-2")
    assert store.get_tokens([a, b], "tok-2") == {a: ["智能手机"]}
    assert store.get_tokens([a], "tok-1") == {}  # one cached version per line
    store.put_tokens({}, "tok-2")


# ---------------------------------------------------------------------------- assignments
def test_put_assignments_replaces_and_unassigned_lists_the_rest(store):
    """put_assignments replaces per (version, line); unassigned lists lines without one, in id order."""
    ids = [store.add(item(f"第{i}条")).id for i in range(4)]
    assert [r.id for r in store.unassigned("v1")] == ids
    assert store.put_assignments("v1", [(ids[0], "T0001", 0.9), (ids[1], None, 0.1)]) == 2
    assert store.put_assignments("v1", [(ids[0], "T0002", 0.8)]) == 1
    assert store.put_assignments("v1", []) == 0
    rows = {r.id: (t, s) for r, t, s in store.assignment_rows("v1")}
    assert rows == {ids[0]: ("T0002", 0.8), ids[1]: (None, 0.1)}
    assert [r.id for r in store.unassigned("v1")] == ids[2:]
    assert [r.id for r in store.unassigned("v1", limit=1)] == ids[2:3]
    assert [r.id for r in store.unassigned("v2")] == ids
    assert store.assignment_count("v1") == 2


def test_assignment_rows_since_received(store):
    """assignment_rows(received_since=…) only returns lines received at or after that time."""
    old = store.add(item("旧"))
    cut = datetime.now(timezone.utc) + timedelta(milliseconds=5)
    threading.Event().wait(0.02)
    new = store.add(item("新"))
    store.put_assignments("v1", [(old.id, "T0001", 0.5), (new.id, "T0001", 0.5)])
    assert [r.id for r, _, _ in store.assignment_rows("v1", received_since=cut)] == [new.id]


def test_topic_members_pages_newest_first_with_total(store):
    """topic_members pages a topic's lines newest first (ties by id) and reports the total."""
    ids = [store.add(item(f"第{i}条", at=T0 + timedelta(days=i % 3))).id for i in range(7)]
    store.put_assignments("v1", [(i, "T0001", 0.5) for i in ids])
    other = store.add(item("别的主题")).id
    store.put_assignments("v1", [(other, "T0002", 0.5)])
    seen = []
    for offset in (0, 3, 6):
        rows, total = store.topic_members("v1", "T0001", offset=offset, limit=3)
        assert total == 7
        seen.extend(rows)
    assert len(seen) == 7 and {r.id for r in seen} == set(ids)
    keys = [(r.submitted_at, r.id) for r in seen]
    assert keys == sorted(keys, reverse=True)
    assert store.topic_members("v1", "T0001", offset=7, limit=3) == ([], 7)
    assert store.topic_members("v2", "T0001") == ([], 0)


def test_drop_assignments_keeps_listed_versions(store):
    """drop_assignments deletes every version not kept."""
    fid = store.add(item()).id
    for version in ("v1", "v2", "v3"):
        store.put_assignments(version, [(fid, "T0001", 0.5)])
    assert store.drop_assignments(["v2"]) == 2
    assert (store.assignment_count("v1"), store.assignment_count("v2"), store.assignment_count("v3")) == (0, 1, 0)


# ---------------------------------------------------------------------------- topics
def test_topics_record_rename_and_next_ids(store):
    """record_topics activates and retires topics, logs events; next ids stay above every id used."""
    assert store.next_topic_ids(2) == ["T0001", "T0002"]
    store.record_topics("v1", ["T0001", "T0002"], [])
    assert store.next_topic_ids(1) == ["T0003"]
    store.record_topics("v2", ["T0001", "T0003"], [{"kind": "merge", "topic_id": "T0003", "other_topic_ids": ["T0002"]}])
    records = store.topic_records()
    assert records["T0001"]["status"] == "active" and records["T0001"]["first_version"] == "v1"
    assert records["T0001"]["last_version"] == "v2"
    assert records["T0002"]["status"] == "retired" and records["T0002"]["last_version"] == "v1"
    assert records["T0003"]["first_version"] == "v2"
    assert store.next_topic_ids(2) == ["T0004", "T0005"]  # retired ids are never reused

    assert store.rename_topic("T0001", "公文写作") is True
    assert store.rename_topic("T9999", "无") is False
    assert store.label_overrides() == {"T0001": "公文写作"}
    assert store.rename_topic("T0001", None) is True
    assert store.label_overrides() == {}

    events = store.topic_events()
    assert [(e["kind"], e["topic_id"], e["other_topic_ids"]) for e in events] == [("merge", "T0003", ["T0002"])]
    assert store.topic_events("T0001") == []
    assert store.lineage() == {"T0002": "T0003"}


def test_retired_topic_comes_back_active(store):
    """A retired topic id used again by a later version is active again."""
    store.record_topics("v1", ["T0001", "T0002"], [])
    store.record_topics("v2", ["T0001"], [])
    store.record_topics("v3", ["T0001", "T0002"], [])
    assert store.topic_records()["T0002"]["status"] == "active"


# ---------------------------------------------------------------------------- class sessions
def test_class_sessions_add_and_list(store):
    """add_session returns the stored row; list_sessions orders by date and filters by topic."""
    late = store.add_session(topic_id="T0001", title="公文写作（二）", held_on=date(2024, 6, 1), status="planned")
    early = store.add_session(
        topic_id="T0001", title="公文写作", held_on=date(2024, 5, 1), status="held", instructor="李老师", department="街道办"
    )
    store.add_session(topic_id="T0002", title="智能手机", held_on=date(2024, 5, 15), status="cancelled")
    assert late["id"] != early["id"] and early["held_on"] == date(2024, 5, 1)
    assert early["instructor"] == "李老师" and late["instructor"] is None
    assert early["created_at"].utcoffset() == timedelta(0)
    assert [s["title"] for s in store.list_sessions()] == ["公文写作", "智能手机", "公文写作（二）"]
    assert [s["id"] for s in store.list_sessions("T0001")] == [early["id"], late["id"]]
    assert store.list_sessions("T0404") == []


# ---------------------------------------------------------------------------- schema and connections
def test_migrations_are_idempotent_and_reach_head(store):
    """migrate() twice is harmless, keeps the data and leaves the schema at the newest revision."""
    store.add(item())
    store.migrate()
    store.migrate()
    assert store.schema_revision() == head_revision()
    assert store.count() == 1


def test_migrated_schema_matches_schema_module(store):
    """The Alembic migrations create exactly the tables, columns and indexes schema.py declares."""
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == []


@pytest.mark.parametrize("made_after", ["0004", "0005"], ids=["cd3b737", "967dce6"])
def test_a_database_stamped_0007_before_0006_existed_is_repaired(settings, made_after):
    """Commits cd3b737 and 967dce6 ran 0007 (experts) right after 0004 or 0005 and stamped
    0007: such a database lacks what 0005 and 0006 add, which alembic never runs there. The
    upgrade creates it (classes recorded before get their feedback link), keeps the data and
    reaches the schema of schema.py; migrating again changes nothing."""
    from alembic import command
    from sqlalchemy import text

    from recommender.store.schema import experts

    old = FeedbackStore(settings.database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with old.engine.begin() as connection:  # what those commits made
            config.attributes["connection"] = connection
            command.upgrade(config, made_after)
            experts.create(connection)
            command.stamp(config, "0007")
        with old.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO class_sessions (topic_id, title, held_on, status, created_at) "
                "VALUES ('T0001', '消防课', '2026-01-01', 'held', '2026-01-01 00:00:00')"
            ))
        old.add(item())
        old.migrate()
        assert old.schema_revision() == head_revision()
        with old.engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        (session,) = old.list_sessions()
        assert len(session["feedback_token"]) == 22 and old.session_by_token(session["feedback_token"])["title"] == "消防课"
        assert old.count() == 1 and old.class_ratings() == {} and old.list_corrections() == ([], 0)
        old.migrate()  # nothing left to do
        assert old.list_sessions()[0]["feedback_token"] == session["feedback_token"]
    finally:
        old.dispose()


def test_fresh_database_has_no_revision_until_migrated(settings):
    """Before migrate() there is no schema revision; ping works on an empty database."""
    fresh = FeedbackStore(settings.database_url)
    try:
        assert fresh.ping() is True
        assert fresh.schema_revision() is None
        fresh.migrate()
        assert fresh.schema_revision() == head_revision()
    finally:
        fresh.dispose()


def test_ping_false_when_database_unreachable(tmp_path):
    """ping() answers False (no exception) when the database cannot be opened."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    unreachable = FeedbackStore.__new__(FeedbackStore)  # skip __init__'s mkdir of the parent
    unreachable.engine = create_engine(f"sqlite:///{blocker / 'feedback.db'}")
    assert unreachable.ping() is False
    unreachable.engine.dispose()


def test_describe_hides_the_password():
    """describe() never shows the database password."""
    store = FeedbackStore("postgresql+psycopg://user:s3cret@db.example/feedback")
    try:
        assert "s3cret" not in store.describe() and "user" in store.describe()
    finally:
        store.dispose()


def test_sqlite_uses_wal_and_a_busy_timeout(store):
    """SQLite connections run in WAL mode with the busy timeout and foreign keys on."""
    if store.dialect != "sqlite":
        pytest.skip("SQLite connection settings")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_concurrent_writers_do_not_fail(store):
    """Writers in several threads all succeed (SQLite: BEGIN IMMEDIATE + busy timeout, no 'locked')."""
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(15):
                fid = store.add(item(f"线程{n}第{i}条")).id
                store.put_assignments("v1", [(fid, "T0001", 0.5)])
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.count() == 90 and store.assignment_count("v1") == 90


def test_deleting_feedback_cascades_to_tokens_and_assignments(store):
    """Foreign keys hold: deleting a line removes its cached tokens and assignments."""
    from sqlalchemy import delete

    from recommender.store.schema import feedback

    fid = store.add(item()).id
    store.put_tokens({fid: ["公文"]}, "tok")
    store.put_assignments("v1", [(fid, "T0001", 0.5)])
    with store.engine.begin() as conn:
        conn.execute(delete(feedback).where(feedback.c.id == fid))
    assert store.get_tokens([fid], "tok") == {}
    assert store.assignment_count("v1") == 0
