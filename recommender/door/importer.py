"""Read feedback from CSV/TSV, XLSX and JSONL files, one row at a time.

``read_feedback_file(path, …)`` opens the file, settles the format, the encoding and which
column holds what (given by the caller, else recognised from common names such as
``内容`` / ``意见建议`` / ``提交答卷时间`` as exported by 问卷星 and 腾讯问卷), and returns an
:class:`ImportBatch`. Whole-file problems raise :class:`~recommender.errors.ImportFailed`
with a Chinese and English message. Iterating the batch streams the rows: each is an
:class:`ImportedRow`, or a :class:`RowError` naming the line and the reason, so one bad
row never stops an import. Iterating twice reads the file twice and gives equal results.

Line numbers are the ones a person sees: for CSV/TSV and XLSX the spreadsheet row (the
header is line 1; a CSV cell with line breaks still counts as one row), for JSONL the line
of the file (the first line is 1).

Rows without an id column get a stable ``external_id`` from their content
(``h`` + 20 hex digits of SHA-1 over text, time, submitter, segment and session, with
``-2``, ``-3`` … for the second and later identical rows), so importing the same file
again adds nothing. Votes are left out of the hash: a re-export with updated votes is
still the same feedback. Cell values starting with ``=``, ``+``, ``-`` or ``@`` are read
as plain text, never evaluated.

Questionnaire exports (问卷星: ``序号, 提交答卷时间, 所用时间, 来源, 来源详情, 来自IP, 1、…``;
腾讯问卷: ``编号, 开始答题时间, 结束答题时间, 答题时长, 1.…``) are recognised from the header
(:mod:`recommender.door.questionnaire`) and read without column options: the free-text questions,
the segment question and the time and number columns are settled from the header and the first
rows, options win (``question_columns``, ``segment_question``, or ``text_column`` /
``segment_column`` also taking question numbers), and ambiguity raises ImportFailed naming the
option. Each non-blank answer to a free-text question is its own line, with the external id
``<序号>-<submission date>-q<question>`` (the date guards against another questionnaire saved
under the same file name); answers such as 无 / 没有 / (空) are skipped quietly and counted.
Segment answers ("A.居民", "居民（住户）") are mapped to the configured segments, else left
None (the default segment) and counted — in a plain table's segment column too. The answering duration (问卷星 所用时间, 腾讯问卷 答题时长, or 结束答题时间 − 开始答题时间)
becomes :attr:`ImportedRow.fill_seconds` (None when blank or unreadable — never a row error;
unreadable ones are counted in the notes), so the store can flag rows filled in a few seconds.
Personal-data columns (来自IP, 来源详情, nicknames, names, phones) are never read.
:attr:`ImportBatch.layout` and :attr:`ImportBatch.notes` say what was detected and done.

This module reads; validation and masking stay in :func:`recommender.door.validation.clean_feedback`,
which :meth:`ImportedRow.to_draft` applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


from recommender.config import Settings, get_settings
from recommender.errors import ImportFailed

from recommender.door.import_files import open_delimited, open_jsonl, open_xlsx
from recommender.door.import_rows import ImportBatch, ImportedRow, ImportReport, QuestionOptions, RowError

__all__ = ["ImportBatch", "ImportReport", "ImportedRow", "RowError", "columns_used", "read_feedback_file"]

_FORMATS = {".csv": "csv", ".tsv": "tsv", ".xlsx": "xlsx", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def read_feedback_file(
    path: str | Path,
    *,
    text_column: str | None = None,
    time_column: str | None = None,
    submitter_column: str | None = None,
    votes_column: str | None = None,
    id_column: str | None = None,
    segment_column: str | None = None,
    session_column: str | None = None,
    question_columns: Sequence[str] | None = None,
    segment_question: str | None = None,
    settings: Settings | None = None,
) -> ImportBatch:
    """Open a CSV/TSV, XLSX or JSONL feedback file; raises ImportFailed when it cannot be read.

    Column options name header cells (JSONL: keys); unnamed fields are recognised from common
    names. ``question_columns`` names the free-text questions of a questionnaire (numbers such
    as ``"3"`` or ``"3,5"``, titles or header cells; each answer becomes its own line) and
    ``segment_question`` its segment question (``"none"``: no segment); in a 问卷星 / 腾讯问卷
    export ``text_column`` and ``segment_column`` take question numbers too. ``settings``
    (default :func:`get_settings`) gives the text length limit and the segments.
    """
    path = Path(path)
    settings = settings or get_settings()
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        hint = "；.xls 请在 Excel/WPS 中另存为 .xlsx 或 CSV" if path.suffix.lower() == ".xls" else ""
        raise ImportFailed(
            f"不支持的文件类型“{path.suffix or '无扩展名'}”：请使用 .csv、.tsv、.xlsx 或 .jsonl 文件{hint}。"
        )
    if not path.is_file():
        raise ImportFailed(f"找不到文件：{path}")
    wanted = {
        "text": text_column,
        "time": time_column,
        "submitter": submitter_column,
        "votes": votes_column,
        "id": id_column,
        "segment": segment_column,
        "session": session_column,
    }
    if question_columns is not None and isinstance(question_columns, str):
        question_columns = [question_columns]
    options = QuestionOptions(
        questions=list(question_columns) if question_columns else None,
        segment=segment_question,
        segments=tuple(settings.segments),
    )
    if fmt == "xlsx":
        return open_xlsx(path, wanted, settings.max_text_length, options)
    if fmt == "jsonl":
        if options.questions or options.segment is not None:
            raise ImportFailed(
                f"题目选项（--questions / --segment-question）只适用于 CSV 或 XLSX 问卷导出，{path.name} 是 JSONL。"
            )
        return open_jsonl(path, wanted, settings.max_text_length)
    return open_delimited(path, fmt, wanted, settings.max_text_length, options)


#: The fields of an import, as the summary names them (the order of the import options).
IMPORT_FIELDS = {
    "text": "内容 text", "time": "时间 time", "submitter": "提交人 submitter", "votes": "点赞 votes",
    "id": "编号 id", "segment": "人群 segment", "session": "课程 session",
}


def columns_used(batch: ImportBatch) -> str:
    """Which column of the file each field was read from (``内容 text=“意见建议”``); fields
    the file has no column for are named as not used, so a missing time column is visible."""
    found = dict(batch.column_map)
    if len(batch.text_columns) > 1 or "text" not in found:
        found["text"] = "、".join(batch.text_columns)
    used = [f"{name}=“{found[f]}”" for f, name in IMPORT_FIELDS.items() if found.get(f)]
    unused = [name for f, name in IMPORT_FIELDS.items() if not found.get(f)]
    return "，".join(used) + (f"；未使用：{'，'.join(unused)}" if unused else "")
