"""Migration 0010: spreadsheet and web debris stored before the door cleaned it (「_x000D_」,
「&quot;」, 「<br>」) is cleaned in the store, with what follows the text (its text key, its
cached tokens), and a file imported before the upgrade imports nothing when imported again."""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from pathlib import Path

import openpyxl
from alembic import command
from alembic.config import Config
from sqlalchemy import text as sql

from recommender.cli import main
from recommender.door import import_files, validation
from recommender.door.screening import text_key
from recommender.store import FeedbackStore, NewFeedback
from recommender.store.feedback_store import MIGRATIONS_DIR
from tests.test_cli import env  # noqa: F401 (fixture: the CLI pointed at the test's store)

T0 = datetime(2026, 11, 1, 12, tzinfo=timezone.utc)


def _config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def migrate_to_0009(self) -> None:
    """``FeedbackStore.migrate`` as it was before 0010 existed."""
    with self.engine.begin() as connection:
        command.upgrade(_config(connection), "0009")


def _item(text: str, n: int, **kw) -> NewFeedback:
    return NewFeedback(text=text, segment="居民", submitted_at=T0, source="api", external_id=f"x{n}", **kw)


def _texts(store) -> dict[str, str]:
    with store.engine.connect() as conn:
        return dict(conn.execute(sql("SELECT external_id, text FROM feedback")).all())


def test_upgrade_cleans_stored_debris_and_what_follows_the_text(settings, monkeypatch):
    """A database at 0009 with debris rows: after the upgrade each text reads as the door stores
    it now (a number an entity hid is masked), its text key and cached tokens follow, post-class
    answers are cleaned too; text without debris, 「温度<10度」, 「AT&T」, a text of debris alone
    and withdrawn lines stay as they were; upgrading again changes nothing."""
    monkeypatch.setattr(FeedbackStore, "migrate", migrate_to_0009)
    store = FeedbackStore(settings.database_url)
    try:
        store.migrate()
        assert store.schema_revision() == "0009"
        rows = {
            "x1": "想学&quot;防诈骗&quot;<br/>和急救&nbsp;",
            "x2": "老人手机课_x000D_ 希望多讲微信",
            "x3": "温度<10度 AT&T 也要讲",
            "x4": "联系我 电话&#49;3800001234",
            "x5": "&nbsp;",
            "x6": "想学&amp;quot;书法&amp;quot;",
        }
        ids = store.add_many([_item(t, int(k[1:])) for k, t in rows.items()])
        # Many more than one batch of the migration (500 rows), debris in every one.
        store.add_many([_item(f"第 {n} 条：太极拳&nbsp;入门", 100 + n) for n in range(1100)])
        withdrawn = store.add_many([_item("已撤回&quot;", 99, status="withdrawn")])[0]
        store.put_tokens({ids[0]: ["quot", "防诈骗"], ids[2]: ["温度"]}, "v1")
        with store.engine.begin() as conn:
            conn.execute(sql(
                "INSERT INTO class_sessions (topic_id, title, held_on, status, created_at, feedback_token) "
                "VALUES ('T0001', '消防课', '2026-01-01', 'held', '2026-01-01 00:00:00', 'tok')"
            ))
            session_id = conn.execute(sql("SELECT id FROM class_sessions")).scalar_one()
            conn.execute(
                sql("INSERT INTO class_responses (session_id, rating, text, created_at) VALUES "
                    "(:s, 5, :t, '2026-01-02 00:00:00'), (:s, 4, NULL, '2026-01-02 00:00:00')"),
                {"s": session_id, "t": "讲得好&nbsp;<p>下次讲灭火器</p>"},
            )
        monkeypatch.undo()

        store.migrate()
        assert store.schema_revision() == "0010"
        texts = _texts(store)
        assert texts["x1"] == '想学"防诈骗" 和急救'
        assert texts["x2"] == "老人手机课 希望多讲微信"
        assert texts["x3"] == rows["x3"] and texts["x5"] == rows["x5"]
        assert texts["x4"] == "联系我 电话[手机号]"
        assert texts["x6"] == '想学"书法"'
        assert texts["x100"] == "第 0 条：太极拳 入门" and texts["x1199"] == "第 1099 条：太极拳 入门"
        assert texts["x99"] == "已撤回&quot;"  # a withdrawn line's text is not read
        with store.engine.connect() as conn:
            keys = dict(conn.execute(sql("SELECT external_id, text_key FROM feedback")).all())
            answers = [r[0] for r in conn.execute(sql("SELECT text FROM class_responses ORDER BY id"))]
        assert keys["x1"] == text_key(texts["x1"]) and keys["x1199"] == text_key(texts["x1199"])
        assert keys["x3"] == text_key(rows["x3"])
        assert answers == ["讲得好 下次讲灭火器", None]
        assert store.get_tokens([ids[0], ids[2]], "v1") == {ids[2]: ["温度"]}  # the cleaned line is tokenized again
        assert store.get(withdrawn).status == "withdrawn"
        store.migrate()
        assert _texts(store) == texts
    finally:
        store.dispose()

def test_upgrade_marks_an_answer_imported_twice_as_the_repeat_it_is(settings, monkeypatch):
    """An answer imported with debris before the door cleaned it and imported again clean (a
    renamed or re-exported file) is two identical lines after the cleaning: the later is
    marked a repeat of the earlier (kept, shown 「重复提交」, counted once), nothing deleted.
    Identical answers of one file stay as many as they were (one cleaned line pairs with one
    line stored clean); the same words at another time, from another submitter or through the
    form are other people's and stay as they are."""
    monkeypatch.setattr(FeedbackStore, "migrate", migrate_to_0009)
    store = FeedbackStore(settings.database_url)
    try:
        store.migrate()
        dirty, clean = "想学太极拳&nbsp;入门", "想学太极拳 入门"
        assert validation.clean_text(dirty) == clean

        def imported(text: str, key: str, file: str = "问卷.csv", **kw) -> NewFeedback:
            return NewFeedback(text=text, segment="居民", submitted_at=kw.pop("at", T0), source=f"import:{file}",
                               external_id=key, **kw)

        ids = store.add_many([
            imported(dirty, "h1"),  # the first import, with debris
            imported(dirty, "h1-2"),  # the same words from a second person of the same file
            imported(clean, "h2", "问卷 (1).csv"),  # the same file imported again, cleaned at the door
            imported(clean, "h2-2", "问卷 (1).csv"),
            imported(clean, "h2-3", "问卷 (1).csv"),  # a third person, only in the newer export
            imported(clean, "h3", at=T0.replace(hour=13)),  # another time
            imported(clean, "h4", submitter_hash="someone"),  # another submitter
            NewFeedback(text=clean, segment="居民", submitted_at=T0, source="form"),  # through the form
        ])
        monkeypatch.undo()
        store.migrate()
        assert store.schema_revision() == "0010"
        lines = [store.get(i) for i in ids]
        assert {line.text for line in lines} == {clean}
        repeats = {ids.index(i): ids.index(line.repeat_of) for i, line in zip(ids, lines) if line.repeat_of}
        assert repeats == {2: 0, 3: 1}
        assert all(line.status == "visible" for line in lines) and store.count() == len(ids)
        store.migrate()
        assert [store.get(i).repeat_of for i in ids] == [line.repeat_of for line in lines]
    finally:
        store.dispose()



def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    return path


def _write_xlsx(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    workbook = openpyxl.Workbook()
    for row in [header, *rows]:
        workbook.active.append(row)
    workbook.save(path)
    return path


def _imported(capsys, path: Path) -> int:
    assert main(["--quiet", "import", str(path)]) == 0
    out = capsys.readouterr().out
    return int(out.split("导入：")[1].split(" 行")[0])


ROWS = [
    ["想学&quot;防诈骗&quot;<br/>和急救&nbsp;", "2026-11-01 10:00", "张三"],
    ["老人手机课_x000D_ 希望多讲微信", "2026-11-02 10:00", "李四"],
    ["想学&quot;防诈骗&quot;<br/>和急救&nbsp;", "2026-11-01 10:00", "张三"],  # the same row twice: its -2
    ["太极拳入门", "2026-11-03 10:00", "王五"],
]


def test_a_file_imported_before_the_upgrade_imports_nothing_again(env, tmp_path, monkeypatch, capsys):
    """Files imported by the code of 0009 (no debris cleaning, XLSX escapes unread): after the
    upgrade, importing them again, under their names or renamed, adds nothing — keyed by
    their content (no id column: the key they had before is recognised) or by an id column
    (the copy check compares the cleaned text's key) — and the stored texts are clean."""
    plain = _write_csv(tmp_path / "网页导出.csv", ["反馈内容", "提交时间", "提交人"], ROWS)
    ids = _write_csv(tmp_path / "问卷.csv", ["编号", "反馈内容", "提交时间"], [[f"r{i}", r[0], r[1]] for i, r in enumerate(ROWS)])
    xlsx = _write_xlsx(tmp_path / "表格.xlsx", ["反馈内容", "提交时间"], [["夜校课_x000D_\n想学书法", "2026-11-04 10:00"]])
    with monkeypatch.context() as old:  # the code before the upgrade
        old.setattr(FeedbackStore, "migrate", migrate_to_0009)
        old.setattr(validation, "may_hold_markup", lambda text: False)
        old.setattr(import_files, "unescape_cell", lambda value: value)
        assert [_imported(capsys, p) for p in (plain, ids, xlsx)] == [4, 4, 1]
    store = FeedbackStore(env.database_url)
    try:
        assert store.schema_revision() == "0009" and store.count() == 9
        renamed = [tmp_path / "网页导出 (1).csv", tmp_path / "问卷 (1).csv", tmp_path / "表格 (1).xlsx"]
        for source, copy in zip((plain, ids, xlsx), renamed):
            copy.write_bytes(source.read_bytes())
        assert [_imported(capsys, p) for p in (plain, ids, xlsx, *renamed)] == [0] * 6
        assert store.schema_revision() == "0010" and store.count() == 9
        texts = set(_texts(store).values())
        assert texts == {'想学"防诈骗" 和急救', "老人手机课 希望多讲微信", "太极拳入门", "夜校课 想学书法"}
    finally:
        store.dispose()
