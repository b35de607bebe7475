"""Rows of a spreadsheet that are not blank and still hold no feedback to read: the total row
at the bottom of a table typed into Excel/WPS (「合计」 beside a count), a row whose cells are
formulas without a saved result (a workbook written by a script, or saved by a tool that
stores no results: openpyxl never calculates, so such a cell reads empty), and a text cell
holding Excel's error value (#N/A, #REF! …: a formula that failed, in XLSX or saved to CSV).
Each gets a reason a person can act on instead of 「该行内容列为空」, or instead of a line
「3条」 or 「#N/A」 imported as feedback.

Pure functions over a row's cells; :mod:`recommender.door.import_files` reads the files.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

__all__ = ["error_value_reason", "formula_reason", "total_row_reason", "unsaved_formula"]

# A label cell of a total row (after NFKC, casefold, spaces and a final colon removed).
_TOTAL_WORDS = frozenset(
    ("合计", "总计", "小计", "共计", "总数", "总和", "汇总", "平均", "平均值", "total", "sum", "subtotal", "grandtotal")
)
# What a total row holds in the text column: nothing, a number or a count, or the label with one.
_COUNT = r"[0-9][0-9,.]*\s*(?:条|人|份|个|项|次|名|人次)?"
_TOTAL_TEXT = re.compile(r"^(?:(?P<word>[^\d:]{1,12}?)\s*:?\s*)?(?:" + _COUNT + r")?$")


def _plain(cell: Any) -> str:
    text = unicodedata.normalize("NFKC", str(cell)).casefold()
    return re.sub(r"\s+", "", text).rstrip(":")


def total_row_reason(cells: Sequence[Any], text_at: Sequence[int]) -> str | None:
    """Why the row is a table's total row, None when it is not: its first filled cell, or a text
    cell, reads 「合计」 (总计, 小计, 平均, Total, …) and every text cell (positions ``text_at``)
    is empty or a number or count (「3条」, 「合计：35条」). A row whose text cell holds words is
    feedback, whatever else it says; a choice answered 「平均」 further right is no label."""
    word = None
    first = True
    for i, cell in enumerate(cells):
        if cell is None or isinstance(cell, bool) or not _plain(cell):
            continue
        plain = _plain(cell)
        if i in text_at:
            m = _TOTAL_TEXT.match(plain)
            if m is None or (m["word"] is not None and m["word"] not in _TOTAL_WORDS):
                return None
            word = word or m["word"]
        elif first and plain in _TOTAL_WORDS:
            word = plain
        first = False
    if word is None:
        return None
    shown = next(str(c).strip() for c in cells if c is not None and _plain(c).startswith(word))
    return f"这一行是表格的合计行（“{shown}”），不是反馈，未导入。"


def unsaved_formula(values: Sequence[Any], written: Sequence[Any], index: int) -> bool:
    """The cell at ``index`` is a formula (``written``: the row's cells as written, read without
    ``data_only``) whose result the file does not keep (``values``: the row's saved values)."""
    return (
        index < len(written)
        and getattr(written[index], "data_type", None) == "f"
        and (index >= len(values) or values[index] is None)
    )


def formula_reason(columns: Sequence[str]) -> str:
    """The reason a row with unsaved formulas in ``columns`` is refused, and what to do."""
    named = "、".join(f"“{c}”" for c in columns)
    return (
        f"列{named}是公式，文件中没有保存它的计算结果，读不到内容：请用 Excel 或 WPS 打开这个文件、"
        f"保存后再导入，或把公式所在的列复制、“选择性粘贴”为数值后保存。"
    )


# Excel's and WPS's error values, what a failed formula shows (and a CSV saved from it holds).
_ERROR_VALUES = frozenset(
    ("#null!", "#div/0!", "#value!", "#ref!", "#name?", "#num!", "#n/a", "#getting_data", "#spill!", "#calc!", "#field!")
)


def error_value_reason(text: str) -> str | None:
    """Why ``text`` (a text cell, trimmed) is no feedback when it is an Excel error value, else None."""
    if _plain(text) not in _ERROR_VALUES:
        return None
    return f"内容是 Excel 的错误值“{text}”（公式出错的结果），不是反馈：请在 Excel/WPS 中修正这一格后再导入。"
