"""The ``recommender`` command: import, train, suggest, experts, models, purge, serve, setup.

Exit codes: 0 success, 1 error (bad file, bad arguments), 2 not enough feedback to train,
3 another retrain is running, 4 no model yet.

One module per group of commands (``feedback`` import, ``training``, ``suggest``,
``experts``, ``admin`` models and purge, ``serve`` and setup); each adds its own
subcommands to the parser built here.
"""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from recommender.cli import admin, experts, feedback, serve, suggest, training
from recommender.cli.admin import cmd_models, cmd_purge
from recommender.cli.common import (
    EXIT_BUSY,
    EXIT_ERROR,
    EXIT_NO_MODEL,
    EXIT_NOT_ENOUGH,
    ZhArgumentParser,
    close_services,
    log,
    terminal_log_level,
)
from recommender.cli.experts import cmd_experts
from recommender.cli.feedback import cmd_import
from recommender.cli.serve import cmd_serve, cmd_setup
from recommender.cli.suggest import cmd_suggest
from recommender.cli.training import cmd_train
from recommender.config import get_settings, settings_error_text
from recommender.errors import RecommenderError
from recommender.logs import configure_logging

__all__ = [
    "EXIT_BUSY", "EXIT_ERROR", "EXIT_NOT_ENOUGH", "EXIT_NO_MODEL", "build_parser", "main",
    "cmd_experts", "cmd_import", "cmd_models", "cmd_purge", "cmd_serve", "cmd_setup", "cmd_suggest", "cmd_train",
]


def build_parser() -> argparse.ArgumentParser:
    parser = ZhArgumentParser(prog="recommender", description="夜校需求主题推荐 · night-school topic recommender")
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="quiet: no progress bars, no INFO log lines")
    loudness.add_argument(
        "-v", "--verbose", action="store_true", help="INFO log lines too (what the service would log), beside the result"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    feedback.add_parser(sub)
    training.add_parser(sub)
    suggest.add_parser(sub)
    experts.add_parser(sub)
    admin.add_parsers(sub)  # models, purge
    serve.add_parsers(sub)  # serve, setup
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:  # a bad RECOMMENDER_* setting: say which, in Chinese, no traceback
        return _bad_settings(exc)
    configure_logging(terminal_log_level(args, settings.log_level))
    try:
        return args.func(args, settings)
    except RecommenderError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return EXIT_ERROR
    except ValidationError as exc:  # `serve` re-reads the settings with its options
        return _bad_settings(exc)
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
        close_services()


def _bad_settings(exc: ValidationError) -> int:
    for line in settings_error_text(exc.errors()).splitlines():
        print(f"错误：{line}", file=sys.stderr)
    return EXIT_ERROR
