"""The rules of the expert directory's doors (dashboard form, API, spreadsheet import).

:func:`clean_expert` checks one expert and returns an :class:`ExpertDraft`, or raises
:class:`~recommender.errors.ValidationFailed` naming the field in Chinese. Name, department
and subjects are cleaned and masked like every short field a person types
(:func:`~recommender.door.validation.clean_field`); the contact is checked to be one phone
number or e-mail address and kept as typed (it is how the organizer reaches the expert:
:func:`recommender.text.contact.mask_contact` hides it in every view but the edit form).

:func:`read_experts_file` reads a CSV or XLSX directory, finding the columns by their
headers (姓名/专家, 部门/单位, 可授课程/擅长领域, 联系方式/电话/邮箱) as the feedback importer does.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recommender.door.validation import clean_field, clean_text
from recommender.errors import ImportFailed, ValidationFailed
from recommender.text.contact import is_contact

__all__ = [
    "MAX_CONTACT",
    "MAX_DEPARTMENT",
    "MAX_EXPERT_NAME",
    "MAX_SUBJECT",
    "MAX_SUBJECTS",
    "ExpertDraft",
    "ExpertRow",
    "clean_expert",
    "parse_subjects",
    "read_experts_file",
]

#: Limits of each field; each fits its column (tests/test_experts.py checks against the store).
MAX_EXPERT_NAME = 50
MAX_DEPARTMENT = 100
MAX_CONTACT = 100
MAX_SUBJECT = 30
MAX_SUBJECTS = 20

# Subjects are typed as one line: 「消防安全、急救；心肺复苏」.
_SUBJECT_SPLIT = re.compile(r"[,，、;；\n/|]+")


@dataclass(frozen=True)
class ExpertDraft:
    """A validated expert, ready to store."""

    name: str
    department: str
    subjects: list[str]
    contact: str | None


def parse_subjects(value: object) -> list[str]:
    """Subject phrases from a list or from one line separated by 、，；, cleaned and masked,
    each once, in the order given. Raises ValidationFailed for too many or too long phrases."""
    if value is None:
        return []
    if isinstance(value, str):
        parts: Sequence[object] = _SUBJECT_SPLIT.split(value)
    elif isinstance(value, (list, tuple)):
        parts = value
    else:
        raise ValidationFailed("可授课程必须是文字或文字列表。", field="subjects", code="type")
    out: list[str] = []
    for part in parts:
        phrase = clean_field(part, field="subjects", label="可授课程（每项）", limit=MAX_SUBJECT, numbers=False)
        if phrase and phrase not in out:
            out.append(phrase)
    if len(out) > MAX_SUBJECTS:
        raise ValidationFailed(
            f"可授课程最多 {MAX_SUBJECTS} 项，当前 {len(out)} 项，请合并或删去一些。", field="subjects", code="too_many"
        )
    return out


def clean_expert(*, name: object, department: object, subjects: object, contact: object = None) -> ExpertDraft:
    """One expert checked field by field (the first problem raises)."""
    clean_name = clean_field(name, field="name", label="姓名", limit=MAX_EXPERT_NAME, required=True, numbers=False)
    clean_department = clean_field(
        department, field="department", label="部门", limit=MAX_DEPARTMENT, required=True, numbers=False
    )
    phrases = parse_subjects(subjects)
    if not phrases:
        raise ValidationFailed("请至少填写一项可授课程（多项用顿号或逗号分隔）。", field="subjects", code="required")
    return ExpertDraft(clean_name or "", clean_department or "", phrases, _clean_contact(contact))


def _clean_contact(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValidationFailed("联系方式必须是文字。", field="contact", code="type")
    text = str(value)
    if not text.strip():
        return None
    if len(text) > MAX_CONTACT:
        raise ValidationFailed(
            f"联系方式过长：最多 {MAX_CONTACT} 个字符，当前 {len(text)} 个。", field="contact", code="too_long"
        )
    if not is_contact(text):
        raise ValidationFailed(
            "联系方式请填写一个电话号码或电子邮箱，例如 13812345678 或 name@example.org。",
            field="contact",
            code="invalid",
        )
    return clean_text(text)


# --------------------------------------------------------------------------- spreadsheet import

#: Header names of each field (compared after NFKC, casefold, strip); then parts of a header.
_HEADERS: dict[str, tuple[str, ...]] = {
    "name": ("name", "expert", "姓名", "专家", "专家姓名", "讲师", "讲师姓名", "授课人", "老师"),
    "department": ("department", "unit", "organization", "部门", "单位", "所在单位", "派出部门", "派出单位", "机构"),
    "subjects": ("subjects", "subject", "topics", "可授课程", "授课主题", "擅长", "擅长领域", "专业", "课程", "主题"),
    "contact": ("contact", "phone", "email", "联系方式", "电话", "手机", "手机号", "邮箱", "电子邮箱"),
}
_PARTS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "专家", "讲师"),
    "department": ("部门", "单位"),
    "subjects": ("课程", "擅长", "主题", "领域"),
    "contact": ("联系", "电话", "手机", "邮箱"),
}


@dataclass(frozen=True)
class ExpertRow:
    """One data row of an import: the expert, or why the row was skipped."""

    line: int
    expert: ExpertDraft | None = None
    problem: str | None = None


def _norm(name: object) -> str:
    return unicodedata.normalize("NFKC", str(name or "")).strip().casefold()


def map_expert_columns(path: Path, header: Sequence[object], wanted: dict[str, str] | None = None) -> dict[str, int]:
    """Field -> column position: the columns named in ``wanted`` (field -> header, the CLI's
    ``--name-column`` …) first, then exact names, then parts of names. Name, department and
    subjects are required; the message lists the file's columns."""
    normed = [_norm(c) for c in header]
    shown = "、".join(str(c) for c in header if c) or "（无）"
    found: dict[str, int] = {}
    for fld, name in (wanted or {}).items():
        if _norm(name) not in normed:
            raise ImportFailed(
                f"文件 {path.name} 中找不到列“{name}”。文件中的列：{shown}。"
            )
        found[fld] = normed.index(_norm(name))
    for fld, names in _HEADERS.items():
        if fld in found:
            continue
        hit = next((normed.index(n) for n in names if n in normed and normed.index(n) not in found.values()), None)
        if hit is not None:
            found[fld] = hit
    for fld, parts in _PARTS.items():
        if fld in found:
            continue
        hits = [i for i, n in enumerate(normed) if any(p in n for p in parts) and i not in found.values()]
        if hits:
            found[fld] = hits[0]
    missing = [label for fld, label in (("name", "姓名"), ("department", "部门"), ("subjects", "可授课程")) if fld not in found]
    if missing:
        raise ImportFailed(
            f"文件 {path.name} 中找不到{'、'.join(missing)}所在的列。文件中的列：{shown}。"
        )
    return found


def _csv_rows(path: Path) -> Iterator[list[Any]]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFailed(f"无法读取文件 {path.name}：不是 UTF-8 或 GBK 编码的表格。")
    dialect = csv.excel_tab if path.suffix.lower() in (".tsv", ".tab") else csv.excel
    yield from csv.reader(text.splitlines(), dialect)


def _xlsx_rows(path: Path) -> Iterator[list[Any]]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise ImportFailed(f"无法打开 Excel 文件 {path.name}。") from None
    try:
        for row in workbook.active.iter_rows(values_only=True):
            yield list(row)
    finally:
        workbook.close()


def _cell(row: Sequence[Any], position: int | None) -> Any:
    if position is None or position >= len(row):
        return None
    value = row[position]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if value is None or isinstance(value, int) else str(value)


def read_experts_file(
    path: Path | str, columns: dict[str, str] | None = None
) -> tuple[dict[str, str], list[ExpertRow]]:
    """The columns used (field -> header) and each data row of a CSV/TSV or XLSX directory;
    ``columns`` names the header of a field the automatic mapping would not find."""
    path = Path(path)
    if not path.is_file():
        raise ImportFailed(f"{path} 是文件夹，不是文件。" if path.is_dir() else f"找不到文件 {path}。")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        rows = _xlsx_rows(path)
    elif suffix in (".csv", ".tsv", ".txt", ".tab"):
        rows = _csv_rows(path)
    else:
        raise ImportFailed(f"不支持的文件类型 {suffix or '（无）'}：请用 CSV 或 XLSX。")
    header: list[Any] | None = None
    out: list[ExpertRow] = []
    wanted = {f: c for f, c in (columns or {}).items() if c}
    positions: dict[str, int] = {}
    for line, row in enumerate(rows, 1):
        if header is None:
            if not any(c not in (None, "") for c in row):
                continue
            header = list(row)
            positions = map_expert_columns(path, header, wanted)
            continue
        if not any(c not in (None, "") and str(c).strip() for c in row):
            continue
        try:
            expert = clean_expert(**{f: _cell(row, positions.get(f)) for f in ("name", "department", "subjects", "contact")})
        except ValidationFailed as exc:
            out.append(ExpertRow(line, problem=exc.message))
        else:
            out.append(ExpertRow(line, expert=expert))
    if header is None:
        raise ImportFailed(f"文件 {path.name} 是空的。")
    return {f: str(header[i]) for f, i in positions.items()}, out
