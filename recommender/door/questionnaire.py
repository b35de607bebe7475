"""Recognise questionnaire exports (问卷星, 腾讯问卷) and decide which columns an import reads.

Pure functions over a header and a sample of rows; :mod:`recommender.door.importer` does the I/O.

* :func:`detect_layout` tells a 问卷星 export (``序号, 提交答卷时间, 所用时间, 来源, 来源详情,
  来自IP, 1、…``) from a 腾讯问卷 export (``编号, 开始答题时间, 结束答题时间, 答题时长, 1.…``) and
  from any other table ("generic", read by the importer's column names as before).
* :func:`list_questions` finds the numbered question columns (``3、…``, ``3.…``, ``Q3``).
* :func:`plan_questionnaire` settles the roles: the submission time (提交答卷时间 /
  结束答题时间, never the answering duration 所用时间 / 答题时长), the answer number (序号 / 编号),
  the segment question (its answers fall in the configured segments, or its title asks who you
  are), and the free-text questions (titles asking for 建议/意见/想学/困难…, answers long and
  varied rather than a few repeated choices). Options given by the caller win. When the roles
  cannot be settled, :class:`~recommender.errors.ImportFailed` lists the numbered questions and
  names the option to pass.

The answering duration (问卷星 所用时间, 腾讯问卷 答题时长, else 结束答题时间 − 开始答题时间) is
planned too (:attr:`QuestionnairePlan.fill`) and read by :func:`parse_fill_seconds`, so rows
filled in a few seconds can be flagged for review.

Personal-data columns — the IP address (来自IP, IP地址), 来源详情, nicknames, names, phone
numbers — and questions asking for them are never read into any field, whatever the options say.
Multi-choice answers (joined by ``┋``) are choices, not free text: never picked as feedback
unless named, and then the choices become one line joined by ``、``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any

from recommender.errors import ImportFailed

__all__ = [
    "LAYOUT_NAMES",
    "Question",
    "QuestionnairePlan",
    "answer_text",
    "detect_layout",
    "is_blank_answer",
    "is_personal_column",
    "list_questions",
    "map_segment",
    "parse_fill_seconds",
    "plan_questionnaire",
    "resolve_columns",
    "split_question_options",
]

#: Display names of the layouts ``detect_layout`` returns.
LAYOUT_NAMES = {"wjx": "问卷星", "tencent": "腾讯问卷", "generic": "普通表格"}

#: 问卷星 joins the options ticked in a multi-choice question with this character.
MULTI_SEPARATOR = "┋"

# Metadata columns of each export (compared after NFKC + casefold).
_WJX_COLUMNS = ("序号", "提交答卷时间", "所用时间", "来源", "来源详情", "来自ip")
_TENCENT_COLUMNS = ("编号", "开始答题时间", "结束答题时间", "答题时长")
_TIME_COLUMNS = {"wjx": ("提交答卷时间",), "tencent": ("结束答题时间", "开始答题时间")}
_ID_COLUMNS = {"wjx": ("序号",), "tencent": ("编号",)}
# How long answering took: a duration column, else (tencent) the start and end of answering.
_DURATION_COLUMNS = {"wjx": ("所用时间",), "tencent": ("答题时长",)}
_START_COLUMNS = {"tencent": ("开始答题时间",)}
_END_COLUMNS = {"tencent": ("结束答题时间",)}

# Words marking personal data, in a metadata column name or a question title.
_PERSONAL = (
    "来源详情",
    "昵称",
    "姓名",
    "手机",
    "电话",
    "联系方式",
    "微信号",
    "身份证",
    "住址",
    "门牌",
    "邮箱",
    "openid",
    "unionid",
    "地理位置",
)
_IP = re.compile(r"(?<![a-z])ip(?![a-z])")

_TEXT_TITLE = (
    "建议",
    "意见",
    "想学",
    "希望",
    "困难",
    "困扰",
    "问题",
    "反馈",
    "想法",
    "需求",
    "留言",
    "补充",
    "说说",
    "请写",
    "请填写",
    "请描述",
    "填空",
    "简答",
)
_CHOICE_TITLE = ("单选", "多选", "下拉", "量表", "评分", "打分", "排序")
_SEGMENT_TITLE = re.compile(r"身份|您是(?!否)|人群|类别|职务")
_SESSION_TITLE = ("场次", "期次", "班次", "课次")

_NUMBERED = re.compile(r"^(?:第\s*)?(\d{1,3})\s*题?\s*(?:[、.．:：)）]|(?=[(（\[【〔]))\s*(.*)$", re.S)
_Q_NUMBER = re.compile(r"^q(\d{1,3})(?:[_.-](\d+))?$")
_NUMBER_SPEC = re.compile(r"^(?:第|q)?\s*(\d{1,3})\s*题?$")
_OPTION_LETTER = re.compile(r"^[A-Za-z]\s*[.、:)]\s*")
_FILL_IN = re.compile(r"[〖【\[(（].*$")
_NO_SEGMENT = ("none", "无", "0", "-")
# "35秒", "2分5秒", "1分钟", "1小时2分3秒", "125s", "2 min 5 s" (after NFKC + casefold, spaces removed).
_DURATION_UNITS = re.compile(
    r"^(?:(\d+(?:\.\d+)?)(?:小时|时|h|hr|hrs|hours?))?"
    r"(?:(\d+(?:\.\d+)?)(?:分钟|分|m|min|mins|minutes?))?"
    r"(?:(\d+(?:\.\d+)?)(?:秒钟|秒|s|sec|secs|seconds?))?$"
)
# "00:02:05", "2:05" (minutes:seconds), "1:02:05.5".
_DURATION_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")

# Answers that say nothing; skipped quietly and counted. Compared after _plain().
_BLANK_ANSWERS = frozenset(
    {
        "",
        "无",
        "没有",
        "没",
        "没了",
        "没有了",
        "暂无",
        "暂时没有",
        "暂时没有了",
        "(空)",
        "空",
        "(跳过)",
        "跳过",
        "-",
        "--",
        "—",
        "——",
        "/",
        "n/a",
        "na",
        "none",
        "null",
        "无建议",
        "暂无建议",
        "没有建议",
        "无意见",
        "暂无意见",
        "没有意见",
    }
)
_TRAILING = " 。.!！~～…,，;；"

_MIN_SAMPLE = 4  # below this many answers, answer statistics say nothing


@dataclass(frozen=True)
class Question:
    """A numbered question column: its position, number, title and external-id key."""

    index: int
    number: int
    title: str
    column: str
    #: ``q3``; ``q3.2`` for the second column of question 3 (matrix rows, per-option columns).
    key: str

    @classmethod
    def unnumbered(cls, index: int, column: str) -> Question:
        """A column that is not a numbered question (named by an option), keyed by its position."""
        return cls(index=index, number=0, title=column, column=column, key=f"c{index + 1}")

    @property
    def label(self) -> str:
        """The number as people say it: ``3``, ``3.2`` for a sub-column; the header of an unnumbered column."""
        return self.key[1:] if self.number else self.column


@dataclass
class QuestionnairePlan:
    """Which columns an import reads, and what was detected, for the importer and its notes."""

    layout: str
    questions: list[Question]
    #: The free-text questions: each non-blank answer becomes its own feedback line.
    texts: list[Question]
    #: Field -> column position for the single-value fields ("time", "id", "segment", "session", …).
    fields: dict[str, int]
    #: Positions of multi-choice questions (their answers are joined with ``、`` when read as text).
    multi_choice: set[int] = field(default_factory=set)
    #: Personal-data columns never read.
    ignored: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Columns giving how long answering took: "duration" (所用时间 / 答题时长), and for
    #: 腾讯问卷 "start" / "end" (开始答题时间 / 结束答题时间) to compute it when there is none.
    fill: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Stats:
    n: int
    distinct: int
    mean_len: float
    multi: bool
    numeric: float
    lettered: float
    in_segments: float


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def _plain(value: str) -> str:
    return _norm(value).strip(_TRAILING)


def is_personal_column(name: str) -> bool:
    """True for columns (or question titles) holding personal data: IP, 来源详情, names, phones…"""
    normed = _norm(name)
    return bool(_IP.search(normed)) or any(word in normed for word in _PERSONAL)


def is_blank_answer(value: str) -> bool:
    """True for answers that say nothing: empty, 无, 没有, 暂无, (空), (跳过), -, …"""
    return _plain(value) in _BLANK_ANSWERS


def answer_text(value: str, multi_choice: bool) -> str:
    """An answer as feedback text: multi-choice options joined by ``、`` instead of ``┋``."""
    if multi_choice:
        return "、".join(part.strip() for part in value.split(MULTI_SEPARATOR) if part.strip())
    return value


def map_segment(answer: str, segments: Sequence[str]) -> str | None:
    """The configured segment an answer names ("A.居民", "居民（住户）" -> "居民"), None when unclear."""
    text = _norm(answer)
    text = _OPTION_LETTER.sub("", text)
    text = _FILL_IN.sub("", text).strip() or text  # "其他〖退休教师〗" -> "其他"
    normed = {_norm(s): s for s in segments}
    if text in normed:
        return normed[text]
    hits = {s for n, s in normed.items() if n and (n in text or text in n)}
    return hits.pop() if len(hits) == 1 else None


def parse_fill_seconds(value: Any) -> int | None:
    """How long answering took, in whole seconds (fractions dropped); None when blank or unreadable.

    Reads what 问卷星 and 腾讯问卷 exports hold: "35秒", "2分5秒", "1分钟", "1小时2分3秒",
    plain seconds (125, "125", "125.4"), clock forms ("00:02:05", "2:05" = 2 min 5 s) and
    the time or timedelta an XLSX duration cell becomes."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, time):
        seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    elif isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = re.sub(r"\s+", "", _norm(value))
        if not text:
            return None
        units = _DURATION_UNITS.match(text)
        clock = _DURATION_CLOCK.match(text)
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        elif units and any(units.groups()):
            hours, minutes, secs = (float(g) if g else 0.0 for g in units.groups())
            seconds = hours * 3600 + minutes * 60 + secs
        elif clock:
            hours = float(clock.group(1)) if clock.group(1) else 0.0
            seconds = hours * 3600 + float(clock.group(2)) * 60 + float(clock.group(3))
        else:
            return None
    else:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return int(seconds)  # whole seconds: 9.6 s is still under 10


def detect_layout(header: Sequence[str]) -> str:
    """"wjx" (问卷星), "tencent" (腾讯问卷) or "generic", from the header cells."""
    names = {_norm(c) for c in header}
    if not list_questions(header):
        return "generic"
    wjx = sum(c in names for c in _WJX_COLUMNS)
    if ("提交答卷时间" in names and wjx >= 2) or wjx >= 3:
        return "wjx"
    tencent = sum(c in names for c in _TENCENT_COLUMNS)
    if ("结束答题时间" in names or "开始答题时间" in names) and tencent >= 2:
        return "tencent"
    return "generic"


def list_questions(header: Sequence[str]) -> list[Question]:
    """The numbered question columns, in file order (``1、…``, ``1.…``, ``Q1``, ``Q1_2``)."""
    found: list[tuple[int, int, str, str]] = []
    for index, cell in enumerate(header):
        normed = unicodedata.normalize("NFKC", cell or "").strip()
        m = _NUMBERED.match((cell or "").strip())  # on the cell itself: titles keep their ？ and （）
        q = _Q_NUMBER.match(normed.casefold())
        if m and (m.group(2) or "").strip():
            found.append((index, int(m.group(1)), m.group(2).strip(), cell.strip()))
        elif q:
            found.append((index, int(q.group(1)), normed, cell.strip()))
    counts: dict[int, int] = {}
    for _, number, _, _ in found:
        counts[number] = counts.get(number, 0) + 1
    seen: dict[int, int] = {}
    questions = []
    for index, number, title, column in found:
        seen[number] = seen.get(number, 0) + 1
        key = f"q{number}" if counts[number] == 1 else f"q{number}.{seen[number]}"
        questions.append(Question(index=index, number=number, title=title, column=column, key=key))
    return questions


def split_question_options(values: Sequence[str]) -> list[str]:
    """Expand ``["3,5", "7"]`` to ``["3", "5", "7"]``; a value that is not all numbers stays whole."""
    out: list[str] = []
    for value in values:
        parts = [p.strip() for p in re.split(r"[,，、;；\s]+", value.strip()) if p.strip()]
        if parts and all(_NUMBER_SPEC.match(_norm(p)) for p in parts):
            out.extend(parts)
        else:
            out.append(value.strip())
    return out


# --- options -----------------------------------------------------------------------------


def _describe(questions: Sequence[Question], kinds: dict[int, str] | None = None) -> str:
    lines = []
    for q in questions:
        kind = f"（{kinds[q.index]}）" if kinds and q.index in kinds else ""
        title = q.title if len(q.title) <= 40 else q.title[:39] + "…"
        lines.append(f"  {q.label}、{title}{kind}")
    return "\n".join(lines) or "  （没有编号的题目）"


def _not_found(file_name: str, spec: str, header: Sequence[str], questions: Sequence[Question]) -> ImportFailed:
    return ImportFailed(
        f"文件 {file_name} 中找不到题目或列“{spec}”。题目：\n{_describe(questions)}\n"
        f"其他列：{'、'.join(c for c in header if c and c not in {q.column for q in questions})}。"
    )


def resolve_columns(spec: str, header: Sequence[str], questions: Sequence[Question], file_name: str) -> list[int]:
    """Positions named by an option: a header cell, a question number ("3", "第3题", "Q3") or a title."""
    target = _norm(spec)
    normed = [_norm(c) for c in header]
    if target in normed:
        return [normed.index(target)]
    m = _NUMBER_SPEC.match(target)
    if m:
        hits = [q.index for q in questions if q.number == int(m.group(1))]
        if hits:
            return hits
    titles = [q.index for q in questions if _norm(q.title) == target or _norm(q.label) == target]
    if titles:
        return titles
    raise _not_found(file_name, spec, header, questions)


def _refuse_personal(file_name: str, header: Sequence[str], positions: Sequence[int], option: str) -> None:
    for i in positions:
        if is_personal_column(header[i]):
            raise ImportFailed(
                f"列“{header[i]}”是个人信息（IP、昵称、姓名、电话等），不会导入，请勿用 {option} 指定。"
            )


# --- detection ---------------------------------------------------------------------------


def _stats(values: Sequence[Any], segments: Sequence[str]) -> _Stats:
    answers = []
    multi = False
    for value in values:
        if value is None:
            continue
        text = str(value).strip()
        if not text or is_blank_answer(text):
            continue
        multi = multi or MULTI_SEPARATOR in text
        answers.append(text)
    n = len(answers)
    if n == 0:
        return _Stats(0, 0, 0.0, multi, 0.0, 0.0, 0.0)
    return _Stats(
        n=n,
        distinct=len(set(answers)),
        mean_len=sum(len(a) for a in answers) / n,
        multi=multi,
        numeric=sum(bool(re.fullmatch(r"[-+]?\d+(?:\.\d+)?", a)) for a in answers) / n,
        lettered=sum(bool(_OPTION_LETTER.match(a)) for a in answers) / n,
        in_segments=sum(map_segment(a, segments) is not None for a in answers) / n,
    )


def _looks_free_text(q: Question, s: _Stats) -> bool:
    title = _norm(q.title)
    if s.multi or any(w in title for w in _CHOICE_TITLE):
        return False
    title_hit = any(w in title for w in _TEXT_TITLE)
    if s.n and (s.numeric >= 0.8 or s.lettered >= 0.5):
        return False
    if s.n < _MIN_SAMPLE:
        return title_hit
    repeated = s.distinct <= max(2, s.n // 2)
    if title_hit:
        return not repeated
    return s.distinct >= 0.8 * s.n and s.mean_len >= 8


def plan_questionnaire(
    header: Sequence[str],
    sample: Sequence[Sequence[Any]],
    *,
    layout: str,
    segments: Sequence[str],
    file_name: str,
    questions: Sequence[str] | None = None,
    segment: str | None = None,
    columns: dict[str, str | None] | None = None,
) -> QuestionnairePlan:
    """Settle which columns a 问卷星 / 腾讯问卷 export is read from.

    ``sample`` is the first data rows (cells in header order), used to tell choices from free
    text. ``questions`` (numbers, titles or header cells) names the free-text questions and
    ``segment`` the segment question ("none" for no segment); ``columns`` names the other
    fields' columns by header cell ("time", "id", "session", "submitter", "votes").
    Raises ImportFailed when the roles are ambiguous, naming the option to pass.
    """
    columns = {k: v for k, v in (columns or {}).items() if v is not None}
    all_questions = list_questions(header)
    ignored = [c for c in header if c and is_personal_column(c)]
    personal = {i for i, c in enumerate(header) if c and is_personal_column(c)}
    normed = [_norm(c) for c in header]
    by_index = {q.index: q for q in all_questions}
    stats = {
        q.index: _stats([row[q.index] if q.index < len(row) else None for row in sample], segments)
        for q in all_questions
    }
    multi = {q.index for q in all_questions if stats[q.index].multi or "多选" in _norm(q.title)}
    fields: dict[str, int] = {}
    notes = [f"识别为{LAYOUT_NAMES[layout]}导出"]

    # time, id and the other single fields: options first, then the export's own columns.
    for fld in ("time", "id", "session", "submitter", "votes"):
        if fld in columns:
            option = f"--{fld}-column"
            hits = resolve_columns(columns[fld], header, all_questions, file_name)
            _refuse_personal(file_name, header, hits, option)
            fields[fld] = hits[0]
    for fld, names in (("time", _TIME_COLUMNS.get(layout, ())), ("id", _ID_COLUMNS.get(layout, ()))):
        if fld not in fields:
            hit = next((normed.index(n) for n in names if n in normed), None)
            if hit is not None:
                fields[fld] = hit

    fill: dict[str, int] = {}
    for role, names in (
        ("duration", _DURATION_COLUMNS.get(layout, ())),
        ("start", _START_COLUMNS.get(layout, ())),
        ("end", _END_COLUMNS.get(layout, ())),
    ):
        hit = next((normed.index(n) for n in names if n in normed), None)
        if hit is not None:
            fill[role] = hit
    if "duration" not in fill and not ("start" in fill and "end" in fill):
        fill = {}

    # free-text questions
    candidates = [q for q in all_questions if q.index not in personal]
    if questions:
        picked: list[int] = []
        for spec in split_question_options(questions):
            hits = resolve_columns(spec, header, all_questions, file_name)
            _refuse_personal(file_name, header, hits, "--questions")
            picked += [i for i in hits if i not in picked]
        texts = [by_index[i] if i in by_index else Question.unnumbered(i, header[i]) for i in picked]
        texts_how = "（按选项指定）"
    else:
        texts = [q for q in candidates if _looks_free_text(q, stats[q.index])]
        texts_how = ""

    # segment question
    if segment is not None:
        if _norm(segment) in _NO_SEGMENT:
            segment_q: int | None = None
            segment_how = "none"
        else:
            hits = resolve_columns(segment, header, all_questions, file_name)
            _refuse_personal(file_name, header, hits, "--segment-question")
            if len(hits) > 1:
                raise ImportFailed(
                    f"“{segment}”对应多列，请指定其中一列作为人群题。"
                )
            segment_q = hits[0]
            segment_how = "option"
    else:
        text_idx = {q.index for q in texts}
        pool = [q for q in candidates if q.index not in multi]
        strong = [q for q in pool if stats[q.index].n and stats[q.index].in_segments >= 0.6]
        weak = [
            q
            for q in pool
            if _SEGMENT_TITLE.search(_norm(q.title))
            and q.index not in text_idx
            and (stats[q.index].n == 0 or stats[q.index].in_segments > 0)
        ]
        found = strong or weak
        if len(found) > 1:
            both = [q for q in strong if q in weak]
            found = both if len(both) == 1 else found
        if len(found) > 1:
            raise ImportFailed(
                f"文件 {file_name}（{LAYOUT_NAMES[layout]}导出）中有多道题可能是人群（身份类别）题："
                f"{'、'.join(q.label for q in found)}。请用 --segment-question 指定题号，"
                f"例如 --segment-question {found[0].label}；没有人群题时用 --segment-question none。题目：\n"
                f"{_describe(all_questions)}\n"
                f"Several questions could be the segment ({', '.join(q.label for q in found)}) in "
                f"{file_name}; pass --segment-question {found[0].label} (segment_question="
                f"{found[0].label!r}) or --segment-question none."
            )
        segment_q = found[0].index if found else None
        segment_how = "detected"
        # A question that matched the segments is choices, not free text.
        texts = [q for q in texts if q.index != segment_q]

    if not texts:
        kinds = {}
        for q in all_questions:
            if q.index in personal:
                kinds[q.index] = "个人信息，不导入"
            elif q.index in multi:
                kinds[q.index] = "多选题"
            elif q.index == segment_q:
                kinds[q.index] = "人群题"
            elif stats[q.index].n >= _MIN_SAMPLE and stats[q.index].distinct <= max(2, stats[q.index].n // 2):
                kinds[q.index] = "选择题"
        open_questions = [q for q in all_questions if q.index not in personal | multi and q.index != segment_q]
        example = open_questions[-1].label if open_questions else "3"
        raise ImportFailed(
            f"文件 {file_name}（{LAYOUT_NAMES[layout]}导出）中无法确定哪些题是文字反馈。"
            f"请用 --questions 指定题号，例如 --questions {example}（多道题用逗号分隔，如 --questions 3,5）。题目：\n"
            f"{_describe(all_questions, kinds)}\n"
            f"Cannot tell which questions hold free-text feedback in {file_name}; name them with "
            f"--questions {example} (question_columns=[{example!r}])."
        )
    if segment_q is not None:
        fields["segment"] = segment_q
    if "session" not in fields:
        session = next(
            (
                q
                for q in candidates
                if any(w in _norm(q.title) for w in _SESSION_TITLE)
                and q.index not in {t.index for t in texts}
                and q.index != segment_q
            ),
            None,
        )
        if session is not None:
            fields["session"] = session.index

    notes.append(
        "反馈题" + texts_how + "：" + "、".join(f"{q.label}（{_short(q.title)}）" for q in texts)
        + ("，每题的回答各作一条反馈" if len(texts) > 1 else "")
    )
    skipped_multi = [by_index[i] for i in sorted(multi) if i not in {q.index for q in texts}]
    if skipped_multi:
        notes.append("多选题不作为反馈：" + "、".join(q.label for q in skipped_multi))
    if segment_q is not None:
        chosen = by_index.get(segment_q)
        notes.append(f"人群题：{chosen.label}（{_short(chosen.title)}）" if chosen else f"人群列：{header[segment_q]}")
    elif segment_how == "none":
        notes.append("按选项不读人群题，身份类别记为“其他”")
    else:
        notes.append("未找到人群题，身份类别记为“其他”")
    if "time" in fields:
        notes.append(f"提交时间列：{header[fields['time']]}")
    if "id" in fields:
        notes.append(f"编号列：{header[fields['id']]}（外部编号为 编号-日期-题号，重新导出后不变）")
    if "session" in fields:
        notes.append(f"场次列：{_short(header[fields['session']])}")
    if "duration" in fill:
        notes.append(f"答题用时列：{header[fill['duration']]}（用时过短的答卷待审核）")
    elif fill:
        notes.append(
            f"答题用时按 {header[fill['end']]} − {header[fill['start']]} 计算（用时过短的答卷待审核）"
        )
    if ignored:
        notes.append("已忽略个人信息列：" + "、".join(ignored))
    return QuestionnairePlan(
        layout=layout,
        questions=all_questions,
        texts=texts,
        fields=fields,
        multi_choice={i for i in multi if i in {q.index for q in texts}},
        ignored=ignored,
        notes=notes,
        fill=fill,
    )


def _short(text: str, limit: int = 20) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
