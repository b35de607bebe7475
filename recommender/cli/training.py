"""``recommender train``: retrain from the store, locally or on Dask, and publish the version."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from recommender.cli.common import EXIT_BUSY, EXIT_ERROR, EXIT_NOT_ENOUGH, log, show_progress
from recommender.config import Settings
from recommender.errors import NotEnoughFeedback, RetrainInProgress


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="retrain the topic model from the store and make it current",
        description="Retrain from the store, write a new versioned model and make it current only when it "
        "succeeded (`python train.py` does the same). With nothing new since the current version it keeps "
        "that version. Exit codes: 2 too little feedback (RECOMMENDER_MIN_TRAIN_ROWS), 3 another retrain "
        "is running.",
    )
    p.add_argument(
        "--engine", choices=("local", "dask"), default=None,
        help="where to fit: this process (local) or a Dask cluster (default: RECOMMENDER_TRAIN_ENGINE, local)",
    )
    p.add_argument(
        "--scheduler", metavar="ADDRESS", default=None,
        help="Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: RECOMMENDER_DASK_SCHEDULER; unset: a local cluster)",
    )
    p.add_argument(
        "--force", action="store_true",
        help="fit and publish a new version even when nothing is new since the current one",
    )
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from recommender.retrain.dask_engine import DaskTrainingError
    from recommender.door.screening import console_actor
    from recommender.store import FeedbackStore
    from recommender.store.engine import missing_sqlite_file
    from recommender.retrain.pipeline import train_from_store
    from recommender.retrain.runner import NOTHING_NEW

    overrides = {"train_engine": getattr(args, "engine", None), "dask_scheduler": getattr(args, "scheduler", None)}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    if settings.dask_scheduler and settings.train_engine != "dask":
        print("错误：--scheduler 只能与 --engine dask 一起使用", file=sys.stderr)
        return EXIT_ERROR
    missing = missing_sqlite_file(settings.database_url)
    if missing is not None:
        # A scheduled retrain in the wrong folder or without the service's environment would
        # create an empty database and "succeed" with exit code 2 every month.
        log.error("retrain failed: the SQLite database %s does not exist (RECOMMENDER_DATABASE_URL, working folder)", missing)
        print(
            f"重新训练失败：数据库文件 {missing} 不存在。请检查 RECOMMENDER_DATABASE_URL 和当前目录"
            "（定时任务要在服务的目录、用服务的环境变量运行）。",
            file=sys.stderr,
        )
        return EXIT_ERROR
    store = FeedbackStore(settings.database_url)
    try:
        store.migrate()
        result = train_from_store(
            store, settings, progress=show_progress(args), blas_threads=settings.train_threads or None,
            actor=console_actor(), force=getattr(args, "force", False),
        )
    except DaskTrainingError as exc:
        log.error("distributed retrain failed: %s", exc)
        print(f"重新训练失败：{exc}", file=sys.stderr)
        return EXIT_ERROR
    except NotEnoughFeedback as exc:
        _not_enough(exc, settings)
        return EXIT_NOT_ENOUGH
    except RetrainInProgress as exc:
        holder = getattr(exc, "holder", None) or {}
        log.info(
            "retrain not started: another retrain is running (since %s, pid %s on %s) (exit code %d)",
            holder.get("started_at", "?"), holder.get("pid", "?"), holder.get("host", "?"), EXIT_BUSY,
        )
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
            f"{NOTHING_NEW}：当前模型 {result.version} 保持不变（{result.n_rows} 条反馈，{result.n_topics} 个主题）。"
            + _refit_hint()
        )
        return 0
    print(
        f"新模型 {result.version} 已启用：{result.n_rows} 条反馈，{result.n_topics} 个主题"
        f"（{result.kept_ids} 个沿用原编号），{result.n_noise} 条不属于任何主题，用时 {result.seconds:.1f} 秒"
    )
    return 0


def _refit_hint() -> str:
    """How to fit anyway, for whoever started this retrain: ``--force`` at a console or in a
    scheduled job; nothing for a retrain started from the dashboard or the API (its log is
    retrain.log), whose user has no such option and whose model is up to date."""
    from recommender.retrain.runner import FROM_WEB, STARTED_FROM

    return "" if os.environ.get(STARTED_FROM) == FROM_WEB else "要重新拟合，请加 --force。"


def _not_enough(exc: NotEnoughFeedback, settings: Settings) -> None:
    """Too little feedback: one message (Chinese) saying whether a model keeps serving or
    there is none yet."""
    from recommender.retrain.registry import ModelRegistry

    current = ModelRegistry(Path(settings.models_dir)).current_version()
    rows, needed = exc.rows, exc.needed or settings.min_train_rows
    log.info(
        "retrain skipped: %d feedback lines, at least %d needed (RECOMMENDER_MIN_TRAIN_ROWS); %s (exit code %d)",
        rows, needed, "no model yet" if current is None else f"model {current} stays current", EXIT_NOT_ENOUGH,
    )
    if current is None:
        zh = "还没有模型：反馈够了、训练成功后才有主题建议。"
    else:
        zh = f"当前模型 {current} 保持不变。"
    print(
        f"没有重新训练：只有 {rows} 条反馈，至少需要 {needed} 条（设置 RECOMMENDER_MIN_TRAIN_ROWS）。{zh}",
        file=sys.stderr,
    )
