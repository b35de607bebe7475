"""Tests for recommender.door.importer: CSV/TSV, XLSX and JSONL files are read row by row."""

from __future__ import annotations

import dataclasses
import inspect
import json
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import openpyxl
import pytest

from recommender.config import Settings
from recommender.errors import ImportFailed, ValidationFailed
from recommender.door.importer import ImportBatch, ImportedRow, ImportReport, RowError, read_feedback_file
from recommender.door.validation import clean_text

SETTINGS = Settings(max_text_length=100)
UTC = timezone.utc


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list[object]], *, title: str = "Sheet1") -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def read(path: Path, **options: object) -> ImportBatch:
    return read_feedback_file(path, settings=SETTINGS, **options)  # type: ignore[arg-type]


def rows_of(batch: ImportBatch) -> list[ImportedRow]:
    return [item for item in batch if isinstance(item, ImportedRow)]


def errors_of(batch: ImportBatch) -> list[RowError]:
    return [item for item in batch if isinstance(item, RowError)]


SIMPLE_CSV = "内容,时间,提交人,点赞\n想学公文写作,2024-05-01 19:30,u1,3\n灭火器怎么用,2024/5/2,u2,\n"


# --- CSV encodings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "reported"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030"), ("gbk", "gb18030")],
    ids=["utf-8", "utf-8-bom", "gb18030", "gbk"],
)
def test_csv_encodings_are_detected(tmp_path: Path, encoding: str, reported: str) -> None:
    """UTF-8 (with or without BOM) and GBK/GB18030 CSV files read correctly and report the encoding."""
    batch = read(write_csv(tmp_path / "f.csv", SIMPLE_CSV, encoding))
    assert batch.encoding == reported
    assert batch.format == "csv"
    assert batch.columns == ["内容", "时间", "提交人", "点赞"]
    rows = rows_of(batch)
    assert [r.text for r in rows] == ["想学公文写作", "灭火器怎么用"]
    assert rows[0].submitted_at == datetime(2024, 5, 1, 11, 30, tzinfo=UTC)
    assert rows[0].submitter == "u1"
    assert rows[0].votes == 3
    assert rows[1].votes == 0


def test_gbk_file_with_few_chinese_characters(tmp_path: Path) -> None:
    """A short GBK file that an encoding guesser could mistake for a Latin code page is read as GB18030."""
    batch = read(write_csv(tmp_path / "f.csv", "text\n反诈\n", "gbk"))
    assert batch.encoding == "gb18030"
    assert [r.text for r in rows_of(batch)] == ["反诈"]


def test_tsv_and_tab_separated_csv(tmp_path: Path) -> None:
    """.tsv files, and .csv files that are really tab-separated, split on tabs."""
    content = "反馈\t身份\n想学表格,函数\t居民\n"
    for name in ("f.tsv", "g.csv"):
        rows = rows_of(read(write_csv(tmp_path / name, content)))
        assert [(r.text, r.segment) for r in rows] == [("想学表格,函数", "居民")]


def test_rows_are_streamed_by_a_generator(tmp_path: Path) -> None:
    """Iterating a batch is lazy (a generator), and a batch can be iterated twice."""
    batch = read(write_csv(tmp_path / "f.csv", SIMPLE_CSV))
    assert inspect.isgenerator(iter(batch))
    assert list(batch) == list(batch)
    assert batch.total_rows == 2


# --- columns ---------------------------------------------------------------------------------

DETECTED = [
    (
        "english",
        ["id", "text", "time", "submitter", "votes", "segment", "session"],
        {
            "id": "id",
            "text": "text",
            "time": "time",
            "submitter": "submitter",
            "votes": "votes",
            "segment": "segment",
            "session": "session",
        },
    ),
    (
        "chinese",
        ["编号", "意见建议", "提交时间", "填写人", "点赞数", "身份", "场次"],
        {
            "id": "编号",
            "text": "意见建议",
            "time": "提交时间",
            "submitter": "填写人",
            "votes": "点赞数",
            "segment": "身份",
            "session": "场次",
        },
    ),
    (
        "wenjuanxing",
        ["序号", "提交答卷时间", "所用时间", "来源", "1、您的身份是？", "2、您对夜校有什么意见或建议？"],
        {"id": "序号", "time": "提交答卷时间", "segment": "1、您的身份是？", "text": "2、您对夜校有什么意见或建议？"},
    ),
    ("only-duration-is-not-time", ["所用时间", "留言"], {"text": "留言"}),
    ("case-and-spaces", [" Feedback ", "TIME"], {"text": "Feedback", "time": "TIME"}),
]


@pytest.mark.parametrize(("header", "expected"), [c[1:] for c in DETECTED], ids=[c[0] for c in DETECTED])
def test_columns_are_recognised(tmp_path: Path, header: list[str], expected: dict[str, str]) -> None:
    """Common English, Chinese and questionnaire column names are recognised; header spaces are ignored."""
    path = write_csv(tmp_path / "f.csv", ",".join(header) + "\n")
    assert read(path).column_map == expected


def test_column_options_win(tmp_path: Path) -> None:
    """Columns named by options are used even when other columns look like a match."""
    content = "内容,备注,日子\n旧的,想学反诈,2024-05-01\n"
    batch = read(write_csv(tmp_path / "f.csv", content), text_column="备注", time_column="日子")
    assert batch.column_map["text"] == "备注"
    assert [r.text for r in rows_of(batch)] == ["想学反诈"]


def test_missing_named_column_lists_the_columns(tmp_path: Path) -> None:
    """A column option that matches nothing fails, listing the columns found."""
    path = write_csv(tmp_path / "f.csv", "内容,时间\n想学,2024-05-01\n")
    with pytest.raises(ImportFailed, match=r"找不到列“评论”.*内容、时间"):
        read(path, text_column="评论")


def test_no_text_column_lists_the_columns(tmp_path: Path) -> None:
    """Without a recognisable text column the import fails, naming the columns and the option."""
    path = write_csv(tmp_path / "f.csv", "甲,乙\n1,2\n")
    with pytest.raises(ImportFailed) as info:
        read(path)
    message = str(info.value)
    assert "甲、乙" in message and "--text-column" in message and "找不到反馈内容所在的列" in message
    assert " / " not in message and "found" not in message  # one language


# --- bad rows -----------------------------------------------------------------------------------


def test_bad_rows_become_row_errors_with_line_numbers(tmp_path: Path) -> None:
    """Bad time, bad votes, missing text and huge cells are reported per line; good rows still come."""
    content = (
        "内容,时间,点赞\n"  # line 1
        "想学公文,2024-05-01,1\n"  # 2 good
        "想学消防,下周二,0\n"  # 3 bad time
        "想学反诈,2024-05-01,-2\n"  # 4 negative votes
        ",2024-05-01,0\n"  # 5 no text
        f"{'长' * 101},2024-05-01,0\n"  # 6 too long
        "想学表格,2024-05-01,很多\n"  # 7 garbled votes
        "\n"  # 8 blank: skipped silently
        '"多行\n留言",2024-05-03,0\n'  # 9 one row spanning two lines
        "想学摄影,2024-05-04,2\n"  # 10 good
    )
    items = list(read(write_csv(tmp_path / "f.csv", content)))
    errors = {e.line: e.reason for e in items if isinstance(e, RowError)}
    assert sorted(errors) == [3, 4, 5, 6, 7]
    assert "提交时间" in errors[3]
    assert "负数" in errors[4]
    assert "缺少反馈内容" in errors[5]
    assert "最多 100 个字，当前 101 个字" in errors[6]
    assert "整数" in errors[7]
    good = [(r.line, r.text) for r in items if isinstance(r, ImportedRow)]
    assert good == [(2, "想学公文"), (9, "多行\n留言"), (10, "想学摄影")]


def test_long_cell_that_cleans_short_is_kept(tmp_path: Path) -> None:
    """The length limit counts the cleaned text, so padding whitespace does not make a row fail."""
    content = "内容\n" + "想学" + " " * 200 + "反诈\n"
    assert [r.text.split() for r in rows_of(read(write_csv(tmp_path / "f.csv", content)))] == [["想学", "反诈"]]


def test_cell_beyond_the_csv_field_limit_is_a_row_error(tmp_path: Path) -> None:
    """A gigantic cell is one RowError; the rows after it are still read."""
    content = "内容\n想学公文\n" + "长" * 200_000 + "\n想学反诈\n"
    items = list(read(write_csv(tmp_path / "f.csv", content)))
    assert [type(i).__name__ for i in items] == ["ImportedRow", "RowError", "ImportedRow"]
    assert items[1].line == 3


def test_xlsx_cell_escapes_are_read(tmp_path: Path) -> None:
    """Excel writes a carriage return in a cell as 「_x000D_」 (and other characters XML cannot hold
    as 「_xHHHH_」); openpyxl returns them as they are. The reader decodes them: 「_x005F_」 is
    the underscore, so 「_x005F_x000D_」 is that text itself."""
    path = write_xlsx(
        tmp_path / "导出.xlsx",
        [["内容_x000D_（必填）", "时间"], ["第一行_x000D_\n第二行_x000B_第三行", "2024-05-01"], ["写作_x005F_x000D_格式", "2024-05-02"]],
    )
    batch = read(path)
    assert batch.column_map["text"] == "内容\r（必填）"
    texts = [r.text for r in rows_of(batch)]
    assert texts == ["第一行\r\n第二行\x0b第三行", "写作_x000D_格式"]
    assert clean_text(texts[0]) == "第一行 第二行 第三行"


def test_csv_html_debris_is_cleaned_before_storage(service, tmp_path: Path) -> None:
    """A CSV copied from a web tool (「&quot;」, 「<br/>」, 「&nbsp;」) or made from an Excel export
    (「_x000D_」) is stored clean; 「温度<10度」 stays as written."""
    content = (
        "内容\n"
        '"想学&quot;防诈骗&quot;<br/>和急救&nbsp;"\n'
        "老人手机课_x000D_ 希望多讲微信\n"
        "冬天温度<10度时怎么养花\n"
    )
    rows = rows_of(read(write_csv(tmp_path / "网页.csv", content)))
    drafts = [service.draft(r.text, source="import:网页.csv") for r in rows]
    ids, skipped = service.store_batch(drafts, [None] * len(drafts))
    assert skipped == 0
    assert [r.text for r in service.store.get_many(ids)] == [
        '想学"防诈骗" 和急救', "老人手机课 希望多讲微信", "冬天温度<10度时怎么养花"
    ]


@pytest.mark.parametrize(
    "cell", ["=SUM(A1:A3)", "+86 想学", "-1 反诈", "@所有人 想学消防"], ids=["equals", "plus", "minus", "at"]
)
def test_formula_like_cells_are_plain_text(tmp_path: Path, cell: str) -> None:
    """Cells starting with = + - @ are kept as the text they are."""
    path = write_csv(tmp_path / "f.csv", f'内容\n"{cell}"\n')
    assert [r.text for r in rows_of(read(path))] == [cell]


# --- external ids --------------------------------------------------------------------------------


def test_content_ids_are_stable_and_distinguish_repeats(tmp_path: Path) -> None:
    """Without an id column, ids come from the row content: equal across reads, distinct for repeats."""
    content = "内容,时间,点赞\n想学反诈,2024-05-01,1\n想学反诈,2024-05-01,1\n想学消防,2024-05-01,0\n"
    path = write_csv(tmp_path / "f.csv", content)
    first = [r.external_id for r in rows_of(read(path))]
    second = [r.external_id for r in rows_of(read(path))]
    assert first == second
    assert len(set(first)) == 3
    assert first[1] == f"{first[0]}-2"


def test_content_ids_ignore_votes_and_file_format(tmp_path: Path) -> None:
    """The same feedback gets the same id when votes change or it comes as XLSX instead of CSV."""
    csv_path = write_csv(tmp_path / "a.csv", "内容,时间,点赞\n想学反诈,2024-05-01 19:30,1\n")
    csv_again = write_csv(tmp_path / "b.csv", "内容,时间,点赞\n想学反诈,2024-05-01 19:30,9\n")
    xlsx_path = write_xlsx(
        tmp_path / "c.xlsx", [["内容", "时间", "点赞"], ["想学反诈", datetime(2024, 5, 1, 19, 30), 1]]
    )
    ids = {rows_of(read(p))[0].external_id for p in (csv_path, csv_again, xlsx_path)}
    assert len(ids) == 1


def test_id_column_values_are_kept(tmp_path: Path) -> None:
    """An id column's values become external ids; numeric XLSX ids lose the trailing .0."""
    path = write_xlsx(
        tmp_path / "f.xlsx", [["答卷编号", "建议"], [101, "想学反诈"], [102.0, "想学消防"], ["A-7", "想学公文"]]
    )
    assert [r.external_id for r in rows_of(read(path, id_column="答卷编号"))] == ["101", "102", "A-7"]


# --- XLSX ---------------------------------------------------------------------------------------


def test_questionnaire_xlsx(tmp_path: Path) -> None:
    """A 问卷星-style export: spaced headers, date cells, serial numbers and text times all read."""
    path = write_xlsx(
        tmp_path / "问卷.xlsx",
        [
            [" 序号 ", " 提交答卷时间 ", "所用时间", "1、您的身份是？", "2、您希望下期学什么？请写下您的建议"],
            [1, datetime(2024, 5, 1, 19, 30), "95秒", "居民", "想学灭火器使用"],
            [2, "2024/5/2 20:15:00", "60秒", "网格员", "网格台账怎么整理"],
            [3, 45414.5, "30秒", "楼栋长", "调解技巧"],
        ],
    )
    batch = read(path)
    assert batch.format == "xlsx"
    assert batch.encoding is None
    assert batch.columns[:2] == ["序号", "提交答卷时间"]
    assert batch.source == "import:问卷.xlsx"
    rows = rows_of(batch)
    assert [(r.line, r.segment, r.text) for r in rows] == [
        (2, "居民", "想学灭火器使用"),
        (3, "网格员", "网格台账怎么整理"),
        (4, "楼栋长", "调解技巧"),
    ]
    assert [r.submitted_at for r in rows] == [
        datetime(2024, 5, 1, 11, 30, tzinfo=UTC),
        datetime(2024, 5, 2, 12, 15, tzinfo=UTC),
        datetime(2024, 5, 2, 4, 0, tzinfo=UTC),
    ]


def test_xlsx_line_numbers_skip_blank_rows_and_find_the_header(tmp_path: Path) -> None:
    """Line numbers are Excel row numbers even with empty rows and an empty first sheet."""
    workbook = openpyxl.Workbook()
    workbook.active.title = "说明"
    sheet = workbook.create_sheet("数据")
    sheet["A2"] = "内容"
    sheet["A3"] = "想学反诈"
    sheet["A6"] = "想学消防"
    sheet["A7"] = ""
    path = tmp_path / "f.xlsx"
    workbook.save(path)
    batch = read(path)
    assert batch.sheet == "数据"
    assert [(r.line, r.text) for r in rows_of(batch)] == [(3, "想学反诈"), (6, "想学消防")]


def test_xlsx_title_above_the_table_is_not_the_header(tmp_path: Path) -> None:
    """A sheet made for printing: a merged title row (and a date line) above the column names.
    The header is the row naming the columns; line numbers stay Excel's; the title is no feedback."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["2026年12月社区夜校学习需求调查汇总"])
    sheet.merge_cells("A1:D1")
    sheet.append(["制表：街道办", None, None, None])
    sheet.append(["提交时间", "反馈内容", "身份", "姓名"])
    sheet.append([datetime(2026, 12, 1, 9, 30), "想学怎么用表格统计居民信息", "网格员", "王芳"])
    sheet.append([datetime(2026, 12, 2, 20, 15), "", "居民", "李强"])
    path = tmp_path / "汇总.xlsx"
    workbook.save(path)
    batch = read(path)
    assert batch.column_map["text"] == "反馈内容" and batch.column_map["time"] == "提交时间"
    [row] = rows_of(batch)
    assert (row.line, row.text, row.segment) == (4, "想学怎么用表格统计居民信息", "网格员")
    assert [e.line for e in errors_of(batch)] == [5]


def test_csv_saved_from_such_a_sheet_finds_its_header_too(tmp_path: Path) -> None:
    """The same sheet saved as CSV (the title padded with commas): header on line 2, line numbers kept."""
    path = write_csv(tmp_path / "汇总.csv", "2026年12月社区夜校学习需求调查汇总,,,\n提交时间,反馈内容,身份,姓名\n"
                     "2026-12-01 09:30,想学怎么用表格统计居民信息,网格员,王芳\n2026-12-02 20:15,,居民,李强\n")
    batch = read(path)
    assert batch.column_map["text"] == "反馈内容" and batch.total_rows == 2
    assert [(r.line, r.text) for r in rows_of(batch)] == [(3, "想学怎么用表格统计居民信息")]
    assert [e.line for e in errors_of(batch)] == [4]


def test_xlsx_one_column_sheet_keeps_its_first_row_as_header(tmp_path: Path) -> None:
    """Only one column: its first row is the header, as before (no row names several columns)."""
    path = write_xlsx(tmp_path / "f.xlsx", [["意见"], ["想学反诈"], ["想学消防"], ["想学公文"], ["想学急救"]])
    assert [r.text for r in rows_of(read(path))] == ["想学反诈", "想学消防", "想学公文", "想学急救"]


def test_xlsx_formula_text_cell_is_plain_text(tmp_path: Path) -> None:
    """A text cell that looks like a formula is read as text, not evaluated."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["A1"] = "内容"
    sheet["A2"] = "=1+1"
    sheet["A2"].data_type = "s"
    path = tmp_path / "f.xlsx"
    workbook.save(path)
    assert [r.text for r in rows_of(read(path))] == ["=1+1"]


def _rewrite_zip(source: Path, target: Path, replace: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for item in zin.infolist():
            zout.writestr(item, replace.get(item.filename, zin.read(item.filename)))
    return target


def test_xlsx_without_default_style_reads_quietly(tmp_path: Path) -> None:
    """openpyxl's 'no default style' warning (common in exported files) does not fail the import."""
    source = write_xlsx(tmp_path / "s.xlsx", [["内容"], ["想学反诈"]])
    styles = (
        b'<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main"><cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        b"</cellXfs></styleSheet>"
    )
    path = _rewrite_zip(source, tmp_path / "f.xlsx", {"xl/styles.xml": styles})
    assert [r.text for r in rows_of(read(path))] == ["想学反诈"]


def test_truncated_xlsx_fails_cleanly(tmp_path: Path) -> None:
    """A cut-off XLSX raises ImportFailed in Chinese (the error's type named for support)."""
    source = write_xlsx(tmp_path / "s.xlsx", [["内容"], *[[f"第{i}条建议"] for i in range(200)]])
    path = tmp_path / "f.xlsx"
    path.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    with pytest.raises(ImportFailed, match=r"无法读取 Excel 文件 f\.xlsx.*错误类型 \w+）。$"):
        list(read(path))


def test_garbage_xlsx_fails_cleanly(tmp_path: Path) -> None:
    """A file named .xlsx that is not a zip (e.g. a renamed CSV) raises ImportFailed."""
    path = write_csv(tmp_path / "f.xlsx", "内容\n想学\n")
    with pytest.raises(ImportFailed, match="无法读取 Excel 文件"):
        read(path)


def test_xlsx_with_broken_sheet_xml_fails_cleanly(tmp_path: Path) -> None:
    """A zip whose sheet XML is damaged raises ImportFailed, not a parser traceback."""
    source = write_xlsx(tmp_path / "s.xlsx", [["内容"], ["想学反诈"]])
    path = _rewrite_zip(source, tmp_path / "f.xlsx", {"xl/worksheets/sheet1.xml": b"<worksheet><sheetData><row"})
    with pytest.raises(ImportFailed, match="无法读取 Excel 文件"):
        list(read(path))


def test_xlsx_without_any_header_fails(tmp_path: Path) -> None:
    """An XLSX with only empty sheets says so."""
    path = write_xlsx(tmp_path / "f.xlsx", [])
    with pytest.raises(ImportFailed, match="没有找到带列名的工作表"):
        read(path)


# --- JSONL ---------------------------------------------------------------------------------------


def test_jsonl_rows_and_errors(tmp_path: Path) -> None:
    """JSONL lines are numbered from 1; invalid JSON, non-objects and missing text are RowErrors."""
    lines = [
        json.dumps(
            {"text": "想学反诈", "time": "2024-05-01T19:30:00+08:00", "votes": 2, "id": "a1"}, ensure_ascii=False
        ),
        "{not json",
        "",
        json.dumps([1, 2]),
        json.dumps({"time": "2024-05-01"}),
        json.dumps({"text": "想学消防", "segment": "居民", "session": "S1", "user": "u9"}, ensure_ascii=False),
        json.dumps({"text": {"nested": 1}}),
    ]
    path = tmp_path / "f.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    batch = read(path)
    assert batch.format == "jsonl"
    assert batch.column_map["text"] == "text"
    items = list(batch)
    assert [(type(i).__name__, i.line) for i in items] == [
        ("ImportedRow", 1),
        ("RowError", 2),
        ("RowError", 4),
        ("RowError", 5),
        ("ImportedRow", 6),
        ("RowError", 7),
    ]
    first, second = items[0], items[4]
    assert isinstance(first, ImportedRow) and isinstance(second, ImportedRow)
    assert (first.external_id, first.votes, first.submitted_at) == ("a1", 2, datetime(2024, 5, 1, 11, 30, tzinfo=UTC))
    assert (second.segment, second.session_id, second.submitter) == ("居民", "S1", "u9")
    assert "JSON" in items[1].reason
    # One language: where the line breaks, not the json module's English ("Expecting property name …").
    assert items[1].reason == "这一行不是有效的 JSON（第 2 个字符处出错），每行应为一个 JSON 对象 {…}。"


def test_ndjson_extension(tmp_path: Path) -> None:
    """.ndjson is read as JSONL."""
    path = tmp_path / "f.ndjson"
    path.write_text('{"feedback": "想学表格"}\n', encoding="utf-8")
    assert [r.text for r in rows_of(read(path))] == ["想学表格"]


def test_jsonl_without_objects_fails(tmp_path: Path) -> None:
    """A JSONL file with no objects at all fails as a whole."""
    path = tmp_path / "f.jsonl"
    path.write_text("not json\n[1]\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="没有有效的 JSON 对象"):
        read(path)


# --- whole-file failures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "words"),
    [("f.txt", "不支持的文件类型"), ("f.xls", "另存为 .xlsx"), ("f", "无扩展名")],
    ids=["txt", "xls", "no-extension"],
)
def test_unknown_extension_fails(tmp_path: Path, name: str, words: str) -> None:
    """Unsupported file types fail with a Chinese message (one language)."""
    path = write_csv(tmp_path / name, "内容\n想学\n")
    with pytest.raises(ImportFailed, match=words) as info:
        read(path)
    assert "不支持的文件类型" in str(info.value) and "Unsupported" not in str(info.value)


def test_missing_file_fails(tmp_path: Path) -> None:
    """A path that does not exist fails clearly."""
    with pytest.raises(ImportFailed, match="找不到文件"):
        read(tmp_path / "nope.csv")


def test_empty_csv_fails(tmp_path: Path) -> None:
    """An empty CSV has no header and fails."""
    with pytest.raises(ImportFailed, match="空的"):
        read(write_csv(tmp_path / "f.csv", ""))


# --- drafts and report --------------------------------------------------------------------------------


def test_rows_become_drafts_through_the_shared_rules(tmp_path: Path) -> None:
    """ImportedRow.to_draft applies clean_feedback: masking, segment check, source."""
    content = "内容,身份\n我叫张三，电话13812345678,居民\n想学反诈,火星人\n"
    batch = read(write_csv(tmp_path / "f.csv", content))
    good, unknown = rows_of(batch)
    draft = good.to_draft(source=batch.source, settings=SETTINGS)
    assert draft.text == "我叫[姓名]，电话[手机号]"
    assert draft.source == "import:f.csv"
    assert draft.external_id == good.external_id
    # A segment the file names but the settings do not is read as none (the default), and counted.
    assert unknown.to_draft(source=batch.source, settings=SETTINGS).segment == "其他"
    with pytest.raises(ValidationFailed, match="身份类别"):
        dataclasses.replace(unknown, segment="火星人").to_draft(source=batch.source, settings=SETTINGS)


def test_import_report_summary() -> None:
    """The report summary counts imported, duplicate and failed rows and lists the failures."""
    report = ImportReport(
        file="f.csv", format="csv", encoding="gb18030", imported=3, duplicates=1, errors=[RowError(4, "缺少反馈内容")]
    )
    summary = report.summary()
    assert "导入 3 条" in summary and "重复跳过 1 条" in summary and "第 4 行：缺少反馈内容" in summary


def test_xlsx_cover_sheet_in_front_of_the_table_is_not_read(tmp_path: Path) -> None:
    """A workbook whose first sheet is a note (「说明」, one cell) and whose second holds the
    table: the table is read, not the note (which imported nothing and said nothing)."""
    workbook = openpyxl.Workbook()
    workbook.active.title = "说明"
    workbook.active["A1"] = "本表为夜校需求汇总，请勿修改表头"
    sheet = workbook.create_sheet("数据")
    sheet.append(["提交时间", "意见建议", "身份"])
    sheet.append([datetime(2026, 11, 3, 10, 0), "想学太极拳", "居民"])
    path = tmp_path / "f.xlsx"
    workbook.save(path)
    batch = read(path)
    assert batch.sheet == "数据" and batch.column_map["text"] == "意见建议"
    assert [(r.line, r.text) for r in rows_of(batch)] == [(2, "想学太极拳")]


def test_xlsx_group_row_above_the_column_names_is_not_the_header(tmp_path: Path) -> None:
    """A two-level header: group names merged across their columns (「基本信息」, 「调查内容」)
    above the column names, 「序号」 merged down over both rows. The column names are the header
    (the time column is found, the question title is no feedback); line numbers stay Excel's."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["序号", "基本信息", None, "调查内容", None])
    sheet.append([None, "提交时间", "身份", "想学的课程", "其他建议"])
    sheet.merge_cells("A1:A2")
    sheet.merge_cells("B1:C1")
    sheet.merge_cells("D1:E1")
    sheet.append([1, datetime(2026, 11, 1, 10, 0), "居民", "太极拳", "希望晚上七点后开课"])
    path = tmp_path / "f.xlsx"
    workbook.save(path)
    batch = read(path, text_column="其他建议")
    assert batch.columns == ["序号", "提交时间", "身份", "想学的课程", "其他建议"]
    assert batch.column_map["time"] == "提交时间"
    [row] = rows_of(batch)
    assert (row.line, row.text, row.submitted_at) == (3, "希望晚上七点后开课", datetime(2026, 11, 1, 2, 0, tzinfo=UTC))


def test_csv_header_with_an_unnamed_column_is_still_the_header(tmp_path: Path) -> None:
    """A header with an unnamed column (pandas' index, a column left unnamed) is no group row:
    the data rows below it stay data, even when they hold only text."""
    path = write_csv(tmp_path / "f.csv", "内容,,备注\n想学太极拳,居民,晚上\n想学八段锦,居民,周末\n")
    assert [(r.line, r.text) for r in rows_of(read(path))] == [(2, "想学太极拳"), (3, "想学八段锦")]
    path = write_csv(tmp_path / "g.csv", ",内容,时间\n0,想学太极拳,2026-11-01\n")
    assert [(r.line, r.text) for r in rows_of(read(path))] == [(2, "想学太极拳")]


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("空.csv", b"", "是空的（0 字节）"),
        ("空.xlsx", b"", "是空的（0 字节）"),
        ("空.jsonl", b"", "是空的（0 字节）"),
        ("旧版.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504, "旧版 Excel（.xls）或 WPS 表格，或设置了打开密码"),
        ("旧版.csv", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504, "旧版 Excel（.xls）"),
    ],
)
def test_a_file_of_the_wrong_kind_says_what_it_is(tmp_path: Path, name: str, content: bytes, says: str) -> None:
    """An empty file, an old .xls (or a password-protected workbook, the same container) named
    .xlsx or .csv: the message says what the file is and what to do, not only that it is broken."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFailed, match=f"{path.name} {says}" if "0 字节" in says else says):
        read(path)


def test_a_workbook_named_csv_says_to_rename_it(tmp_path: Path) -> None:
    """An .xlsx saved or renamed as .csv is recognised as a workbook (it said 「无法识别文字编码」)."""
    workbook = write_xlsx(tmp_path / "f.xlsx", [["内容"], ["想学太极拳"]])
    path = tmp_path / "汇总.csv"
    path.write_bytes(workbook.read_bytes())
    with pytest.raises(ImportFailed, match=r"汇总\.csv 实际是 Excel 工作簿（\.xlsx）.*扩展名改为 \.xlsx"):
        read(path)


def test_csv_votes_grouped_in_thousands_keep_their_line(tmp_path: Path) -> None:
    """Excel writes a formatted like count into a CSV as 「"1,234"」: the line is imported with
    its votes (it was refused, 「点赞数必须是整数」, and the feedback left out)."""
    path = write_csv(tmp_path / "f.csv", '内容,点赞\n想学太极拳,"1,234"\n想学八段锦,1.2万\n')
    assert [(r.text, r.votes) for r in rows_of(read(path))] == [("想学太极拳", 1234), ("想学八段锦", 12000)]


def _formula_sheet(tmp_path: Path, cached: str | None = None) -> Path:
    """A sheet whose text cell on line 3 is a formula, as a script (openpyxl) writes it: no saved
    result, or (``cached``) the result Excel/WPS stores on saving."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in (["内容", "时间"], ["想学反诈", "2026-11-03"], ['=A2&"技巧"', "2026-11-04"], ["想学消防", "2026-11-05"]):
        sheet.append(row)
    path = tmp_path / "made.xlsx"
    workbook.save(path)
    if cached is None:
        return path
    with zipfile.ZipFile(path) as zin:
        xml = zin.read("xl/worksheets/sheet1.xml").decode()
    xml = xml.replace('<c r="A3"><f>A2&amp;"技巧"</f><v /></c>', f'<c r="A3" t="str"><f>A2&amp;"技巧"</f><v>{cached}</v></c>')
    assert cached in xml
    return _rewrite_zip(path, tmp_path / "saved.xlsx", {"xl/worksheets/sheet1.xml": xml.encode()})


def test_xlsx_formula_without_a_saved_result_says_so(tmp_path: Path) -> None:
    """A formula cell with no saved result is refused as such (column, what to do), not as an empty cell."""
    batch = read(_formula_sheet(tmp_path))
    assert [r.text for r in rows_of(batch)] == ["想学反诈", "想学消防"]
    [error] = errors_of(batch)
    assert error.line == 3
    assert "列“内容”" in error.reason and "公式" in error.reason and "为空" not in error.reason
    assert "打开这个文件、保存后再导入" in error.reason and "选择性粘贴" in error.reason


def test_xlsx_formula_with_a_saved_result_is_imported(tmp_path: Path) -> None:
    """A formula whose result the file keeps (saved by Excel/WPS) is imported with that result."""
    batch = read(_formula_sheet(tmp_path, cached="想学反诈技巧"))
    assert [r.text for r in rows_of(batch)] == ["想学反诈", "想学反诈技巧", "想学消防"]
    assert errors_of(batch) == []


def test_xlsx_row_of_formulas_without_results_is_not_skipped_as_blank(tmp_path: Path) -> None:
    """A row whose every cell is an unsaved formula is refused with the reason, never dropped as a blank row."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in (["内容", "时间"], ["想学反诈", "2026-11-03"], ['=A2&"技巧"', "=B2"]):
        sheet.append(row)
    workbook.save(tmp_path / "f.xlsx")
    [error] = errors_of(read(tmp_path / "f.xlsx"))
    assert error.line == 3 and "列“内容”、“时间”" in error.reason


def test_xlsx_total_row_at_the_bottom_is_named_not_imported(tmp_path: Path) -> None:
    """A total row under the table (「合计」, a count, a SUM formula) is refused as a total row, never imported as feedback."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in (
        [],
        ["序号", "反馈内容", "提交时间", "点赞数"],
        [1, "想学书法", "2026/11/3 19:05", 3],
        [2, "希望讲讲医保报销", "2026年11月3日", 5],
        ["合计", "2条", None, "=SUM(D3:D4)"],
    ):
        sheet.append(row)
    workbook.save(tmp_path / "f.xlsx")
    batch = read(tmp_path / "f.xlsx")
    assert [r.text for r in rows_of(batch)] == ["想学书法", "希望讲讲医保报销"]
    [error] = errors_of(batch)
    assert error.line == 5 and "合计行（“合计”）" in error.reason and "公式" not in error.reason


@pytest.mark.parametrize(
    ("last", "total"),
    [
        ("合计,,8", True),
        ("总计：,3条,", True),
        (",合计：2条,", True),
        ("Total,2,8", True),
        ("合计,希望多开合计报税的课,1", False),
        (",总数太少了，多开几期,2", False),
    ],
    ids=["label-only", "label-count", "label-in-text", "english", "words-are-feedback", "word-inside-text"],
)
def test_csv_total_row_is_told_from_feedback(tmp_path: Path, last: str, total: bool) -> None:
    """A CSV saved from such a sheet: the total row is refused as one; a row whose text cell holds words is feedback."""
    path = write_csv(tmp_path / "f.csv", f"序号,内容,点赞\n1,想学书法,3\n2,想学反诈,5\n{last}\n")
    batch = read(path)
    assert len(rows_of(batch)) == (2 if total else 3)
    assert [e.line for e in errors_of(batch) if "合计行" in e.reason] == ([4] if total else [])


def test_excel_error_value_is_no_feedback(tmp_path: Path) -> None:
    """A text cell holding Excel's error value (#REF!, #N/A: a failed formula) is refused saying so, in XLSX and CSV."""
    xlsx = write_xlsx(tmp_path / "f.xlsx", [["内容", "日期"], ["想学唱歌", "2026-11-03"], ["#REF!", "2026-11-04"]])
    csv_file = write_csv(tmp_path / "f.csv", "内容,日期\n想学唱歌,2026-11-03\n#N/A,2026-11-04\n")
    for path, shown in ((xlsx, "#REF!"), (csv_file, "#N/A")):
        batch = read(path)
        assert [r.text for r in rows_of(batch)] == ["想学唱歌"]
        [error] = errors_of(batch)
        assert error.line == 3 and f"错误值“{shown}”" in error.reason


def test_questionnaire_error_value_refuses_that_answer_only(tmp_path: Path) -> None:
    """In a 问卷星 sheet an answer that is an error value is refused by its question; the sheet's other answers are kept."""
    header = ["序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP", "1、您想学什么？", "2、其他建议"]
    rows = [[n, f"2026/11/3 19:0{n}", "60秒", "微信", "N/A", "1.2.3.4", f"想学第{n}门课程的内容", f"希望第{n}期晚上上课，时间更灵活"] for n in range(1, 6)]
    rows[2][6] = "#N/A"
    batch = read(write_xlsx(tmp_path / "wjx.xlsx", [header, *rows]))
    assert len(rows_of(batch)) == 9
    [error] = errors_of(batch)
    assert error.line == 4 and error.reason.startswith("第 1 题：") and "错误值" in error.reason


def test_segment_column_names_are_mapped_not_refused(tmp_path: Path) -> None:
    """A plain table's 身份 column written a little differently (社区居民, A.居民) is mapped to the
    configured segment; one naming none is counted and kept as 其他: its feedback is imported either way."""
    path = write_csv(
        tmp_path / "f.csv",
        "内容,身份\n想学插花,社区居民\n希望讲讲防诈骗,A.居民\n想学电脑,社区工作者\n学做PPT,网格员\n",
    )
    batch = read_feedback_file(path, settings=Settings(max_text_length=100, segments="居民,网格员,其他"))
    assert [r.segment for r in rows_of(batch)] == ["居民", "居民", None, "网格员"]
    assert errors_of(batch) == []
    assert batch.notes == ["人群列有 1 个回答对应不到身份类别（如 “社区工作者”），记为“其他”"]


def test_a_choice_answered_like_a_total_word_is_no_total_row(tmp_path: Path) -> None:
    """Only the row's first filled cell (or its text cell) labels a total row: 「平均」 as a later cell is an answer."""
    path = write_csv(tmp_path / "f.csv", "序号,每周学几次,内容\n1,平均,想学书法\n2,平均,\n")
    batch = read(path)
    assert [r.text for r in rows_of(batch)] == ["想学书法"]
    assert [e.reason for e in errors_of(batch)] == ["缺少反馈内容（该行内容列为空）。"]
