"""What every command shares: the exit codes, the services a command opens (``main`` closes
them), the console's audit entries and times as organizers read them."""

from __future__ import annotations

import argparse
import logging
import re
import sys

from recommender.config import Settings

log = logging.getLogger("recommender")

EXIT_ERROR = 1
EXIT_NOT_ENOUGH = 2
EXIT_BUSY = 3
EXIT_NO_MODEL = 4

#: Commands whose log is the operator's log (a running service): RECOMMENDER_LOG_LEVEL as set.
LOGGING_COMMANDS = frozenset({"serve"})
#: The level a command shows on the terminal by default: its result, progress bars, warnings.
TERMINAL_LEVEL = "WARNING"

#: Services opened by this command; main() closes them (and their database pools) on exit.
OPEN_SERVICES: list = []


def open_service(settings: Settings):
    """A started RecommenderService that ``main`` closes when the command ends."""
    from recommender.service import RecommenderService

    service = RecommenderService(settings)
    OPEN_SERVICES.append(service)
    service.start()
    return service


def refuse_missing_database(settings: Settings) -> bool:
    """True (after saying so on stderr) when the SQLite file of RECOMMENDER_DATABASE_URL does
    not exist: a command that reads or changes the store run in the wrong folder or without the
    service's settings says which file it looked for instead of creating an empty database."""
    from recommender.store.engine import missing_sqlite_file

    missing = missing_sqlite_file(settings.database_url)
    if missing is None:
        return False
    print(
        f"错误：数据库文件 {missing} 不存在。请在服务的目录、用服务的 RECOMMENDER_DATABASE_URL 运行；"
        "新装的请先运行 `recommender setup` 或 `recommender import 文件`。",
        file=sys.stderr,
    )
    return True


def close_services() -> None:
    while OPEN_SERVICES:
        OPEN_SERVICES.pop().close()


def terminal_log_level(args, configured: str) -> str:
    """The log level of a command's terminal. A person running ``import`` or ``suggest`` reads
    its result and progress bars; INFO lines (which model was saved, how many lines were
    tokenized) are the operator's log and show with ``-v``. ``serve`` is the operator's log and
    keeps ``RECOMMENDER_LOG_LEVEL``; DEBUG, set to see why a command failed, shows everywhere.
    ``-q`` keeps only warnings and errors, whatever the command."""
    level = str(configured).upper()
    quieter = level in ("DEBUG", "INFO")
    if getattr(args, "quiet", False):
        return TERMINAL_LEVEL if quieter else level
    if getattr(args, "command", None) in LOGGING_COMMANDS or level == "DEBUG":
        return level
    if getattr(args, "verbose", False):
        return "INFO" if quieter else level
    return TERMINAL_LEVEL if quieter else level


def show_progress(args) -> bool:
    """Progress bars go to a person at a terminal: never with ``-q``, and never when stderr is
    a file or a pipe (a scheduled retrain's log gets the ``-v`` log lines, not ``\r`` redraws)."""
    if getattr(args, "quiet", False):
        return False
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def local_time(value: object, settings: Settings) -> str:
    """A stored ISO time as the organizers read it: ``YYYY-MM-DD HH:MM`` in RECOMMENDER_TIMEZONE."""
    from recommender.web.timefmt import to_local

    moment = to_local(value, settings.tz)
    return str(value or "") if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def audit(settings: Settings, action: str, target: str | None, detail: dict) -> None:
    """Write a console action to the audit log (actor ``console:<user>``, or ``console``)."""
    from recommender.door.screening import console_actor
    from recommender.store import FeedbackStore

    store = FeedbackStore(settings.database_url)
    try:
        store.migrate()
        store.audit(console_actor(), action, target, detail)
    finally:
        store.dispose()


#: argparse's own complaints (Python 3.11–3.13 wording) as the organizer reads them.
_ARGPARSE_ZH = [
    (re.compile(r"argument (?P<a>\S+): invalid int value: '?(?P<v>.*?)'?"), "{a} 应为整数（收到“{v}”）"),
    (re.compile(r"argument (?P<a>\S+): invalid float value: '?(?P<v>.*?)'?"), "{a} 应为数字（收到“{v}”）"),
    (re.compile(r"argument (?P<a>\S+): invalid choice: '?(?P<v>.*?)'? \(choose from (?P<c>.*)\)"),
     "{a} 只能是 {c}（收到“{v}”）"),
    (re.compile(r"argument (?P<a>\S+): expected one argument"), "{a} 后面需要一个值"),
    (re.compile(r"argument (?P<a>\S+): not allowed with argument (?P<b>\S+)"), "{a} 和 {b} 不能同时使用"),
    (re.compile(r"the following arguments are required: (?P<a>.*)"), "缺少参数：{a}"),
    (re.compile(r"unrecognized arguments: (?P<a>.*)"), "不认识的参数：{a}"),
    (re.compile(r"argument (?P<a>\S+): (?P<m>应为.*)", re.S), "{a} {m}"),  # our own: 「--port 应为 1 到 65535 …」
    (re.compile(r"argument (?P<a>\S+): (?P<m>.*[\u4e00-\u9fff].*)", re.S), "{a}：{m}"),  # our own (Chinese) reasons
]


def argparse_zh(message: str) -> str:
    """An argparse error message in Chinese (unknown wordings are passed on as they are)."""
    for pattern, template in _ARGPARSE_ZH:
        match = pattern.fullmatch(message.strip())
        if match:
            parts = {k: v.replace("'", "").replace(", ", "、") if k == "c" else v for k, v in match.groupdict().items()}
            if parts.get("a", "").endswith("command"):  # the subcommand's dest (command, models_command)
                parts["a"] = "命令"
            return re.sub(r"(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])", "", template.format(**parts))
    return message


class ZhArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors read in Chinese: 「用法：…」 then 「错误：…」, exit 2."""

    def format_usage(self) -> str:
        return super().format_usage().replace("usage: ", "用法：", 1)

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"错误：{argparse_zh(message)}\n")
