"""``recommender import``: feedback from CSV, XLSX, JSONL and questionnaire exports."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from recommender.cli.common import EXIT_ERROR, log, open_service, show_progress
from recommender.config import Settings
from recommender.errors import ImportFailed, ValidationFailed

IMPORT_BATCH = 500


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import", help="import feedback from CSV, XLSX or JSONL",
        description="Import feedback lines from a CSV (UTF-8 or GB18030), XLSX or JSONL file, or a 问卷星 / "
        "腾讯问卷 export. Columns are found by their headers when not given. Prints the columns used and a "
        "summary: imported, duplicates skipped, rows rejected with line and reason. Importing the same "
        "file again imports nothing twice.",
    )
    p.add_argument("file", metavar="FILE", help="the CSV, XLSX or JSONL file")
    p.add_argument("--text-column", metavar="C", help="column holding the feedback text (auto-detected if omitted)")
    p.add_argument("--time-column", metavar="C", help="column holding the submission time (empty: dated at the import)")
    p.add_argument("--submitter-column", metavar="C", help="column identifying the person (hashed, never stored raw)")
    p.add_argument("--votes-column", metavar="C", help="column with votes or likes")
    p.add_argument("--id-column", metavar="C", help="column with the row's own id (kept as external_id; re-imports are keyed by it)")
    p.add_argument("--segment-column", metavar="C", help="column with who wrote it (社区干部, 网格员, …)")
    p.add_argument("--session-column", metavar="C", help="column with the class attended")
    p.add_argument(
        "--questions",
        action="append",
        metavar="N[,N…]",
        help="questionnaire questions holding free-text feedback: numbers (3 or 3,5) or titles; repeatable",
    )
    p.add_argument(
        "--segment-question",
        metavar="N",
        help="questionnaire question saying who answered (身份); 'none' if there is none",
    )
    p.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from recommender.door.importer import ImportedRow, columns_used, read_feedback_file

    path = Path(args.file)
    if not path.is_file():
        print(f"错误：{path} 是文件夹，不是文件" if path.is_dir() else f"错误：找不到文件 {path}", file=sys.stderr)
        return EXIT_ERROR
    try:
        batch = read_feedback_file(
            path,
            text_column=args.text_column,
            time_column=args.time_column,
            submitter_column=args.submitter_column,
            votes_column=args.votes_column,
            id_column=args.id_column,
            segment_column=args.segment_column,
            session_column=args.session_column,
            question_columns=args.questions,
            segment_question=args.segment_question,
            settings=settings,
        )
    except ImportFailed as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return EXIT_ERROR
    service = open_service(settings)
    source = batch.source
    imported = duplicates = flagged = 0
    rejected: list[tuple[int, str]] = []
    pending = []
    pending_fill: list[int | None] = []  # answering time of each pending line (questionnaires)
    untimed: list[int] = []  # lines of a file with a time column whose time cell is empty

    def flush() -> None:
        nonlocal imported, duplicates, flagged
        if pending:
            new_ids, skipped = service.store_batch(pending, fill_seconds=pending_fill)
            imported += len(new_ids)
            duplicates += skipped
            if any(s is not None for s in pending_fill):
                flagged += sum(row.status == "flagged" for row in service.store.get_many(new_ids))
            pending.clear()
            pending_fill.clear()

    try:
        for item in tqdm(batch, desc=f"导入 {path.name}", unit="行", disable=not show_progress(args)):
            if not isinstance(item, ImportedRow):
                rejected.append((item.line, item.reason))
                continue
            try:
                pending.append(item.to_draft(source=source, settings=service.settings))
                pending_fill.append(item.fill_seconds)
                if item.submitted_at is None and "time" in batch.column_map:
                    untimed.append(item.line)
            except ValidationFailed as exc:
                rejected.append((item.line, exc.message))
            if len(pending) >= IMPORT_BATCH:
                flush()
        flush()
    except ImportFailed as exc:
        flush()
        print(f"错误：{exc}（已导入 {imported} 行）", file=sys.stderr)
        return EXIT_ERROR
    where = f"，工作表“{batch.sheet}”" if batch.sheet else ""
    print(f"文件 {path.name}（{batch.format}{', ' + batch.encoding if batch.encoding else ''}{where}）")
    print(f"  使用的列：{columns_used(batch)}")
    print(f"  导入：{imported} 行")
    if flagged:
        print(
            f"  待审核：{flagged} 行（答题过快，用时少于 {settings.flag_min_fill_seconds} 秒；"
            f"在组织者页面“待审核”中处理）"
        )
    print(f"  已存在跳过：{duplicates} 行")
    print(f"  有误跳过：{len(rejected)} 行")
    for line, reason in rejected[:50]:
        print(f"    第 {line} 行：{reason}")
    if len(rejected) > 50:
        print(f"    … 另有 {len(rejected) - 50} 行有误")
    for note in batch.notes:
        print(f"  说明：{note}")
    if untimed:
        # Such a line is counted as received now (recent demand); say so rather than do it silently.
        lines = "、".join(str(n) for n in untimed[:10]) + (" 等" if len(untimed) > 10 else "")
        print(
            f"  说明：{len(untimed)} 行提交时间为空，按导入时间记录（第 {lines} 行）"
        )
    log.info(
        "import %s: %d imported (%d flagged for review), %d duplicates, %d rejected",
        path.name, imported, flagged, duplicates, len(rejected),
    )
    return 0
