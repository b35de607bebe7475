"""CSV/XLSX writers of the organizer exports (recommender.web.exports): plain Python, no server."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from recommender.web import exports

INJECTION = "=cmd|' /C calc'!A0"


@dataclass
class FakeFeedback:
    id: int
    public_id: str
    submitted_at: datetime
    segment: str
    text: str
    votes: int
    is_repeat: bool


def _feedback(texts: list[str]) -> list[FakeFeedback]:
    when = datetime(2026, 5, 12, 11, 30, tzinfo=timezone.utc)
    return [FakeFeedback(i, str(i), when, "网格员", t, i, i % 2 == 1) for i, t in enumerate(texts, start=1)]


def _read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _read_xlsx(data: bytes) -> list[tuple]:
    return list(load_workbook(io.BytesIO(data)).active.values)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+1", "'=1+1"),
        ("+86 123", "'+86 123"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("想学公文写作", "想学公文写作"),
        ("a=1", "a=1"),
        (3, 3),
        (-2.5, -2.5),
        (None, ""),
        (True, "是"),
    ],
    ids=["equals", "plus", "minus", "at", "tab", "cr", "chinese", "inner-equals", "int", "float", "none", "bool"],
)
def test_safe_cell_neutralises_formula_starts(value, expected):
    """A text starting with = + - @ tab or CR gets an apostrophe; numbers keep their type."""
    assert exports.safe_cell(value) == expected


def test_csv_has_bom_crlf_and_neutralised_cells():
    """CSV is UTF-8 with BOM, CRLF line ends, and every cell (header too) is neutralised."""
    rows = exports.feedback_rows(_feedback([INJECTION, "换行\n也没问题", "@everyone 看这里"]))
    data = exports.write_csv(exports.FEEDBACK_HEADER + ("=evil",), [r + ["-1+1"] for r in rows])
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in data
    table = _read_csv(data)
    assert table[0][:6] == list(exports.FEEDBACK_HEADER)
    assert table[0][6] == "'=evil"
    texts = [row[3] for row in table[1:]]
    assert texts == ["'" + INJECTION, "换行\n也没问题", "'@everyone 看这里"]
    assert all(row[6] == "'-1+1" for row in table[1:])
    for row in table:
        for cell in row:
            assert not cell.startswith(exports.FORMULA_STARTS), cell


def test_xlsx_cells_are_text_not_formulas():
    """XLSX stores neutralised text (no formula cells), numbers as numbers, control characters dropped."""
    rows = exports.feedback_rows(_feedback([INJECTION, "\x01=HYPERLINK(\"http://x\")", "普通反馈"]))
    data = exports.write_xlsx(exports.FEEDBACK_HEADER, rows, sheet_title="T0001 反馈")
    workbook = load_workbook(io.BytesIO(data))
    sheet = workbook.active
    assert sheet.title == "T0001 反馈"
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.value
    values = _read_xlsx(data)
    assert values[0] == exports.FEEDBACK_HEADER
    assert values[1][3] == "'" + INJECTION
    assert values[2][3] == "'=HYPERLINK(\"http://x\")"
    assert values[1][4] == 1 and isinstance(values[1][4], int)
    assert values[1][5] == "是" and values[2][5] == "否"


def test_suggestion_rows_follow_the_header():
    """Suggestion rows line up with SUGGESTION_HEADER and translate the trend."""
    result = {
        "as_of": "2026-05-31",
        "suggestions": [
            {
                "topic_id": "T0001",
                "rank": 1,
                "label": "=消防",
                "keywords": ["消防", "灭火器"],
                "score": 3.5,
                "score_breakdown": {"people": 3.0, "votes": 0.5, "growth": 0.0, "cooldown": 0.0},
                "feedback_count": 4,
                "distinct_submitters": 3,
                "trend": "growing",
                "examples": ["灭火器怎么用", "-消防通道"],
                "feedback_ids": ["1", "2"],
                "recently_covered": True,
                "last_class_on": "2026-05-01",
                "class_planned_on": None,
                "demand_rising_after_class": False,
                "why": "3 人提出，近 30 天 3 人，上升；5月1日已开课，暂缓到 7月30日",
            }
        ],
    }
    rows = exports.suggestion_rows(result)
    assert len(rows[0]) == len(exports.SUGGESTION_HEADER)
    table = _read_csv(exports.write_csv(exports.SUGGESTION_HEADER, rows))
    record = dict(zip(table[0], table[1]))
    assert record["主题"] == "'=消防"
    assert record["趋势"] == "上升"
    assert record["为什么"].startswith("3 人提出")
    assert record["近期已开课"] == "是"
    assert record["关键词"] == "消防、灭火器"
    assert record["代表性反馈"] == "灭火器怎么用 | -消防通道"


def test_content_disposition_has_ascii_fallback_and_utf8_name():
    """The header carries an ASCII filename and the Chinese name as RFC 5987 filename*."""
    header = exports.content_disposition('主题/T0001 "消防"_反馈.csv', "topic_T0001_feedback.csv")
    assert header.startswith('attachment; filename="topic_T0001_feedback.csv"; ')
    encoded = header.split("filename*=UTF-8''", 1)[1]
    assert all(ord(ch) < 128 for ch in header)
    name = unquote(encoded)
    assert "/" not in name and '"' not in name
    assert name.startswith("主题_T0001") and name.endswith("反馈.csv")


def test_write_table_rejects_unknown_format():
    """Only csv and xlsx exist."""
    with pytest.raises(ValueError, match="format='pdf'"):
        exports.write_table("pdf", ("a",), [], sheet_title="x")
