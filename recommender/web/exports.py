"""CSV and XLSX files for organizers: suggestions and a topic's feedback. Plain Python.

Every cell goes through :func:`safe_cell`: a text starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return gets a leading apostrophe, so a spreadsheet shows it as text
instead of running it as a formula (CSV/formula injection: feedback is written by anyone).
Numbers and booleans keep their type. CSV is UTF-8 with a byte-order mark and CRLF line
ends, which Excel on Chinese Windows opens without mojibake.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
import unicodedata
from datetime import date, datetime, tzinfo
from urllib.parse import quote

from recommender.ranking.rank import TREND_ZH

__all__ = [
    "FEEDBACK_HEADER",
    "FORMATS",
    "SUGGESTION_HEADER",
    "content_disposition",
    "feedback_rows",
    "safe_cell",
    "suggestion_rows",
    "write_csv",
    "write_table",
    "write_xlsx",
]

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BREAKDOWN_ZH = {"people": "人数", "votes": "点赞", "growth": "增长", "cooldown": "近期开课扣减"}

SUGGESTION_HEADER = (
    "排名",
    "主题编号",
    "主题",
    "关键词",
    "热度",
    "反馈条数",
    "人数",
    "趋势",
    "为什么",
    "近期已开课",
    "最近开课日期",
    "计划开课日期",
    "开课后需求仍在上升",
    "人数分",
    "点赞分",
    "增长分",
    "近期开课扣减",
    "代表性反馈",
)
FEEDBACK_HEADER = ("编号", "提交时间", "人群", "反馈内容", "点赞数", "是否重复")

# Characters an XLSX file cannot hold (XML 1.0); openpyxl refuses them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_UNSAFE_FILENAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def safe_cell(value: object) -> object:
    """The value as a spreadsheet should receive it: formulas neutralised, None as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, datetime):
        value = value.isoformat(timespec="seconds")
    elif isinstance(value, date):
        value = value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def suggestion_rows(result: dict) -> list[list[object]]:
    """Rows (without header) of a ``service.suggestions(...)`` result."""
    rows = []
    for s in result.get("suggestions", []):
        breakdown = s.get("score_breakdown") or {}
        rows.append(
            [
                s["rank"],
                s["topic_id"],
                s["label"],
                "、".join(s.get("keywords") or ()),
                s["score"],
                s["feedback_count"],
                s["distinct_submitters"],
                TREND_ZH.get(s["trend"], s["trend"]),
                s.get("why") or "",
                bool(s.get("recently_covered")),
                s.get("last_class_on"),
                s.get("class_planned_on"),
                bool(s.get("demand_rising_after_class")),
                breakdown.get("people", 0.0),
                breakdown.get("votes", 0.0),
                breakdown.get("growth", 0.0),
                breakdown.get("cooldown", 0.0),
                " | ".join(s.get("examples") or ()),
            ]
        )
    return rows


def feedback_rows(items: Iterable[object], tz: tzinfo | None = None) -> list[list[object]]:
    """Rows (without header) of stored feedback (``StoredFeedback``-like objects); times in
    ``tz`` (the organizers' ``RECOMMENDER_TIMEZONE``), written ``YYYY-MM-DD HH:MM:SS``."""
    return [
        [
            getattr(f, "public_id", None) or str(f.id),
            f.submitted_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S") if tz else f.submitted_at,
            f.segment,
            f.text,
            int(f.votes or 0),
            bool(f.is_repeat),
        ]
        for f in items
    ]


def write_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 CSV with a BOM and CRLF line ends; every cell neutralised."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def write_xlsx(header: Sequence[str], rows: Iterable[Sequence[object]], *, sheet_title: str = "Sheet1") -> bytes:
    """An XLSX workbook with one sheet; every cell neutralised and stored as text or number."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    from openpyxl.utils import get_column_letter

    values = [[_xlsx_value(v) for v in row] for row in rows]
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_sheet_title(sheet_title))
    sheet.freeze_panes = "A2"  # the header stays in view while scrolling
    for i, width in enumerate(column_widths([[_xlsx_value(h) for h in header], *values]), 1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    bold = Font(bold=True)
    head = []
    for h in header:
        cell = WriteOnlyCell(sheet, value=_xlsx_value(h))
        cell.font = bold
        head.append(cell)
    sheet.append(head)
    for row in values:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


#: Narrowest and widest column of an XLSX export, in Excel's character units.
MIN_WIDTH, MAX_WIDTH = 6, 60


def display_width(value: object) -> int:
    """How many Excel character units ``value`` takes: a CJK (wide) character counts two."""
    text = value if isinstance(value, str) else "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def column_widths(rows: Sequence[Sequence[object]]) -> list[float]:
    """Each column as wide as its widest cell (plus a margin), between MIN_WIDTH and MAX_WIDTH."""
    widths: list[int] = []
    for row in rows:
        for i, value in enumerate(row):
            if i == len(widths):
                widths.append(0)
            widths[i] = max(widths[i], display_width(value))
    return [float(min(MAX_WIDTH, max(MIN_WIDTH, w + 2))) for w in widths]


def _xlsx_value(value: object) -> object:
    value = safe_cell(value)
    if isinstance(value, str):
        value = _NOT_XML.sub("", value)
        # openpyxl reads any string starting with "=" as a formula; safe_cell already prefixed
        # those, and removing control characters cannot create a new leading "=": re-check.
        if value.startswith(FORMULA_STARTS):
            value = "'" + value
    return value


def _sheet_title(title: str) -> str:
    cleaned = re.sub(r"[\\/*?:\[\]]", "_", _NOT_XML.sub("", title)).strip("'") or "Sheet1"
    return cleaned[:31]


def write_table(fmt: str, header: Sequence[str], rows: Iterable[Sequence[object]], *, sheet_title: str) -> bytes:
    """``write_csv`` or ``write_xlsx`` by format name ("csv" | "xlsx")."""
    if fmt == "csv":
        return write_csv(header, rows)
    if fmt == "xlsx":
        return write_xlsx(header, rows, sheet_title=sheet_title)
    raise ValueError(f"format={fmt!r} should be one of {', '.join(FORMATS)}")


def content_disposition(filename: str, fallback: str) -> str:
    """``attachment`` with an ASCII ``filename`` and the real (Chinese) name as RFC 5987 ``filename*``."""
    name = _UNSAFE_FILENAME.sub("_", filename).strip(" .") or fallback
    ascii_name = _UNSAFE_FILENAME.sub("_", fallback)
    ascii_name = "".join(ch if 32 < ord(ch) < 127 and ch not in '"\\;%' else "_" for ch in ascii_name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
