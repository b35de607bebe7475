"""Opening the files of an import: CSV/TSV (encoding detected: UTF-8, UTF-8 with BOM,
GB18030/GBK), XLSX (read-only, formulas never evaluated: a formula's saved result is read, and
a row whose formula has none is refused saying so) and JSONL, each as an
:class:`~recommender.door.import_rows.ImportBatch` that streams its rows.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import charset_normalizer

from recommender.errors import ImportFailed
from recommender.door.questionnaire import QuestionnairePlan, detect_layout
from recommender.door.sheet_rows import formula_reason, total_row_reason, unsaved_formula
from recommender.text.markup import unescape_cell
from recommender.door.import_rows import (
    ImportBatch,
    QuestionOptions,
    RawRow,
    blank_row,
    cell_text,
    column_picker,
    map_columns,
    plan_column_map,
    plan_picker,
    settle_columns,
)


_CHUNK = 1 << 20
_SAMPLE = 256 * 1024
_JSONL_HEADER_SCAN = 100
# Rows below a one-cell first row searched for the header (a title and a note or date line
# above the table are common in spreadsheets made for printing).
_TITLE_ROWS = 3
# Data rows read ahead to tell a questionnaire's free-text questions from its choices.
_QUESTIONNAIRE_SAMPLE = 500


# --- CSV / TSV ---------------------------------------------------------------------------


def _detect_encoding(path: Path) -> tuple[str, int]:
    """The file's encoding and its number of line feeds (for an approximate row count)."""
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", _count_newlines(path)
    decoder = codecs.getincrementaldecoder("utf-8")()
    newlines = 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                newlines += chunk.count(b"\n")
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return ("utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8"), newlines
    except UnicodeDecodeError:
        pass
    with path.open("rb") as fh:
        sample = fh.read(_SAMPLE)
    guess = charset_normalizer.from_bytes(sample).best()
    name = (guess.encoding if guess else "").lower().replace("-", "").replace("_", "")
    if name.startswith(("gb", "cp936", "hz")) or _decodes(sample, "gb18030"):
        # GB18030 is a superset of GBK and GB2312: decode with it whatever the guess.
        return "gb18030", _count_newlines(path)
    if guess is None:
        raise ImportFailed(
            f"无法识别文件 {path.name} 的文字编码，请另存为 UTF-8 编码的 CSV。"
        )
    return guess.encoding, _count_newlines(path)


_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, .et, and password-protected .xlsx


def _wrong_kind(path: Path, expected: str) -> ImportFailed | None:
    """Why a file cannot be the ``expected`` kind ("text" or "xlsx") it is named as, judged
    by its first bytes: empty, an Excel workbook named .csv, an old .xls or an encrypted
    workbook; None when it may be."""
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        return ImportFailed(f"无法读取文件 {path.name}：{exc}")
    if not head:
        return ImportFailed(f"文件 {path.name} 是空的（0 字节），请确认导出或保存是否完成。")
    if head.startswith(_OLE2):
        return ImportFailed(
            f"文件 {path.name} 是旧版 Excel（.xls）或 WPS 表格，或设置了打开密码：请在 Excel/WPS 中取消密码，"
            f"另存为 .xlsx 或 CSV 后再导入。"
        )
    if expected == "text" and head.startswith(_ZIP):
        return ImportFailed(
            f"文件 {path.name} 实际是 Excel 工作簿（.xlsx），不是文本文件：请把扩展名改为 .xlsx 后再导入。"
        )
    return None


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _count_newlines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(_CHUNK), b""))


def open_delimited(
    path: Path, fmt: str, wanted: dict[str, str | None], max_len: int, options: QuestionOptions
) -> ImportBatch:
    if (wrong := _wrong_kind(path, "text")) is not None:
        raise wrong
    try:
        encoding, newlines = _detect_encoding(path)
    except OSError as exc:
        raise ImportFailed(f"无法读取文件 {path.name}：{exc}") from None
    errors = "strict" if encoding.startswith("utf-8") else "replace"
    with path.open(encoding=encoding, errors=errors, newline="") as fh:
        first = fh.readline()
    delimiter = "\t" if fmt == "tsv" or first.count("\t") > first.count(",") else ","
    with path.open(encoding=encoding, errors=errors, newline="") as fh:
        found = _pick_header((line, cells or []) for line, cells, _ in _records(csv.reader(fh, delimiter=delimiter)))
    if found is None:
        raise ImportFailed(f"文件 {path.name} 是空的或第一行没有列名。")
    header_line, header = found[0], [c.strip() for c in found[1]]

    def sample() -> list[Sequence[Any]]:
        found: list[Sequence[Any]] = []
        with path.open(encoding=encoding, errors=errors, newline="") as fh:
            for line, cells, _ in _records(csv.reader(fh, delimiter=delimiter)):
                if len(found) >= _QUESTIONNAIRE_SAMPLE:
                    break
                if line > header_line and cells and not blank_row(cells):
                    found.append(cells)
        return found

    positions, plan = settle_columns(path, header, sample, wanted, options)
    pick = plan_picker(plan) if plan else column_picker(positions)
    text_at = _text_positions(positions, plan)

    def rows() -> Iterator[tuple[int, RawRow | None, str | None]]:
        with path.open(encoding=encoding, errors=errors, newline="") as fh:
            for line, cells, error in _records(csv.reader(fh, delimiter=delimiter)):
                if cells is None:
                    # The reader resumes after a bad record, e.g. a cell above the csv field limit.
                    yield line, None, f"无法解析这一行（{error}），可能是单元格过长或引号不配对。"
                elif line > header_line and not blank_row(cells):
                    total = total_row_reason(cells, text_at)
                    yield line, None if total else pick(cells), total

    total = max(newlines - header_line, 0) if newlines else None
    column_map = plan_column_map(header, plan) if plan else {fld: header[i] for fld, i in positions.items()}
    return ImportBatch(
        path=path,
        format=fmt,
        encoding=encoding,
        columns=header,
        column_map=column_map,
        total_rows=total,
        max_text_length=max_len,
        rows=rows,
        plan=plan,
        segments=options.segments,
    )


def _text_positions(positions: dict[str, int], plan: QuestionnairePlan | None) -> list[int]:
    return [q.index for q in plan.texts] if plan else [positions["text"]]


# --- XLSX --------------------------------------------------------------------------------


@contextmanager
def _quiet_openpyxl() -> Iterator[None]:
    # openpyxl warns (UserWarning) about features of questionnaire exports it skips, such as
    # "Workbook contains no default style" or unsupported extensions; reading values is unaffected.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"openpyxl(\.|$)")
        yield


def _broken_xlsx(path: Path, exc: BaseException, after_line: int | None = None) -> ImportFailed:
    where = f"（读到第 {after_line} 行后出错）" if after_line else ""
    return ImportFailed(
        f"无法读取 Excel 文件 {path.name}{where}：文件可能已损坏、被截断或并非 .xlsx 格式，"
        f"请在 Excel/WPS 中重新另存为 .xlsx 或导出为 CSV（错误类型 {type(exc).__name__}）。"
    )


def open_xlsx(path: Path, wanted: dict[str, str | None], max_len: int, options: QuestionOptions) -> ImportBatch:
    import openpyxl  # deferred: only imports need it

    if (wrong := _wrong_kind(path, "xlsx")) is not None:
        raise wrong
    if not zipfile.is_zipfile(path):
        raise _broken_xlsx(path, zipfile.BadZipFile("not a zip file"))

    def load(data_only: bool = True) -> Any:
        # Any parser error on an untrusted file means the same thing to the user: it is broken.
        try:
            with _quiet_openpyxl():
                return openpyxl.load_workbook(path, read_only=True, data_only=data_only)
        except Exception as exc:  # noqa: BLE001 - see comment above
            raise _broken_xlsx(path, exc) from None

    workbook = load()
    try:
        found = _find_header(path, workbook, wanted)
    finally:
        workbook.close()
    if found is None:
        raise ImportFailed(
            f"Excel 文件 {path.name} 中没有找到带列名的工作表。"
        )
    sheet_index, header_line, header, max_row = found

    def sample() -> list[Sequence[Any]]:
        book = load()
        taken: list[Sequence[Any]] = []
        try:
            with _quiet_openpyxl():
                data_rows = book.worksheets[sheet_index].iter_rows(min_row=header_line + 1, values_only=True)
                for cells in _cell_values(data_rows):
                    if not blank_row(cells):
                        taken.append(cells)
                    if len(taken) >= _QUESTIONNAIRE_SAMPLE:
                        break
        except Exception as exc:  # noqa: BLE001 - broken sheet XML; the rows say where
            raise _broken_xlsx(path, exc) from None
        finally:
            book.close()
        return taken

    positions, plan = settle_columns(path, header, sample, wanted, options)
    pick = plan_picker(plan) if plan else column_picker(positions)
    text_at = _text_positions(positions, plan)
    read_at = sorted({*plan.fields.values(), *text_at} if plan else set(positions.values()))
    formulas = _has_formulas(path)

    def rows() -> Iterator[tuple[int, RawRow | None, str | None]]:
        book = load()
        # The cells as written (formulas, not their results), read alongside only when there are formulas.
        written = load(data_only=False) if formulas else None
        line = header_line
        try:
            it = _cell_values(book.worksheets[sheet_index].iter_rows(min_row=header_line + 1, values_only=True))
            kinds = written.worksheets[sheet_index].iter_rows(min_row=header_line + 1) if written else None
            while True:
                try:
                    with _quiet_openpyxl():
                        cells = next(it)
                        cell_kinds = next(kinds, ()) if kinds else ()
                except StopIteration:
                    return
                except Exception as exc:  # noqa: BLE001 - a truncated sheet fails anywhere in the parser
                    raise _broken_xlsx(path, exc, after_line=line) from None
                line += 1
                unsaved = [i for i in read_at if unsaved_formula(cells, cell_kinds, i)]
                if (total := total_row_reason(cells, text_at)) is not None:
                    yield line, None, total
                elif unsaved:
                    yield line, None, formula_reason([header[i] for i in unsaved])
                elif not blank_row(cells):
                    yield line, pick(cells), None
        finally:
            book.close()
            if written is not None:
                written.close()

    total = max_row - header_line if max_row else None
    column_map = plan_column_map(header, plan) if plan else {fld: header[i] for fld, i in positions.items()}
    return ImportBatch(
        path=path,
        format="xlsx",
        encoding=None,
        columns=header,
        column_map=column_map,
        total_rows=total,
        max_text_length=max_len,
        rows=rows,
        sheet=workbook.sheetnames[sheet_index],
        plan=plan,
        segments=options.segments,
    )


def _cell_values(rows: Iterable[Sequence[Any]]) -> Iterator[tuple[Any, ...]]:
    """Rows of cell values with OOXML's ``_xHHHH_`` escapes read in text cells: Excel writes a
    carriage return in a cell as 「_x000D_」 and openpyxl (3.1) returns it as it is."""
    for cells in rows:
        yield tuple(unescape_cell(c) if isinstance(c, str) else c for c in cells)


# A formula element in a worksheet's XML (``<f>``, ``<f t="shared" …/>``, prefixed ``<x:f>``).
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _has_formulas(path: Path) -> bool:
    """Whether a worksheet of the workbook holds a formula, from its raw XML: a workbook without
    formulas (every questionnaire export) is then parsed once, not twice."""
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                    continue
                with archive.open(name) as fh:
                    tail = b""
                    while chunk := fh.read(_CHUNK):
                        if _FORMULA_TAG.search(tail + chunk):
                            return True
                        tail = chunk[-16:]
    except Exception as exc:  # noqa: BLE001 - a broken archive; openpyxl would say the same
        raise _broken_xlsx(path, exc) from None
    return False


def _find_header(
    path: Path, workbook: Any, wanted: dict[str, str | None]
) -> tuple[int, int, list[str], int | None] | None:
    """(sheet index, header line, header cells, max row) of the sheet to read, its header as
    :func:`_pick_header` finds it: the first sheet whose header names several columns and
    the wanted ones (or a questionnaire's), else the first whose one column is the wanted
    one, else the first naming several columns, else the first non-empty sheet. A cover sheet in front of the table (「说明」, a line or two of
    text) is not read instead of it."""
    best: tuple[int, tuple[int, int, list[str], int | None]] | None = None
    for index, sheet in enumerate(workbook.worksheets):
        try:
            with _quiet_openpyxl():
                found = _pick_header(enumerate(_cell_values(sheet.iter_rows(values_only=True)), start=1))
        except Exception as exc:  # noqa: BLE001 - broken sheet XML
            raise _broken_xlsx(path, exc) from None
        if found is None:
            continue
        header = [cell_text(c) or "" for c in found[1]]
        score = _header_score(path, header, wanted)
        if best is None or score > best[0]:
            best = (score, (index, found[0], header, sheet.max_row))
        if score == 3:
            break
    return best[1] if best else None


def _header_score(path: Path, header: list[str], wanted: dict[str, str | None]) -> int:
    """3: several columns and the wanted ones found (or a questionnaire export); 2: one
    column, found; 1: several columns; 0: one column."""
    several = sum(1 for c in header if c) > 1
    if several and detect_layout(header) != "generic":
        return 3
    try:
        map_columns(path, header, wanted)
    except ImportFailed:
        return 1 if several else 0
    return 3 if several else 2


def _records(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str] | None, csv.Error | None]]:
    """(line, cells, None) of each record of a csv reader, numbered from 1; a record it cannot
    parse (a cell beyond the field limit, unpaired quotes) is (line, None, the error) and the
    reader resumes after it."""
    line = 0
    while True:
        line += 1
        try:
            yield line, next(reader), None
        except StopIteration:
            return
        except csv.Error as exc:
            yield line, None, exc


def _pick_header(rows: Iterable[tuple[int, Sequence[Any]]]) -> tuple[int, Sequence[Any]] | None:
    """(line, cells) of the header among numbered rows: the first non-empty row, unless it has
    one cell and one of the next ``_TITLE_ROWS`` rows names several columns (text cells only,
    as column names are). A title above the table (「2026年12月夜校需求调查汇总」, one cell,
    often merged across the columns, in a sheet made for printing) is not the header; a
    one-column file keeps its first row. A row of group names right above the column names
    (「基本信息」 merged over 序号 and 提交时间, 「调查内容」 over the questions) is no header
    either: the header is the row below, its blanks named from the group row
    (:func:`_under_groups`)."""
    rows = iter(rows)
    found = _first_header(rows)
    if found is None:
        return None
    below = next(rows, None)
    if below is not None and below[0] == found[0] + 1:
        merged = _under_groups(found[1], below[1])
        if merged is not None:
            return below[0], merged
    return found


def _first_header(rows: Iterator[tuple[int, Sequence[Any]]]) -> tuple[int, Sequence[Any]] | None:
    first: tuple[int, Sequence[Any]] | None = None
    for line, cells in rows:
        if blank_row(cells):
            continue
        filled = [c for c in cells if not blank_row([c])]
        if first is None:
            first = (line, cells)
            if len(filled) > 1:
                return first
        elif len(filled) > 1 and all(isinstance(c, str) for c in filled):
            return line, cells
        if line - first[0] >= _TITLE_ROWS:
            break
    return first


_NUMBER_OR_DATE = re.compile(r"^[\d\s.,:/年月日时分秒+-]+$")


def _under_groups(groups: Sequence[Any], names: Sequence[Any]) -> list[Any] | None:
    """The header cells when ``groups`` is a row of group names over ``names`` (a two-level
    header: each group cell merged across the columns of its group, so blank above the
    group's other columns), else None. ``names`` must be column names (text, no number or
    date, as a data row would have) and add names where ``groups`` is blank, with each group
    over two columns or more on average (a header with one unnamed column is not a group
    row). A blank of ``names`` keeps the cell above (a name merged down over both rows)."""
    width = max(len(groups), len(names))
    top = [groups[i] if i < len(groups) and not blank_row([groups[i]]) else None for i in range(width)]
    low = [names[i] if i < len(names) and not blank_row([names[i]]) else None for i in range(width)]
    if not all(isinstance(c, str) for c in (*top, *low) if c is not None):
        return None
    if any(_NUMBER_OR_DATE.match(c.strip()) for c in low if c is not None):
        return None
    spanning = sum(1 for t, n in zip(top, low) if t is not None and n is not None)
    added = sum(1 for t, n in zip(top, low) if t is None and n is not None)
    if added == 0 or spanning * 2 > spanning + added:
        return None
    return [n if n is not None else t for t, n in zip(top, low)]


# --- JSONL -------------------------------------------------------------------------------


def open_jsonl(path: Path, wanted: dict[str, str | None], max_len: int) -> ImportBatch:
    if (wrong := _wrong_kind(path, "text")) is not None:
        raise wrong
    try:
        encoding, newlines = _detect_encoding(path)
    except OSError as exc:
        raise ImportFailed(f"无法读取文件 {path.name}：{exc}") from None
    errors = "strict" if encoding.startswith("utf-8") else "replace"
    keys: dict[str, None] = {}
    with path.open(encoding=encoding, errors=errors) as fh:
        scanned = 0
        for raw_line in fh:
            if scanned >= _JSONL_HEADER_SCAN:
                break
            try:
                obj = json.loads(raw_line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                scanned += 1
                keys.update(dict.fromkeys(str(k) for k in obj))
    columns = list(keys)
    if not columns:
        raise ImportFailed(
            f"文件 {path.name} 中没有有效的 JSON 对象（每行应为一个 {{…}}）。"
        )
    positions = map_columns(path, columns, wanted)
    field_keys = {fld: columns[i] for fld, i in positions.items()}

    def rows() -> Iterator[tuple[int, RawRow | None, str | None]]:
        with path.open(encoding=encoding, errors=errors) as fh:
            for line, raw_line in enumerate(fh, start=1):
                if not raw_line.strip():
                    continue
                try:
                    obj = json.loads(raw_line)
                except ValueError as exc:
                    where = f"第 {exc.colno} 个字符处" if isinstance(exc, json.JSONDecodeError) else "编码"
                    yield line, None, f"这一行不是有效的 JSON（{where}出错），每行应为一个 JSON 对象 {{…}}。"
                    continue
                if not isinstance(obj, dict):
                    yield line, None, "这一行应为一个 JSON 对象 {…}。"
                    continue
                yield line, {fld: obj.get(key) for fld, key in field_keys.items()}, None

    return ImportBatch(
        path=path,
        format="jsonl",
        encoding=encoding,
        columns=columns,
        column_map=field_keys,
        total_rows=newlines or None,
        max_text_length=max_len,
        rows=rows,
    )
