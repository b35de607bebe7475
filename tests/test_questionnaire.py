"""Tests for questionnaire exports (问卷星, 腾讯问卷): detection, roles, privacy and options."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import datetime, timezone
from pathlib import Path

import openpyxl
import pytest

from recommender.config import Settings
from recommender.errors import ImportFailed
from recommender.door.importer import ImportBatch, ImportedRow, ImportReport, RowError, read_feedback_file
from recommender.door.questionnaire import (
    detect_layout,
    is_blank_answer,
    list_questions,
    map_segment,
    split_question_options,
)

SETTINGS = Settings(max_text_length=100)
SEGMENTS = SETTINGS.segments
UTC = timezone.utc

WJX_META = ["序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自IP"]
WJX_QUESTIONS = [
    "1、您的身份是？",
    "2、您参加过哪些课程？",
    "3、您对夜校课程有什么意见或建议？",
    "4、您的年龄段",
    "5、您下期最想学什么？",
    "6、您的手机号（选填）",
]
IPS = ["112.10.1.5(浙江-杭州)", "36.22.8.9(浙江-宁波)", "61.7.3.2(浙江-温州)", "120.1.1.1(上海)"]
PHONES = ["13812345678", "13987654321", "13700001111", "13622223333", "13544445555", "13366667777"]
# (序号, time, segment answer, courses, q3, age, q5)
WJX_ANSWERS = [
    (1, "2024/5/1 19:30:05", "A.居民", "反诈┋消防", "希望多讲讲手机防诈骗的案例", "30-40岁", "想学短视频剪辑"),
    (2, "2024/5/1 20:01:10", "B.网格员", "消防", "无", "30-40岁", "网格台账的表格怎么做"),
    (3, "2024/5/2 19:05:00", "居民（住户）", "反诈", "(空)", "40-50岁", "老人智能手机使用"),
    (4, "2024/5/2 19:40:00", "楼栋长", "反诈┋急救", "上课时间能不能晚一点", "40-50岁", "没有"),
    (5, "2024/5/3 19:10:00", "C.党员", "急救", "教室空调太冷了", "50岁以上", "党史学习资料怎么找"),
    (6, "2024/5/3 21:00:00", "退休教师", "消防┋急救", "讲义能提前发到群里", "50岁以上", "(跳过)"),
]


def wjx_rows() -> list[list[object]]:
    rows: list[list[object]] = [WJX_META + WJX_QUESTIONS]
    for i, (number, when, segment, courses, q3, age, q5) in enumerate(WJX_ANSWERS):
        rows.append(
            [number, when, f"{60 + i}秒", "微信", "http://mp.weixin.qq.com/s/abc", IPS[i % len(IPS)]]
            + [segment, courses, q3, age, q5, PHONES[i]]
        )
    return rows


def write_csv(path: Path, rows: list[list[object]], encoding: str = "gbk") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


TENCENT_HEADER = [
    "编号",
    "开始答题时间",
    "结束答题时间",
    "答题时长",
    "IP地址",
    "1.您是？",
    "2.您觉得课程安排合理吗？",
    "3.您在学习中遇到的困难",
    "4.其他想法",
]


def tencent_rows() -> list[list[object]]:
    answers = [
        ("社区干部", "合理", "白天要上班，晚上来不及吃饭", "希望开书法课"),
        ("志愿者", "合理", "手机字太小看不清", "暂无"),
        ("网格员", "一般", "", "多组织居民互相交流"),
        ("居民", "合理", "记不住操作步骤", "想学做短视频"),
        ("居民", "不合理", "没有", "课程可以录下来"),
    ]
    rows: list[list[object]] = [TENCENT_HEADER]
    for i, (segment, q2, q3, q4) in enumerate(answers, start=1):
        start = datetime(2024, 6, 1, 19, 0, i)
        rows.append([i, start, datetime(2024, 6, 1, 19, 5, i), "300秒", f"10.0.0.{i}", segment, q2, q3, q4])
    return rows


def read(path: Path, **options: object) -> ImportBatch:
    return read_feedback_file(path, settings=SETTINGS, **options)  # type: ignore[arg-type]


def rows_of(batch: ImportBatch) -> list[ImportedRow]:
    return [item for item in batch if isinstance(item, ImportedRow)]


@pytest.fixture
def wjx_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "夜校问卷.csv", wjx_rows())


@pytest.fixture
def tencent_xlsx(tmp_path: Path) -> Path:
    return write_xlsx(tmp_path / "腾讯问卷.xlsx", tencent_rows())


# --- detection -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "layout"),
    [
        (WJX_META + WJX_QUESTIONS, "wjx"),
        (["序号", "提交答卷时间", "所用时间", "1、您的身份是？"], "wjx"),
        (TENCENT_HEADER, "tencent"),
        (["内容", "时间", "身份"], "generic"),
        (["序号", "提交答卷时间", "所用时间", "内容"], "generic"),
        (["1、您的身份", "2、建议"], "generic"),
    ],
    ids=["wjx-full", "wjx-minimal", "tencent", "plain", "wjx-columns-without-questions", "questions-only"],
)
def test_layout_is_detected_from_the_header(header: list[str], layout: str) -> None:
    """The export's metadata columns plus numbered questions tell 问卷星 from 腾讯问卷 from a plain table."""
    assert detect_layout(header) == layout


def test_numbered_questions_are_listed() -> None:
    """Question columns get their number, title and key; repeated numbers become sub-keys."""
    questions = list_questions(["序号", "1、您的身份是？", "2.满意度—课程", "2.满意度—老师", "Q7", "备注"])
    assert [(q.index, q.number, q.key) for q in questions] == [(1, 1, "q1"), (2, 2, "q2.1"), (3, 2, "q2.2"), (4, 7, "q7")]
    assert questions[0].title == "您的身份是？"
    assert questions[1].label == "2.1"


def test_wjx_gbk_csv_roles(wjx_csv: Path) -> None:
    """A GBK 问卷星 CSV: time, 序号, the segment question and the free-text questions are found."""
    batch = read(wjx_csv)
    assert (batch.layout, batch.format, batch.encoding) == ("wjx", "csv", "gb18030")
    assert batch.column_map == {
        "time": "提交答卷时间",
        "id": "序号",
        "segment": "1、您的身份是？",
        "text": "3、您对夜校课程有什么意见或建议？",
    }
    assert batch.text_columns == ["3、您对夜校课程有什么意见或建议？", "5、您下期最想学什么？"]
    notes = "\n".join(batch.notes)
    assert "识别为问卷星导出" in notes
    assert "反馈题：3（" in notes and "5（" in notes
    assert "人群题：1" in notes
    assert "多选题不作为反馈：2" in notes
    assert "已忽略个人信息列：来源详情、来自IP、6、您的手机号（选填）" in notes


def test_tencent_xlsx_roles(tencent_xlsx: Path) -> None:
    """A 腾讯问卷 XLSX: 结束答题时间 is the time (not 答题时长), 编号 the id, “您是” the segment question."""
    batch = read(tencent_xlsx)
    assert (batch.layout, batch.format) == ("tencent", "xlsx")
    assert batch.column_map["time"] == "结束答题时间"
    assert batch.column_map["id"] == "编号"
    assert batch.column_map["segment"] == "1.您是？"
    assert batch.text_columns == ["3.您在学习中遇到的困难", "4.其他想法"]
    rows = rows_of(batch)
    assert rows[0].submitted_at == datetime(2024, 6, 1, 11, 5, 1, tzinfo=UTC)
    assert [(r.external_id, r.segment, r.text) for r in rows[:3]] == [
        ("1-20240601-q3", "社区干部", "白天要上班，晚上来不及吃饭"),
        ("1-20240601-q4", "社区干部", "希望开书法课"),
        ("2-20240601-q3", "志愿者", "手机字太小看不清"),
    ]
    assert "识别为腾讯问卷导出" in batch.notes[0]


# --- privacy ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["wjx_csv", "tencent_xlsx"])
def test_personal_columns_never_reach_the_rows(request: pytest.FixtureRequest, fixture: str) -> None:
    """No IP address, 来源详情 or phone number appears in any field of any row."""
    batch = read(request.getfixturevalue(fixture))
    items = list(batch)
    assert items and all(isinstance(i, ImportedRow) for i in items)
    dumped = repr([dataclasses.astuple(i) for i in items])
    for secret in [*IPS, *PHONES, "10.0.0.", "mp.weixin.qq.com"]:
        assert secret not in dumped
    assert all(r.submitter is None for r in items if isinstance(r, ImportedRow))


def test_personal_columns_cannot_be_chosen(wjx_csv: Path) -> None:
    """Naming the IP column or a phone question in an option fails instead of reading it."""
    with pytest.raises(ImportFailed, match="个人信息"):
        read(wjx_csv, question_columns=["6"])
    with pytest.raises(ImportFailed, match="个人信息"):
        read(wjx_csv, submitter_column="来自IP")


# --- rows ------------------------------------------------------------------------------------------


def test_free_text_answers_become_separate_lines_with_stable_ids(wjx_csv: Path) -> None:
    """Each free-text answer is its own line with id <序号>-<date>-q<n>; a re-read gives the same ids."""
    rows = rows_of(read(wjx_csv))
    assert [(r.line, r.external_id, r.text) for r in rows] == [
        (2, "1-20240501-q3", "希望多讲讲手机防诈骗的案例"),
        (2, "1-20240501-q5", "想学短视频剪辑"),
        (3, "2-20240501-q5", "网格台账的表格怎么做"),
        (4, "3-20240502-q5", "老人智能手机使用"),
        (5, "4-20240502-q3", "上课时间能不能晚一点"),
        (6, "5-20240503-q3", "教室空调太冷了"),
        (6, "5-20240503-q5", "党史学习资料怎么找"),
        (7, "6-20240503-q3", "讲义能提前发到群里"),
    ]
    assert [r.external_id for r in rows_of(read(wjx_csv))] == [r.external_id for r in rows]
    assert rows[0].submitted_at == datetime(2024, 5, 1, 11, 30, 5, tzinfo=UTC)


def test_same_answers_as_xlsx_get_the_same_ids(tmp_path: Path, wjx_csv: Path) -> None:
    """The XLSX export of the same questionnaire, with real date cells, yields the same ids."""
    rows = wjx_rows()
    for row in rows[1:]:
        row[1] = datetime.strptime(str(row[1]), "%Y/%m/%d %H:%M:%S")
    xlsx = write_xlsx(tmp_path / "夜校问卷.xlsx", rows)
    assert [r.external_id for r in rows_of(read(xlsx))] == [r.external_id for r in rows_of(read(wjx_csv))]


def test_blank_answers_are_skipped_and_counted(wjx_csv: Path) -> None:
    """无 / (空) / 没有 / (跳过) answers make no line and no error, and the notes count them."""
    batch = read(wjx_csv)
    assert not any("已跳过空白回答" in n for n in batch.notes)
    items = list(batch)
    assert not any(isinstance(i, RowError) for i in items)
    assert "已跳过空白回答 4 个（空、无、没有、暂无 等）" in batch.notes


def test_segment_answers_map_to_configured_segments(wjx_csv: Path) -> None:
    """Option letters and notes in brackets are stripped; an unknown answer is None and counted."""
    batch = read(wjx_csv)
    segments = {r.line: r.segment for r in rows_of(batch)}
    assert segments == {2: "居民", 3: "网格员", 4: "居民", 5: "楼栋长", 6: "党员", 7: None}
    assert any("人群题有 1 个回答对应不到身份类别（如 “退休教师”）" in n for n in batch.notes)
    draft = next(r for r in rows_of(batch) if r.line == 7).to_draft(source=batch.source, settings=SETTINGS)
    assert draft.segment == "其他"


@pytest.mark.parametrize(
    ("answer", "segment"),
    [
        ("A.居民", "居民"),
        ("B、网格员", "网格员"),
        ("居民（住户）", "居民"),
        ("其他〖退休教师〗", "其他"),
        ("干部", "社区干部"),
        ("党员志愿者", None),
        ("退休教师", None),
    ],
    ids=["letter-dot", "letter-comma", "bracket-note", "fill-in", "contained", "two-segments", "unknown"],
)
def test_map_segment(answer: str, segment: str | None) -> None:
    """Segment answers map to a configured segment only when exactly one matches."""
    assert map_segment(answer, SEGMENTS) == segment


@pytest.mark.parametrize("answer", ["", "无", "无。", "没有", "暂无", "(空)", "（空）", "-", "(跳过)", " N/A "])
def test_blank_answer_words(answer: str) -> None:
    """Answers that say nothing are recognised, in full- or half-width forms."""
    assert is_blank_answer(answer)


def test_too_long_answer_is_a_row_error_naming_the_question(tmp_path: Path) -> None:
    """An answer over the limit fails alone, naming its question; the other answer still imports."""
    rows = wjx_rows()
    rows[1][8] = "长" * 101
    items = list(read(write_csv(tmp_path / "f.csv", rows)))
    errors = [i for i in items if isinstance(i, RowError)]
    assert [(e.line, e.reason[:8]) for e in errors] == [(2, "第 3 题：反馈")]
    assert any(isinstance(i, ImportedRow) and i.external_id == "1-20240501-q5" for i in items)


# --- ambiguity and options ---------------------------------------------------------------------------


def test_no_free_text_question_asks_for_the_option(tmp_path: Path) -> None:
    """With only choice questions the import fails, listing the questions and the --questions option."""
    rows = [[c for j, c in enumerate(r) if j not in (8, 10)] for r in wjx_rows()]
    with pytest.raises(ImportFailed) as info:
        read(write_csv(tmp_path / "f.csv", rows))
    message = str(info.value)
    assert "无法确定哪些题是文字反馈" in message and "--questions" in message
    assert "1、您的身份是？（人群题）" in message and "2、您参加过哪些课程？（多选题）" in message
    assert "个人信息，不导入" in message and "question_columns=" in message


def test_several_segment_candidates_ask_for_the_option(tmp_path: Path) -> None:
    """Two questions answered with segments make the import fail, naming --segment-question."""
    rows = wjx_rows()
    rows[0].append("7、您家人的身份是？")
    for row in rows[1:]:
        row.append("居民")
    path = write_csv(tmp_path / "f.csv", rows)
    with pytest.raises(ImportFailed, match=r"--segment-question 1.*--segment-question none"):
        read(path)
    assert {r.segment for r in rows_of(read(path, segment_question="7"))} == {"居民"}


@pytest.mark.parametrize(
    ("options", "keys"),
    [
        ({"question_columns": ["5"]}, {"q5"}),
        ({"question_columns": ["3,5"]}, {"q3", "q5"}),
        ({"question_columns": ["3", "第5题"]}, {"q3", "q5"}),
        ({"question_columns": ["您下期最想学什么？"]}, {"q5"}),
        ({"question_columns": ["3、您对夜校课程有什么意见或建议？"]}, {"q3"}),
        ({"text_column": "5"}, {"q5"}),
    ],
    ids=["number", "comma-list", "mixed", "title", "header-cell", "text-column-number"],
)
def test_question_options_pick_the_questions(wjx_csv: Path, options: dict[str, object], keys: set[str]) -> None:
    """Questions named by number, list, title or header cell replace the detected ones."""
    batch = read(wjx_csv, **options)
    assert {r.external_id.rsplit("-", 1)[1] for r in rows_of(batch) if r.external_id} == keys
    assert "按选项指定" in batch.notes[1]


def test_segment_question_none_and_multi_choice_as_text(wjx_csv: Path) -> None:
    """segment_question="none" reads no segment; a named multi-choice question is joined with 、."""
    batch = read(wjx_csv, question_columns=["2"], segment_question="none")
    rows = rows_of(batch)
    assert rows[0].text == "反诈、消防"
    assert {r.segment for r in rows} == {None}
    assert "按选项不读人群题" in "\n".join(batch.notes)


def test_segment_column_takes_a_question_number(wjx_csv: Path) -> None:
    """In a questionnaire, segment_column accepts a question number like segment_question."""
    assert read(wjx_csv, segment_column="1").column_map["segment"] == "1、您的身份是？"


def test_conflicting_options_fail(wjx_csv: Path) -> None:
    """text_column with question_columns (or segment_column with segment_question) is refused."""
    with pytest.raises(ImportFailed, match="只能用一个"):
        read(wjx_csv, text_column="3", question_columns=["5"])
    with pytest.raises(ImportFailed, match="只能用一个"):
        read(wjx_csv, segment_column="1", segment_question="1")


def test_unknown_question_lists_the_questions(wjx_csv: Path) -> None:
    """A question number that does not exist fails, listing the numbered questions."""
    with pytest.raises(ImportFailed, match=r"找不到题目或列“9”(.|\n)*5、您下期最想学什么？"):
        read(wjx_csv, question_columns=["9"])


# --- generic files ------------------------------------------------------------------------------------


def test_generic_files_are_unaffected(tmp_path: Path) -> None:
    """A plain table reads as before: one line per row, raw segment, content ids, no notes."""
    path = write_csv(tmp_path / "f.csv", [["内容", "时间", "身份"], ["想学反诈", "2024-05-01", "居民"]], "utf-8")
    batch = read(path)
    assert (batch.layout, batch.notes, batch.text_columns) == ("generic", [], ["内容"])
    assert batch.column_map == {"text": "内容", "time": "时间", "segment": "身份"}
    (row,) = rows_of(batch)
    assert (row.text, row.segment) == ("想学反诈", "居民")
    assert row.external_id is not None and row.external_id.startswith("h")


def test_generic_file_with_several_text_columns(tmp_path: Path) -> None:
    """question_columns on a plain table reads each named column as its own line, with distinct ids."""
    rows = [["想学的内容", "建议", "身份"], ["手机拍照", "无", "居民"], ["反诈", "晚点上课", "网格员"]]
    path = write_csv(tmp_path / "f.csv", rows, "utf-8")
    batch = read(path, question_columns=["想学的内容", "建议"])
    got = rows_of(batch)
    assert [(r.line, r.text, r.segment) for r in got] == [
        (2, "手机拍照", "居民"),
        (3, "反诈", "网格员"),
        (3, "晚点上课", "网格员"),
    ]
    assert len({r.external_id for r in got}) == 3
    assert batch.layout == "generic" and "反馈列（按选项指定）" in batch.notes[0]


def test_split_question_options() -> None:
    """Comma-separated numbers split; a title with punctuation stays whole."""
    assert split_question_options(["3,5", "7、8", "第9题"]) == ["3", "5", "7", "8", "第9题"]
    assert split_question_options(["您好，请问有什么建议？"]) == ["您好，请问有什么建议？"]


def test_report_summary_prints_notes() -> None:
    """ImportReport.summary ends with the batch's notes."""
    report = ImportReport(file="f.csv", format="csv", encoding="gb18030", imported=2, notes=["识别为问卷星导出"])
    assert report.summary().splitlines()[-1] == "  说明：识别为问卷星导出"
