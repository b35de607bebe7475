"""``recommender models list|show|rollback`` and ``recommender purge``: the model versions and
the retention period, the operator's housekeeping."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from recommender.cli.common import (
    EXIT_ERROR, EXIT_NO_MODEL, audit, local_time, log, open_service, refuse_missing_database,
)
from recommender.config import Settings
from recommender.door.screening import STATUS_ZH
from recommender.errors import NoModelError, RecommenderError


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, show or roll back model versions")
    msub = p.add_subparsers(dest="models_command", required=True)
    msub.add_parser("list", help="versions, newest first (* = current)")
    m = msub.add_parser("show", help="one version's metadata")
    m.add_argument("version", metavar="VERSION", help="a version name as `models list` prints it")
    m = msub.add_parser("rollback", help="make an earlier version current")
    m.add_argument("version", metavar="VERSION", help="a version name as `models list` prints it")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser(
        "purge", help="delete feedback text older than the retention period, keep monthly counts",
        description="Retention: fold feedback submitted before the first day of the month "
        "RECOMMENDER_RETENTION_MONTHS ago (24) into monthly counts per topic and delete its text. "
        "Needs a trained model (exit code 4 without).",
    )
    p.add_argument("--dry-run", action="store_true", help="only show what would be deleted")
    p.set_defaults(func=cmd_purge)


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
                f"{mark} {v.version}  {local_time(meta.get('created_at'), settings)}  {meta.get('n_rows', '?')} 条  "
                f"{meta.get('n_topics', '?')} 个主题  上一版本 {meta.get('parent') or '-'}"
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
            audit(settings, "rollback", args.version, {})
            _reapply_corrections(settings, registry)
            return 0
    except (KeyError, ValueError, RecommenderError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_ERROR


def _reapply_corrections(settings: Settings, registry) -> None:
    """The organizers' corrections hold on a version made current again (a rollback)."""
    from recommender.retrain.publishing import reapply_to_current
    from recommender.store import FeedbackStore

    store = FeedbackStore(settings.database_url)
    try:
        reapply_to_current(store, registry)
    finally:
        store.dispose()


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    """Retention: delete feedback text older than retention_months, keeping monthly counts.
    With ``-v`` (the scheduled purge's log) a time-stamped line says what it did: counts and
    months only, never a line's text."""
    from recommender.door.screening import console_actor

    if settings.retention_months <= 0:
        log.info("purge: retention is off (RECOMMENDER_RETENTION_MONTHS=0), nothing deleted")
        print("保存期限已关闭（RECOMMENDER_RETENTION_MONTHS=0），没有删除任何内容。")
        return 0
    if refuse_missing_database(settings):
        # A scheduled purge in the wrong folder or without the service's environment would
        # create an empty database and report 「已删除文字：0 条」 every month.
        log.error("purge not run: the SQLite database does not exist (RECOMMENDER_DATABASE_URL, working folder)")
        return EXIT_ERROR
    service = open_service(settings)
    try:
        report = service.purge(dry_run=args.dry_run, actor=console_actor())
    except NoModelError as exc:
        log.info("purge not run: no current model to keep the monthly counts under (exit code %d)", EXIT_NO_MODEL)
        print(f"没有清理：需要当前模型来按主题汇总旧反馈。{exc}", file=sys.stderr)
        return EXIT_NO_MODEL
    finally:
        service.close()
    months = f"{report.months[0]} … {report.months[-1]}" if report.months else "-"
    log.info(
        "purge%s: %d lines submitted before %s %s (months %s; %s), %d folded into %d monthly counts "
        "(retention %d months)",
        " (dry run)" if args.dry_run else "", report.lines, f"{report.cutoff:%Y-%m-%d}",
        "would be deleted" if args.dry_run else "deleted", months,
        ", ".join(f"{status} {n}" for status, n in sorted(report.by_status.items())) or "none",
        report.folded, report.aggregates, settings.retention_months,
    )
    verb = "将删除" if args.dry_run else "已删除"
    print(f"保存期限 {settings.retention_months} 个月：{report.cutoff:%Y-%m-%d} 之前提交的反馈")
    print(f"  {verb}文字：{report.lines} 条（月份 {months}）")
    for status, n in sorted(report.by_status.items()):
        print(f"    {STATUS_ZH.get(status, status)}：{n} 条")
    print(f"  计入按月统计：{report.folded} 条（{report.aggregates} 组 主题×月份×人群）")
    if args.dry_run:
        print("  （试运行：什么也没有改动）")
    return 0
