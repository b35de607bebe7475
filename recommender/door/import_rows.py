"""The rows of an import: what a row becomes (:class:`ImportedRow` or :class:`RowError`),
the batch that streams them (:class:`ImportBatch`), and how a header is understood: which
column holds what, questionnaire layouts, stable content ids. No file reading here
(:mod:`recommender.door.import_files` opens the files; :mod:`recommender.door.importer`
is the entry point).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any


from recommender.config import Settings, local_zone
from recommender.errors import ImportFailed, ValidationFailed
from recommender.door.content_keys import ContentKeys
from recommender.door.validation import (
    FeedbackDraft,
    clean_feedback,
    clean_text,
    parse_timestamp,
    parse_votes,
)
from recommender.door.sheet_rows import error_value_reason
from recommender.door.questionnaire import (
    Question,
    QuestionnairePlan,
    answer_text,
    detect_layout,
    is_blank_answer,
    list_questions,
    map_segment,
    parse_fill_seconds,
    plan_questionnaire,
    resolve_columns,
    split_question_options,
)

# Longer than this many times the limit, a cell is refused without cleaning it first.
_HUGE_FACTOR = 10

# Column names recognised when no option names the column (compared after NFKC, casefold, strip).
_EXACT: dict[str, tuple[str, ...]] = {
    "id": ("id", "external_id", "feedback_id", "编号", "答卷编号", "答卷id", "反馈编号"),
    "votes": ("votes", "vote", "likes", "like", "upvotes", "点赞", "点赞数", "赞", "票数", "投票数", "支持数"),
    "time": (
        "time",
        "timestamp",
        "submitted_at",
        "submit_time",
        "created_at",
        "created",
        "date",
        "datetime",
        "时间",
        "提交时间",
        "提交答卷时间",
        "填写时间",
        "答题时间",
        "日期",
        "创建时间",
        "反馈时间",
    ),
    "submitter": (
        "submitter",
        "user",
        "user_id",
        "userid",
        "author",
        "openid",
        "提交人",
        "提交者",
        "填写人",
        "填表人",
        "用户",
        "用户id",
        "用户名",
        "昵称",
        "微信昵称",
        "姓名",
    ),
    "segment": ("segment", "role", "group", "身份", "身份类别", "人员类别", "类别", "角色", "您的身份"),
    "session": ("session", "session_id", "场次", "课次", "期次", "班次", "课程场次"),
    "text": (
        "text",
        "feedback",
        "content",
        "comment",
        "comments",
        "message",
        "suggestion",
        "body",
        "内容",
        "反馈",
        "反馈内容",
        "意见",
        "建议",
        "意见建议",
        "意见和建议",
        "留言",
        "问题",
        "需求",
        "培训需求",
        "想学的内容",
    ),
}
# Questionnaire headers are whole questions ("3、您对夜校有什么意见或建议？"): parts to look for.
_CONTAINS: dict[str, tuple[str, ...]] = {
    "text": ("反馈", "建议", "意见", "想学", "留言", "需求", "内容", "问题"),
    "time": ("提交答卷时间", "提交时间", "填写时间", "时间", "日期"),
    "segment": ("身份", "人员类别"),
    "votes": ("点赞", "票数"),
    "submitter": ("提交人", "填写人", "用户", "昵称"),
    "session": ("场次", "期次"),
}
# "所用时间" in 问卷星 exports is how long answering took, not when.
_NOT_TIME = ("所用", "用时", "耗时")


@dataclass(frozen=True)
class RowError:
    """A row that cannot be imported: its line number and the reason (Chinese)."""

    line: int
    reason: str


@dataclass(frozen=True)
class ImportedRow:
    """One row as read from the file, before validation and masking."""

    line: int
    text: str
    submitted_at: datetime | None
    submitter: str | None
    votes: int
    external_id: str | None
    segment: str | None
    session_id: str | None
    #: How long the questionnaire took to fill in, in seconds (None: unknown, or not a questionnaire).
    fill_seconds: int | None = None
    #: The content key this row had before debris was cleaned, where that changed it
    #: (:mod:`recommender.door.content_keys`).
    former_id: str | None = None

    def to_draft(self, *, source: str, settings: Settings, now: datetime | None = None) -> FeedbackDraft:
        """Validate and mask this row with the rules every door uses (raises ValidationFailed)."""
        draft = clean_feedback(
            self.text,
            segment=self.segment,
            session_id=self.session_id,
            submitter=self.submitter,
            submitted_at=self.submitted_at,
            votes=self.votes,
            external_id=self.external_id,
            source=source,
            settings=settings,
            now=now,
        )
        draft.former_external_id = self.former_id
        return draft


@dataclass
class ImportReport:
    """What an import did, for the CLI summary: counts and the skipped rows with reasons."""

    file: str
    format: str
    encoding: str | None
    imported: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)
    #: What was detected and done (``ImportBatch.notes``), printed after the counts.
    notes: list[str] = field(default_factory=list)

    def summary(self, max_errors: int = 20) -> str:
        """A short Chinese summary with up to ``max_errors`` skipped rows listed."""
        lines = [
            f"文件 {self.file}（{self.format}{'，编码 ' + self.encoding if self.encoding else ''}）："
            f"导入 {self.imported} 条，重复跳过 {self.duplicates} 条，出错跳过 {len(self.errors)} 条。"
        ]
        lines += [f"  第 {e.line} 行：{e.reason}" for e in self.errors[:max_errors]]
        if len(self.errors) > max_errors:
            lines.append(f"  …… 另有 {len(self.errors) - max_errors} 行出错未列出。")
        lines += [f"  说明：{note}" for note in self.notes]
        return "\n".join(lines)


RawRow = dict[str, Any]
_RowSource = Callable[[], Iterator[tuple[int, RawRow | None, str | None]]]


class ImportBatch:
    """An opened import file. Iterate it for ``ImportedRow`` / ``RowError`` items (streamed)."""

    def __init__(
        self,
        *,
        path: Path,
        format: str,
        encoding: str | None,
        columns: list[str],
        column_map: dict[str, str],
        total_rows: int | None,
        max_text_length: int,
        rows: _RowSource,
        sheet: str | None = None,
        plan: QuestionnairePlan | None = None,
        segments: Sequence[str] = (),
    ) -> None:
        self.path = path
        #: "csv", "tsv", "xlsx" or "jsonl".
        self.format = format
        #: The text encoding used to read the file ("utf-8", "utf-8-sig", "gb18030", …); None for XLSX.
        self.encoding = encoding
        #: The column names found in the file (header cells trimmed; JSONL: keys of the first objects).
        self.columns = columns
        #: Which column each recognised field comes from, e.g. {"text": "意见建议", "time": "提交时间"}.
        self.column_map = column_map
        #: Roughly how many data rows there are (for a progress bar), None when unknown.
        self.total_rows = total_rows
        #: The XLSX sheet read.
        self.sheet = sheet
        #: "wjx" (问卷星 export), "tencent" (腾讯问卷 export) or "generic".
        self.layout = plan.layout if plan else "generic"
        #: The columns whose cells become feedback lines (several for a questionnaire).
        self.text_columns = [q.column for q in plan.texts] if plan else [column_map["text"]]
        self._plan = plan
        self._segments = tuple(segments)
        self._max_text_length = max_text_length
        self._rows = rows
        self._tally_notes: list[str] = []

    @property
    def notes(self) -> list[str]:
        """What was detected and done, in Chinese, for the CLI: the layout, the questions read,
        the ignored personal columns; after a full iteration also the blank answers skipped,
        the segment answers not mapped and the answering durations that could not be read.
        Generic files read without question options: only the segment values not mapped."""
        return [*(self._plan.notes if self._plan else ()), *self._tally_notes]

    @property
    def source(self) -> str:
        """The store's source for these rows: ``import:<file name>``."""
        return f"import:{self.path.name}"

    def __iter__(self) -> Iterator[ImportedRow | RowError]:
        keys = ContentKeys(cell_escapes=self.format == "xlsx")
        tally = _Tally()
        for line, raw, error in self._rows():
            if error is not None:
                yield RowError(line, error)
            elif raw is None:
                continue
            elif self._plan is None:
                yield _to_row(line, raw, self._max_text_length, keys, _segment(raw.get("segment"), self._segments, tally))
            else:
                yield from _answer_rows(line, raw, self._plan, self._segments, self._max_text_length, keys, tally)
        self._tally_notes = tally.notes("题" if self._plan is not None else "列")

    def __repr__(self) -> str:
        return (
            f"ImportBatch({self.path.name!r}, format={self.format!r}, encoding={self.encoding!r}, "
            f"layout={self.layout!r}, columns={self.column_map!r})"
        )




# --- questionnaires ------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionOptions:
    questions: list[str] | None
    segment: str | None
    segments: tuple[str, ...]


def settle_columns(
    path: Path,
    header: list[str],
    sample: Callable[[], list[Sequence[Any]]],
    wanted: dict[str, str | None],
    options: QuestionOptions,
) -> tuple[dict[str, int], QuestionnairePlan | None]:
    """Field positions for a plain table, or the plan for a questionnaire export."""
    layout = detect_layout(header)
    questions, segment = options.questions, options.segment
    if layout != "generic":
        if wanted["text"] is not None:
            if questions:
                raise _both(path, "--text-column", "--questions")
            questions = [wanted["text"]]
        if wanted["segment"] is not None:
            if segment is not None:
                raise _both(path, "--segment-column", "--segment-question")
            segment = wanted["segment"]
        plan = plan_questionnaire(
            header,
            sample(),
            layout=layout,
            segments=options.segments,
            file_name=path.name,
            questions=questions,
            segment=segment,
            columns={k: wanted[k] for k in ("time", "id", "session", "submitter", "votes")},
        )
        return plan.fields, plan
    if not questions and segment is None:
        return map_columns(path, header, wanted), None
    # A plain table whose caller names questions: numbers resolve against numbered headers.
    numbered = list_questions(header)
    wanted = dict(wanted)
    no_segment = False
    if segment is not None:
        if wanted["segment"] is not None:
            raise _both(path, "--segment-column", "--segment-question")
        if _norm_name(segment) in ("none", "无", "0", "-"):
            no_segment = True
        else:
            wanted["segment"] = header[resolve_columns(segment, header, numbered, path.name)[0]]
    texts: list[int] = []
    if questions:
        if wanted["text"] is not None:
            raise _both(path, "--text-column", "--questions")
        for spec in split_question_options(questions):
            texts += [i for i in resolve_columns(spec, header, numbered, path.name) if i not in texts]
        wanted["text"] = header[texts[0]]
    positions = map_columns(path, header, wanted)
    if no_segment:
        positions.pop("segment", None)
    if not texts:
        return positions, None
    by_index = {q.index: q for q in numbered}
    chosen = [by_index.get(i) or Question.unnumbered(i, header[i]) for i in texts]
    fields = {fld: i for fld, i in positions.items() if fld != "text"}
    notes = ["反馈列（按选项指定）：" + "、".join(q.column for q in chosen) + "，每列的内容各作一条反馈"]
    return fields, QuestionnairePlan(layout="generic", questions=numbered, texts=chosen, fields=fields, notes=notes)


def _both(path: Path, first: str, second: str) -> ImportFailed:
    return ImportFailed(
        f"{first} 与 {second} 只能用一个（文件 {path.name}）。"
    )


def plan_column_map(header: Sequence[str], plan: QuestionnairePlan) -> dict[str, str]:
    column_map = {fld: header[i] for fld, i in plan.fields.items()}
    column_map["text"] = plan.texts[0].column
    return column_map


def plan_picker(plan: QuestionnairePlan) -> Callable[[Sequence[Any]], RawRow]:
    # Only the planned positions are read: personal-data columns never leave the file.
    def pick(cells: Sequence[Any]) -> RawRow:
        raw: RawRow = {fld: cells[i] if i < len(cells) else None for fld, i in plan.fields.items()}
        raw["texts"] = [(q, cells[q.index] if q.index < len(cells) else None) for q in plan.texts]
        raw["fill"] = {role: cells[i] if i < len(cells) else None for role, i in plan.fill.items()}
        return raw

    return pick


@dataclass
class _Tally:
    blank: int = 0
    unmapped: Counter[str] = field(default_factory=Counter)
    bad_fill: int = 0

    def notes(self, kind: str) -> list[str]:
        notes = []
        if self.blank:
            notes.append(f"已跳过空白回答 {self.blank} 个（空、无、没有、暂无 等）")
        if self.bad_fill:
            notes.append(f"有 {self.bad_fill} 份答卷的答题用时无法识别，这些答卷不按用时审核")
        if self.unmapped:
            examples = "、".join(f"“{a[:20]}”" for a, _ in self.unmapped.most_common(3))
            notes.append(
                f"人群{kind}有 {sum(self.unmapped.values())} 个回答对应不到身份类别（如 {examples}），记为“其他”"
            )
        return notes


def _answer_rows(
    line: int,
    raw: RawRow,
    plan: QuestionnairePlan,
    segments: Sequence[str],
    max_len: int,
    keys: ContentKeys,
    tally: _Tally,
) -> Iterator[ImportedRow | RowError]:
    """One questionnaire answer sheet: a line per non-blank free-text answer."""
    try:
        time_value = raw.get("time")
        submitted_at = None if cell_text(time_value) is None else parse_timestamp(time_value)
        votes = parse_votes(raw.get("votes"))
    except ValidationFailed as exc:
        yield RowError(line, exc.message)
        return
    submitter = cell_text(raw.get("submitter"))
    session_id = cell_text(raw.get("session"))
    answer = cell_text(raw.get("segment"))
    segment = _segment(raw.get("segment"), segments, tally)
    fill_seconds = _fill_seconds(raw.get("fill") or {}, tally)
    number = cell_text(raw.get("id"))
    day = submitted_at.astimezone(local_zone()).strftime("%Y%m%d") if submitted_at else None
    for question, value in raw["texts"]:
        if isinstance(value, (dict, list, bool)):
            yield RowError(line, f"第 {question.label} 题：反馈内容必须是文字。")
            continue
        cell = cell_text(value)
        text = answer_text(cell, question.index in plan.multi_choice) if cell is not None else None
        if not text or is_blank_answer(text):
            tally.blank += 1
            continue
        if (error_value := error_value_reason(text)) is not None:
            yield RowError(line, f"{_where(question)}{error_value}")
            continue
        too_long = _too_long(text, max_len)
        if too_long:
            yield RowError(line, f"{_where(question)}{too_long}")
            continue
        content = None if number is not None else keys(text, submitted_at, submitter, answer, session_id, question.key)
        external_id = "-".join(p for p in (number, day, question.key) if p) if content is None else content.key
        yield ImportedRow(
            line=line,
            text=text,
            submitted_at=submitted_at,
            submitter=submitter,
            votes=votes,
            external_id=external_id,
            segment=segment,
            session_id=session_id,
            fill_seconds=fill_seconds,
            former_id=content.former if content else None,
        )


def _segment(value: Any, segments: Sequence[str], tally: _Tally) -> str | None:
    """The configured segment a segment cell names ("A.居民", "社区居民" -> "居民"); one naming
    none is counted and left None (the default segment), so its feedback is still imported."""
    answer = cell_text(value)
    if answer is None or not segments:
        return answer
    segment = map_segment(answer, segments)
    if segment is None and not is_blank_answer(answer):
        tally.unmapped[answer] += 1
    return segment


def _fill_seconds(cells: dict[str, Any], tally: _Tally) -> int | None:
    """An answer sheet's answering time: the duration cell, else its end minus its start.
    Blank gives None quietly; a value that cannot be read gives None and is counted."""
    duration = cells.get("duration")
    if cell_text(duration) is not None:
        seconds = parse_fill_seconds(duration)
        if seconds is None:
            tally.bad_fill += 1
        return seconds
    start, end = cells.get("start"), cells.get("end")
    if cell_text(start) is None or cell_text(end) is None:
        return None
    try:
        elapsed = (parse_timestamp(end) - parse_timestamp(start)).total_seconds()
    except ValidationFailed:
        elapsed = -1.0
    if elapsed < 0:
        tally.bad_fill += 1
        return None
    return int(elapsed)


def _where(question: Question) -> str:
    return f"第 {question.label} 题：" if question.number else f"列“{question.column}”："


# --- columns -----------------------------------------------------------------------------


def _norm_name(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip().casefold()


def map_columns(path: Path, columns: Sequence[str], wanted: dict[str, str | None]) -> dict[str, int]:
    """Field -> column position: the options first, then exact names, then name parts."""
    normed = [_norm_name(c) for c in columns]
    found: dict[str, int] = {}
    for fld, name in wanted.items():
        if name is None:
            continue
        target = _norm_name(name)
        if target not in normed:
            raise ImportFailed(
                f"文件 {path.name} 中找不到列“{name}”。文件中的列：{_list_columns(columns)}。"
            )
        found[fld] = normed.index(target)
    for fld, names in _EXACT.items():
        if fld in found or wanted.get(fld) is not None:
            continue
        for name in names:
            if name in normed and normed.index(name) not in found.values():
                found[fld] = normed.index(name)
                break
    for fld, parts in _CONTAINS.items():
        if fld in found:
            continue
        for part in parts:
            hits = [
                i
                for i, n in enumerate(normed)
                if part in n and i not in found.values() and not (fld == "time" and any(x in n for x in _NOT_TIME))
            ]
            if hits:
                found[fld] = hits[0]
                break
    if "text" not in found:
        raise ImportFailed(
            f"文件 {path.name} 中找不到反馈内容所在的列，请用 --text-column 指定。"
            f"文件中的列：{_list_columns(columns)}。"
        )
    return found


def _list_columns(columns: Sequence[str]) -> str:
    shown = [c for c in columns if c] or ["（无）"]
    return "、".join(shown)


# --- rows ------------------------------------------------------------------------------


def cell_text(value: Any) -> str | None:
    """A cell as text: None for empty, integral floats without ".0", times in ISO form."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (datetime, date, time)):
        value = value.isoformat()
    text = str(value).strip()
    return text or None


def _to_row(line: int, raw: RawRow, max_len: int, keys: ContentKeys, segment: str | None) -> ImportedRow | RowError:
    value = raw.get("text")
    if isinstance(value, (dict, list, bool)):
        return RowError(line, "反馈内容必须是文字。")
    text = cell_text(value)
    if text is None:
        return RowError(line, "缺少反馈内容（该行内容列为空）。")
    if (error_value := error_value_reason(text)) is not None:
        return RowError(line, error_value)
    too_long = _too_long(text, max_len)
    if too_long:
        return RowError(line, too_long)
    try:
        time_value = raw.get("time")
        submitted_at = None if cell_text(time_value) is None else parse_timestamp(time_value)
        votes = parse_votes(raw.get("votes"))
    except ValidationFailed as exc:
        return RowError(line, exc.message)
    submitter = cell_text(raw.get("submitter"))
    session_id = cell_text(raw.get("session"))
    external_id = cell_text(raw.get("id"))
    content = None
    if external_id is None:  # keyed by the cell as written, whatever segments are configured
        content = keys(text, submitted_at, submitter, cell_text(raw.get("segment")), session_id)
        external_id = content.key
    return ImportedRow(
        line=line,
        text=text,
        submitted_at=submitted_at,
        submitter=submitter,
        votes=votes,
        external_id=external_id,
        segment=segment,
        session_id=session_id,
        former_id=content.former if content else None,
    )


def _too_long(text: str, max_len: int) -> str | None:
    """The reason a text is over the limit (counted after cleaning), None when it fits."""
    if len(text) > max_len:
        size = len(text) if len(text) > _HUGE_FACTOR * max_len else len(clean_text(text))
        if size > max_len:
            return f"反馈内容过长：最多 {max_len} 个字，当前 {size} 个字。"
    return None


def column_picker(positions: dict[str, int]) -> Callable[[Sequence[Any]], RawRow]:
    def pick(cells: Sequence[Any]) -> RawRow:
        return {fld: cells[i] if i < len(cells) else None for fld, i in positions.items()}

    return pick


def blank_row(cells: Sequence[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)
