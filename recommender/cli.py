"""The ``recommender`` command: import, train, suggest, experts, models, purge, serve, setup.

Exit codes: 0 success, 1 error (bad file, bad arguments), 2 not enough feedback to train,
3 another retrain is running, 4 no model yet.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from datetime import date
from pathlib import Path

from recommender.config import Settings, get_settings, short_token_problems
from recommender.errors import (
    ImportFailed,
    NoModelError,
    NotEnoughFeedback,
    RecommenderError,
    RetrainInProgress,
    ValidationFailed,
)
from recommender.logs import configure_logging, uvicorn_log_config

log = logging.getLogger("recommender")

EXIT_ERROR = 1
EXIT_NOT_ENOUGH = 2
EXIT_BUSY = 3
EXIT_NO_MODEL = 4
IMPORT_BATCH = 500



#: Services opened by this command; main() closes them (and their database pools) on exit.
_OPEN_SERVICES: list = []


def _service(settings: Settings):
    from recommender.service import RecommenderService

    service = RecommenderService(settings)
    _OPEN_SERVICES.append(service)
    service.start()
    return service


_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")


def _iso_date(value: str) -> date:
    """A date as organizers write it: 2026-12-01, 2026/12/01, 2026/12/1 or 2026.12.01."""
    match = _DATE.fullmatch(value.strip())
    try:
        if match is None:
            raise ValueError(value)
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"日期应写成 YYYY-MM-DD 或 YYYY/MM/DD，例如 2026-12-01（收到 {value!r}）。"
            f" / Not a date (YYYY-MM-DD or YYYY/MM/DD): {value!r}."
        ) from None


# ---------------------------------------------------------------------------- import
def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from recommender.door.importer import ImportedRow, columns_used, read_feedback_file

    path = Path(args.file)
    if not path.is_file():
        print(f"错误：找不到文件 {path} (file not found)", file=sys.stderr)
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
    service = _service(settings)
    source = batch.source
    imported = duplicates = flagged = 0
    rejected: list[tuple[int, str]] = []
    pending = []
    pending_fill: list[int | None] = []  # answering time of each pending line (questionnaires)

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
        for item in tqdm(batch, desc=f"导入 {path.name}", unit="行", disable=args.quiet):
            if not isinstance(item, ImportedRow):
                rejected.append((item.line, item.reason))
                continue
            try:
                pending.append(item.to_draft(source=source, settings=service.settings))
                pending_fill.append(item.fill_seconds)
            except ValidationFailed as exc:
                rejected.append((item.line, exc.message))
            if len(pending) >= IMPORT_BATCH:
                flush()
        flush()
    except ImportFailed as exc:
        flush()
        print(f"错误：{exc}（已导入 {imported} 行）", file=sys.stderr)
        return EXIT_ERROR
    print(f"文件 {path.name}（{batch.format}, {batch.encoding or '-'}）")
    print(f"  使用的列 columns: {columns_used(batch)}")
    print(f"  导入 imported: {imported}")
    if flagged:
        print(
            f"  待审核 flagged for review: {flagged}（答题过快，用时少于 {settings.flag_min_fill_seconds} 秒；"
            f"在组织者页面“待审核”中处理）"
        )
    print(f"  已存在跳过 duplicates skipped: {duplicates}")
    print(f"  有误跳过 rejected: {len(rejected)}")
    for line, reason in rejected[:50]:
        print(f"    第 {line} 行 (line {line}): {reason}")
    if len(rejected) > 50:
        print(f"    … 另有 {len(rejected) - 50} 行有误")
    for note in batch.notes:
        print(f"  说明 note: {note}")
    log.info(
        "import %s: %d imported (%d flagged for review), %d duplicates, %d rejected",
        path.name, imported, flagged, duplicates, len(rejected),
    )
    return 0


# ---------------------------------------------------------------------------- train
def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.retrain.dask_engine import DaskTrainingError
    from recommender.door.screening import console_actor
    from recommender.store import FeedbackStore
    from recommender.retrain.pipeline import train_from_store

    overrides = {"train_engine": getattr(args, "engine", None), "dask_scheduler": getattr(args, "scheduler", None)}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    if settings.dask_scheduler and settings.train_engine != "dask":
        print("--scheduler 只用于 --engine dask（--scheduler needs --engine dask）", file=sys.stderr)
        return EXIT_ERROR
    store = FeedbackStore(settings.database_url)
    store.migrate()
    try:
        result = train_from_store(
            store, settings, progress=not args.quiet, blas_threads=settings.train_threads or None,
            actor=console_actor(), force=getattr(args, "force", False),
        )
    except DaskTrainingError as exc:
        log.error("distributed retrain failed: %s", exc)
        print(f"重新训练失败（Dask）：{exc}", file=sys.stderr)
        return EXIT_ERROR
    except NotEnoughFeedback as exc:
        _not_enough(exc, settings)
        return EXIT_NOT_ENOUGH
    except RetrainInProgress as exc:
        print(f"没有重新训练：{exc}", file=sys.stderr)
        return EXIT_BUSY
    except OSError as exc:
        # e.g. disk full while writing the artifact: the registry has removed the half-written
        # folder and the pointer was never switched.
        log.error("retrain failed writing the model (%s); the current model is kept", exc)
        print(f"重新训练失败：写入模型时出错（{exc}）。当前模型保持不变。", file=sys.stderr)
        return EXIT_ERROR
    finally:
        store.dispose()
    if result.unchanged:
        print(
            f"没有新的反馈：当前模型 {result.version} 保持不变（{result.n_rows} 条反馈，{result.n_topics} 个主题）。"
            "要重新拟合，请加 --force。"
        )
        return 0
    print(
        f"新模型 {result.version} 已启用：{result.n_rows} 条反馈，{result.n_topics} 个主题"
        f"（{result.kept_ids} 个沿用原编号），{result.n_noise} 条不属于任何主题，用时 {result.seconds:.1f} 秒"
    )
    return 0


def _not_enough(exc: NotEnoughFeedback, settings: Settings) -> None:
    """Too little feedback: one message per language, Chinese first, saying whether a model
    keeps serving or there is none yet."""
    from recommender.retrain.registry import ModelRegistry

    current = ModelRegistry(Path(settings.models_dir)).current_version()
    rows, needed = exc.rows, exc.needed or settings.min_train_rows
    if current is None:
        zh, en = "还没有模型：反馈够了、训练成功后才有主题建议。", "There is no model yet: suggestions come after a successful training."
    else:
        zh, en = f"当前模型 {current} 保持不变。", f"The current model {current} is kept."
    print(
        f"没有重新训练：只有 {rows} 条反馈，至少需要 {needed} 条（设置 RECOMMENDER_MIN_TRAIN_ROWS）。{zh}",
        file=sys.stderr,
    )
    print(
        f"Not retrained: only {rows} feedback lines are stored, at least {needed} are needed "
        f"(setting RECOMMENDER_MIN_TRAIN_ROWS). {en}",
        file=sys.stderr,
    )


# ---------------------------------------------------------------------------- suggest
def cmd_suggest(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.ranking.rank import TREND_ZH

    from recommender.service.filters import MAX_TOP, parse_suggestion_query

    try:  # the API's rules: top 1..50, a known segment (before the model is loaded)
        query = parse_suggestion_query(settings, args.top, args.as_of, args.segment)
    except ValidationFailed as exc:
        print(f"错误：{exc.message}", file=sys.stderr)
        if exc.field == "top":
            print(f"Error: --top must be a whole number from 1 to {MAX_TOP} (got {args.top}).", file=sys.stderr)
        return EXIT_ERROR
    service = _service(settings)
    try:
        result = query.call(service)
    except NoModelError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_NO_MODEL
    except ValidationFailed as exc:
        print(f"错误：{exc.message}", file=sys.stderr)
        return EXIT_ERROR
    if args.format == "json":
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(f"截至 {result['as_of']} 的下次课程主题建议（模型 {result['model_version']}）")
    if not result["suggestions"]:
        print("  （暂无建议）")
    for s in result["suggestions"]:
        badge = " [近期已开课]" if s.get("recently_covered") else ""
        print(
            f"{s['rank']:>2}. {s['label']}{badge}  热度 {s['score']:.3f}  "
            f"{s['distinct_submitters']} 人 / {s['feedback_count']} 条  趋势 {TREND_ZH.get(s['trend'], s['trend'])}"
        )
        theme = s.get("theme_label")
        print(f"    关键词：{'、'.join(s['keywords'])}" + (f"  类别：{theme}" if theme and theme != s["label"] else ""))
        if s.get("why"):
            print(f"    为什么：{s['why']}")
        for example in s["examples"][:3]:
            print(f"    · {example}")
        print("    " + _experts_line(s.get("experts") or []))
    return 0


def _experts_line(experts: list[dict]) -> str:
    from recommender.ranking.experts import NO_EXPERT

    if not experts:
        return NO_EXPERT
    return "可请专家：" + "、".join(f"{e['name']}（{e['department']}）" for e in experts)


# ---------------------------------------------------------------------------- experts
def cmd_experts(args: argparse.Namespace, settings: Settings) -> int:
    """The directory of experts: import a CSV/XLSX file, or list it (contacts masked)."""
    from recommender.door.screening import console_actor

    service = _service(settings)
    if args.experts_command == "list":
        experts = service.experts.experts()
        if not experts:
            print("专家库是空的。请用 `recommender experts import 文件` 导入，或在组织者页面“专家库”添加。")
        for e in experts:
            print(f"{e['id']:>4}  {e['name']}  {e['department']}  可授：{'、'.join(e['subjects'])}  {e['contact'] or '-'}")
        return 0
    path = Path(args.file)
    try:
        wanted = {f: getattr(args, f"{f}_column") for f in ("name", "department", "subjects", "contact")}
        report = service.experts.import_file(path, actor=console_actor(), columns=wanted)
    except ImportFailed as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return EXIT_ERROR
    names = {"name": "姓名", "department": "部门", "subjects": "可授课程", "contact": "联系方式"}
    used = "，".join(f"{names[f]}=“{c}”" for f, c in report["columns"].items())
    print(f"文件 {path.name}  使用的列 columns: {used}")
    print(f"  新增 added: {report['added']}")
    print(f"  更新 updated: {report['updated']}")
    print(f"  有误跳过 skipped: {len(report['skipped'])}")
    for item in report["skipped"][:50]:
        print(f"    第 {item['line']} 行 (line {item['line']}): {item['reason']}")
    return 0


# ---------------------------------------------------------------------------- models
def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.retrain.registry import ModelRegistry

    registry = ModelRegistry(Path(settings.models_dir))
    if args.models_command == "list":
        versions = registry.list_versions()
        if not versions:
            print("还没有模型。请运行 `recommender train`。")
            return 0
        for v in versions:
            meta = v.metadata
            mark = "*" if v.is_current else " "
            print(
                f"{mark} {v.version}  {_local_time(meta.get('created_at'), settings)}  {meta.get('n_rows', '?')} 条  "
                f"{meta.get('n_topics', '?')} 个主题  parent={meta.get('parent') or '-'}"
            )
        return 0
    try:
        if args.models_command == "show":
            info = registry.show(args.version)
            print(json.dumps({**info.metadata, "is_current": info.is_current}, ensure_ascii=False, indent=2))
            return 0
        if args.models_command == "rollback":
            from recommender.retrain.lock import retrain_lock
            from recommender.service.serving import load_served_model

            # Under the retrain lock, so a rollback cannot race a retrain's switch; the
            # artifact is loaded first, so a broken version is never made current.
            with retrain_lock(registry.lock_path, owner="console rollback"):
                registry.set_current(args.version, verify=load_served_model)
            print(f"当前模型已切换为 {args.version}；运行中的服务会在几秒内换用它。")
            log.info("rollback: current model set to %s", args.version)
            _audit(settings, "rollback", args.version, {})
            _reapply_corrections(settings, registry)
            return 0
    except (KeyError, ValueError, RecommenderError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_ERROR


def _local_time(value: object, settings: Settings) -> str:
    """A stored ISO time as the organizers read it: ``YYYY-MM-DD HH:MM`` in RECOMMENDER_TIMEZONE."""
    from recommender.web.timefmt import to_local

    moment = to_local(value, settings.tz)
    return str(value or "") if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def _reapply_corrections(settings: Settings, registry) -> None:
    """The organizers' corrections hold on a version made current again (a rollback)."""
    from recommender.retrain.publishing import reapply_to_current
    from recommender.store import FeedbackStore

    store = FeedbackStore(settings.database_url)
    try:
        reapply_to_current(store, registry)
    finally:
        store.dispose()


def _audit(settings: Settings, action: str, target: str | None, detail: dict) -> None:
    """Write a console action to the audit log (actor ``console:<user>``, or ``console``)."""
    from recommender.door.screening import console_actor
    from recommender.store import FeedbackStore

    store = FeedbackStore(settings.database_url)
    try:
        store.migrate()
        store.audit(console_actor(), action, target, detail)
    finally:
        store.dispose()


# ---------------------------------------------------------------------------- purge
def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    """Retention: delete feedback text older than retention_months, keeping monthly counts."""
    from recommender.door.screening import console_actor

    if settings.retention_months <= 0:
        print("保存期限已关闭（RECOMMENDER_RETENTION_MONTHS=0），没有删除任何内容。")
        return 0
    service = _service(settings)
    try:
        report = service.purge(dry_run=args.dry_run, actor=console_actor())
    except NoModelError as exc:
        print(f"没有清理：需要当前模型来按主题汇总旧反馈。{exc}", file=sys.stderr)
        return EXIT_NO_MODEL
    finally:
        service.close()
    months = f"{report.months[0]} … {report.months[-1]}" if report.months else "-"
    verb = "将删除" if args.dry_run else "已删除"
    print(f"保存期限 {settings.retention_months} 个月：{report.cutoff:%Y-%m-%d} 之前提交的反馈")
    print(f"  {verb}文字 lines: {report.lines}（月份 {months}）")
    for status, n in sorted(report.by_status.items()):
        print(f"    {status}: {n}")
    print(f"  计入按月统计 folded into monthly counts: {report.folded}（{report.aggregates} 组 主题×月份×人群）")
    if args.dry_run:
        print("  （试运行 dry run：什么也没有改动）")
    return 0


# ---------------------------------------------------------------------------- serve / setup
def cmd_setup(args: argparse.Namespace, settings: Settings) -> int:
    """Prepare a fresh install: migrate, load demo feedback when empty, train when no model."""
    from recommender.door.demo import demo_feedback
    from recommender.retrain.registry import ModelRegistry

    service = _service(settings)
    if service.store.count() == 0 and not args.no_demo:
        drafts = [
            service.draft(
                row["text"],
                segment=row["segment"],
                session_id=row.get("session_id"),
                submitter=row.get("submitter"),
                submitted_at=row["submitted_at"],
                votes=row.get("votes", 0),
                external_id=row["external_id"],
                source="demo",
            )
            for row in demo_feedback()
        ]
        new_ids, _ = service.store_batch(drafts)
        print(f"已载入 {len(new_ids)} 条示例反馈 (demo feedback loaded)")
    service.close()
    if ModelRegistry(Path(settings.models_dir)).current_version() is None:
        code = cmd_train(argparse.Namespace(quiet=args.quiet), settings)
        if code not in (0, EXIT_NOT_ENOUGH):
            return code
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from recommender.crypto import load_or_create_secret
    from recommender.store import FeedbackStore

    overrides = {}
    if args.host:
        overrides["RECOMMENDER_HOST"] = args.host
    if args.port:
        overrides["RECOMMENDER_PORT"] = str(args.port)
    if args.workers:
        overrides["RECOMMENDER_WORKERS"] = str(args.workers)
    os.environ.update(overrides)  # the workers build their own Settings from the environment
    get_settings.cache_clear()
    settings = get_settings()

    # Refused at start-up rather than at the first request: a short token can be guessed.
    created = False
    if settings.organizer_token_list:
        tokens = settings.organizer_token_list
    else:
        token, created = load_or_create_secret(Path(settings.data_dir) / "organizer_token")
        tokens = [token]
    problems = short_token_problems(tokens)
    if problems:
        print("错误：组织者令牌太短（至少 16 个字符）：" + "; ".join(problems), file=sys.stderr)
        return EXIT_ERROR
    store = FeedbackStore(settings.database_url)
    store.migrate()  # once, before the workers start
    store.dispose()
    if created:
        print("=" * 60)
        print("组织者令牌 (organizer token) — 只显示这一次，请妥善保存：")
        print(f"  {tokens[0]}")
        print(f"（已保存在 {Path(settings.data_dir) / 'organizer_token'}）")
        print("=" * 60, flush=True)
    print(f"服务地址 http://{settings.host}:{settings.port}/  组织者页面 /organizer", flush=True)
    from recommender.web.metrics import cleanup_multiprocess_dir, prepare_multiprocess_dir

    # Several workers share their Prometheus counters through a folder (set before they fork).
    metrics_dir = prepare_multiprocess_dir(settings.workers)
    try:
        uvicorn.run(
            "recommender.web.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level=settings.log_level.lower(),
            log_config=uvicorn_log_config(settings.log_level),  # one-line lines, no client addresses
            proxy_headers=False,
        )
    finally:
        cleanup_multiprocess_dir(metrics_dir)
    return 0


# ---------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recommender", description="夜校需求主题推荐 · night-school topic recommender")
    parser.add_argument("-q", "--quiet", action="store_true", help="quiet: no progress bars, no INFO log lines")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("import", help="import feedback from CSV, XLSX or JSONL")
    p.add_argument("file")
    p.add_argument("--text-column", help="column holding the feedback text (auto-detected if omitted)")
    p.add_argument("--time-column", help="column holding the submission time")
    p.add_argument("--submitter-column", help="column identifying the person (hashed, never stored raw)")
    p.add_argument("--votes-column", help="column with votes or likes")
    p.add_argument("--id-column", help="column with the row's own id (kept as external_id)")
    p.add_argument("--segment-column", help="column with who wrote it (社区干部, 网格员, …)")
    p.add_argument("--session-column", help="column with the class attended")
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

    p = sub.add_parser("train", help="retrain the topic model from the store and make it current")
    p.add_argument(
        "--engine", choices=("local", "dask"), default=None,
        help="where to fit: this process (local) or a Dask cluster (default: setting train_engine, local)",
    )
    p.add_argument(
        "--scheduler", metavar="ADDRESS", default=None,
        help="Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: setting dask_scheduler; unset: a local cluster)",
    )
    p.add_argument(
        "--force", action="store_true",
        help="fit and publish a new version even when nothing is new since the current one",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("suggest", help="ranked topic suggestions for the next session")
    p.add_argument("--top", type=int, default=None, help="how many suggestions (default: setting suggestions_top)")
    p.add_argument("--as-of", type=_iso_date, default=None, help="YYYY-MM-DD or YYYY/MM/DD (default: today)")
    p.add_argument("--segment", default=None, help="only demand from this segment (e.g. 网格员)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_suggest)

    p = sub.add_parser("experts", help="the directory of experts: import a CSV/XLSX file, list it")
    esub = p.add_subparsers(dest="experts_command", required=True)
    e = esub.add_parser("import", help="add or update experts from a CSV or XLSX file (姓名, 部门, 可授课程, 联系方式)")
    e.add_argument("file")
    e.add_argument("--name-column", help="column with the expert's name (auto-detected if omitted)")
    e.add_argument("--department-column", help="column with the department that sends them")
    e.add_argument("--subjects-column", help="column with the subjects they teach (separated by 、，；)")
    e.add_argument("--contact-column", help="column with a phone number or e-mail (shown masked)")
    esub.add_parser("list", help="every expert, contacts masked")
    p.set_defaults(func=cmd_experts)

    p = sub.add_parser("models", help="list, show or roll back model versions")
    msub = p.add_subparsers(dest="models_command", required=True)
    msub.add_parser("list", help="versions, newest first (* = current)")
    m = msub.add_parser("show", help="one version's metadata")
    m.add_argument("version")
    m = msub.add_parser("rollback", help="make an earlier version current")
    m.add_argument("version")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("purge", help="delete feedback text older than the retention period, keep monthly counts")
    p.add_argument("--dry-run", action="store_true", help="only show what would be deleted")
    p.set_defaults(func=cmd_purge)

    p = sub.add_parser("serve", help="run the web service (uvicorn)")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--workers", type=int, default=None)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("setup", help="migrate, load demo feedback into an empty store, train if no model")
    p.add_argument("--no-demo", action="store_true", help="do not load the demo feedback")
    p.set_defaults(func=cmd_setup)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = get_settings()
    # -q: no progress bars and no INFO lines (warnings and errors still show).
    configure_logging("WARNING" if args.quiet and settings.log_level.upper() in ("DEBUG", "INFO") else settings.log_level)
    try:
        return args.func(args, settings)
    except RecommenderError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: one line for the person, the traceback in the log at DEBUG
        log.debug("unexpected error", exc_info=True)
        print(
            f"内部错误：{type(exc).__name__}: {exc}（设置 RECOMMENDER_LOG_LEVEL=DEBUG 可看到详细信息）",
            file=sys.stderr,
        )
        return EXIT_ERROR
    finally:
        while _OPEN_SERVICES:
            _OPEN_SERVICES.pop().close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
