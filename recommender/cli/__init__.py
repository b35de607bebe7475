"""The ``recommender`` command: import, train, suggest, experts, models, purge, serve, setup.

Exit codes: 0 success, 1 error (bad file, bad arguments), 2 not enough feedback to train,
3 another retrain is running, 4 no model yet.

One module per group of commands (``feedback`` import, ``training``, ``suggest``,
``experts``, ``admin`` models and purge, ``serve`` and setup); each adds its own
subcommands to the parser built here.
"""

from __future__ import annotations

import argparse
import os
import select
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
    parser = ZhArgumentParser(
        prog="recommender",
        description="夜校需求主题推荐 · night-school topic recommender. Settings come from RECOMMENDER_* "
        "environment variables (see README, Configuration); `python -m recommender` works too.",
        epilog="exit codes: 0 ok, 1 error, 2 not enough feedback to train (or a bad option), "
        "3 another retrain is running, 4 no model yet. `recommender COMMAND --help` for a command's options.",
    )
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
    except BrokenPipeError as exc:
        if _reader_gone():  # `recommender suggest | head`: the reader has what it wanted
            return 0
        return _internal_error(exc)
    except Exception as exc:  # a bug: one line for the person, the traceback in the log at DEBUG
        return _internal_error(exc)
    finally:
        close_services()


def _internal_error(exc: BaseException) -> int:
    """A bug: one line for the person, the traceback in the log at DEBUG."""
    log.debug("unexpected error", exc_info=exc)
    print(f"内部错误：{type(exc).__name__}: {exc}（设置 RECOMMENDER_LOG_LEVEL=DEBUG 可看到详细信息）", file=sys.stderr)
    return EXIT_ERROR


def _reader_gone() -> bool:
    """Whether the broken pipe is our stdout: the program reading it closed it (``| head``).
    Then the command stops quietly instead of 「内部错误：BrokenPipeError」; stdout goes to
    /dev/null so that the interpreter's last flush at exit cannot fail again."""
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, 0)  # no events asked: a pipe whose reader is gone reports POLLERR
        if not any(event & select.POLLERR for _fd, event in poller.poll(0)):
            return False  # stdout still has its reader: another pipe broke
        os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
    except (AttributeError, OSError, ValueError):  # stdout without a descriptor, no poll(): assume it was stdout
        pass
    return True


def _bad_settings(exc: ValidationError) -> int:
    for line in settings_error_text(exc.errors()).splitlines():
        print(f"错误：{line}", file=sys.stderr)
    return EXIT_ERROR
