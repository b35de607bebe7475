"""Questionnaire answering time: read from 问卷星 / 腾讯问卷 exports, and fast sheets flagged on import."""

from __future__ import annotations

import csv
from datetime import datetime, time, timedelta
from pathlib import Path

import openpyxl
import pytest

from recommender.cli import main
from recommender.config import Settings, get_settings
from recommender.door.importer import ImportedRow, RowError, read_feedback_file
from recommender.door.questionnaire import parse_fill_seconds
from tests.fixtures_organizer import THEMES, trained_service  # noqa: F401  (fixture)

WJX_HEADER = ["序号", "提交答卷时间", "所用时间", "来源", "来自IP", "1、您的身份是？", "2、您对夜校课程有什么意见或建议？"]
TENCENT_HEADER = ["编号", "开始答题时间", "结束答题时间", "答题时长", "1.您是？", "2.您希望下期学什么？"]
# (序号, 所用时间, answer): two sheets filled in 3 s, two in a minute.
WJX_SHEETS = [
    (1, "3秒", THEMES["消防"][0]),
    (2, "60秒", THEMES["消防"][1]),
    (3, "3秒", THEMES["反诈"][0]),
    (4, "1分钟", THEMES["反诈"][1]),
]
FAST_IDS = {"1-20261101-q2", "3-20261101-q2"}
SLOW_IDS = {"2-20261101-q2", "4-20261101-q2"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test settings with the fill-time rule at its default of 10 seconds, stated here."""
    return settings.model_copy(update={"flag_min_fill_seconds": 10})


def wjx_rows(sheets=WJX_SHEETS) -> list[list[object]]:
    rows: list[list[object]] = [list(WJX_HEADER)]
    for number, took, answer in sheets:
        rows.append([number, f"2026/11/1 19:{number:02d}:00", took, "微信", "10.1.1.1", "居民", answer])
    return rows


def write_csv(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


def imported(path: Path) -> list[ImportedRow]:
    items = list(read_feedback_file(path, settings=Settings()))
    assert not any(isinstance(i, RowError) for i in items)
    return items  # type: ignore[return-value]


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("35秒", 35),
        ("2分5秒", 125),
        ("1分钟", 60),
        ("5分钟30秒", 330),
        ("1小时2分3秒", 3723),
        ("１２秒", 12),
        ("125", 125),
        ("9.6", 9),
        (125, 125),
        (42.0, 42),
        ("00:02:05", 125),
        ("2:05", 125),
        (time(0, 2, 5), 125),
        (timedelta(seconds=7), 7),
        ("2 min 5 s", 125),
        ("", None),
        (None, None),
        ("未知", None),
        ("-5", None),
        ("秒", None),
        (True, None),
    ],
    ids=str,
)
def test_parse_fill_seconds(value: object, seconds: int | None) -> None:
    """Durations as the exports write them become whole seconds; anything else is None."""
    assert parse_fill_seconds(value) == seconds


# --- reading -----------------------------------------------------------------------------------


def test_wjx_rows_carry_the_answering_time(tmp_path: Path) -> None:
    """Each answer of a 问卷星 sheet carries the sheet's 所用时间 in seconds, and the notes name the column."""
    path = write_csv(tmp_path / "问卷星.csv", wjx_rows())
    batch = read_feedback_file(path, settings=Settings())
    assert {r.external_id: r.fill_seconds for r in batch} == {
        "1-20261101-q2": 3, "2-20261101-q2": 60, "3-20261101-q2": 3, "4-20261101-q2": 60,
    }
    assert "答题用时列：所用时间（用时过短的答卷待审核）" in batch.notes
    assert "所用时间" not in batch.column_map.values()  # a duration, never the submission time


def test_tencent_duration_column_or_start_and_end(tmp_path: Path) -> None:
    """腾讯问卷: 答题时长 when given; a blank one, or no such column, falls back to end − start."""
    start = datetime(2026, 11, 1, 19, 0, 0)
    rows = [TENCENT_HEADER]
    rows.append([1, start, start + timedelta(seconds=90), "4秒", "居民", THEMES["公文"][0]])
    rows.append([2, start, start + timedelta(seconds=90), None, "居民", THEMES["公文"][1]])
    path = write_xlsx(tmp_path / "腾讯.xlsx", rows)
    assert [r.fill_seconds for r in imported(path)] == [4, 90]

    without = [[c for i, c in enumerate(row) if i != 3] for row in rows]
    path = write_xlsx(tmp_path / "腾讯-无时长.xlsx", without)
    batch = read_feedback_file(path, settings=Settings())
    assert [r.fill_seconds for r in batch] == [90, 90]
    assert any("答题用时按 结束答题时间 − 开始答题时间 计算" in n for n in batch.notes)


def test_unreadable_duration_is_none_and_counted_not_an_error(tmp_path: Path) -> None:
    """A duration that is not one leaves fill_seconds None, makes no row error, and the notes count it."""
    sheets = [(1, "很快", THEMES["手机"][0]), (2, "", THEMES["手机"][1]), (3, "45秒", THEMES["手机"][2])]
    batch = read_feedback_file(write_csv(tmp_path / "问卷星.csv", wjx_rows(sheets)), settings=Settings())
    items = list(batch)
    assert [i.fill_seconds for i in items] == [None, None, 45]  # type: ignore[union-attr]
    assert "有 1 份答卷的答题用时无法识别，这些答卷不按用时审核" in batch.notes


def test_generic_files_have_no_fill_time(tmp_path: Path) -> None:
    """A plain table, even with a 所用时间 column, yields fill_seconds None and no notes."""
    path = write_csv(tmp_path / "plain.csv", [["内容", "所用时间"], ["想学消防安全", "2秒"]])
    batch = read_feedback_file(path, settings=Settings())
    assert [r.fill_seconds for r in batch] == [None]  # type: ignore[union-attr]
    assert batch.notes == []


# --- storing -----------------------------------------------------------------------------------


def _drafts(service, rows: list[ImportedRow], source: str):
    return [
        service.draft(r.text, segment=r.segment, submitted_at=r.submitted_at, external_id=r.external_id, source=source)
        for r in rows
    ]


def test_store_batch_flags_fast_lines_as_live_intake_does(service, tmp_path: Path) -> None:
    """store_batch stores lines filled under flag_min_fill_seconds as flagged/too_fast, the rest visible."""
    rows = imported(write_csv(tmp_path / "问卷星.csv", wjx_rows()))
    ids, skipped = service.store_batch(_drafts(service, rows, "import:问卷星.csv"), [r.fill_seconds for r in rows])
    assert skipped == 0
    stored = {r.external_id: r for r in service.store.get_many(ids)}
    assert {e: (r.status, r.flag_reason) for e, r in stored.items()} == {
        **{e: ("flagged", "too_fast") for e in FAST_IDS},
        **{e: ("visible", None) for e in SLOW_IDS},
    }
    review = service.moderation_list("flagged")
    assert review["total"] == 2 and {i["flag_reason"] for i in review["items"]} == {"too_fast"}
    with pytest.raises(ValueError, match="fill_seconds has 1 items for 4 drafts"):
        service.store_batch(_drafts(service, rows, "import:other.csv"), [3])


def test_fill_time_rule_off_when_setting_is_zero(settings: Settings, store, tmp_path: Path) -> None:
    """With flag_min_fill_seconds=0 a sheet filled in 3 seconds is stored visible."""
    from recommender.service import RecommenderService

    relaxed = RecommenderService(settings.model_copy(update={"flag_min_fill_seconds": 0}), store=store)
    relaxed.start()
    try:
        rows = imported(write_csv(tmp_path / "问卷星.csv", wjx_rows()))
        ids, _ = relaxed.store_batch(_drafts(relaxed, rows, "import:问卷星.csv"), [r.fill_seconds for r in rows])
        assert {r.status for r in store.get_many(ids)} == {"visible"}
    finally:
        relaxed.close()


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch):
    """Point the CLI (which reads the environment) at the test's store, folders and fill-time limit."""
    monkeypatch.setenv("RECOMMENDER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RECOMMENDER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("RECOMMENDER_MODELS_DIR", str(settings.models_dir))
    monkeypatch.setenv("RECOMMENDER_FLAG_MIN_FILL_SECONDS", str(settings.flag_min_fill_seconds))
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


def test_cli_import_flags_fast_sheets_and_they_do_not_count(env, trained_service, tmp_path: Path, capsys) -> None:  # noqa: F811
    """Importing a 问卷星 XLSX: 3-second sheets wait for review and stay out of suggestions; 60-second ones count."""
    path = write_xlsx(tmp_path / "夜校问卷.xlsx", wjx_rows())
    assert main(["--quiet", "import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "导入：4 行" in out and "待审核：2 行（答题过快" in out

    stored = {r.external_id: r for r in trained_service.store.iter_feedback() if r.source == "import:夜校问卷.xlsx"}
    assert {e for e, r in stored.items() if (r.status, r.flag_reason) == ("flagged", "too_fast")} == FAST_IDS
    assert {e for e, r in stored.items() if r.status == "visible"} == SLOW_IDS

    counted = {i for s in trained_service.suggestions(top=10)["suggestions"] for i in s["feedback_ids"]}
    assert not counted & FAST_IDS
    assert SLOW_IDS <= counted


def test_cli_import_of_a_plain_table_prints_no_review_line(env, tmp_path: Path, capsys) -> None:
    """A generic CSV imports as before: every line visible, no flagged-for-review line in the summary."""
    path = write_csv(tmp_path / "plain.csv", [["内容", "所用时间"], ["想学消防安全", "2秒"], ["想学公文写作", "1秒"]])
    assert main(["--quiet", "import", str(path)]) == 0
    out = capsys.readouterr().out
    assert "导入：2 行" in out and "待审核" not in out
