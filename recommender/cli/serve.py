"""``recommender setup`` and ``recommender serve``: prepare a fresh install, run the web service."""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from pathlib import Path

from recommender.cli.common import EXIT_ERROR, EXIT_NOT_ENOUGH, open_service
from recommender.cli.training import cmd_train
from recommender.config import Settings, get_settings, short_token_message
from recommender.logs import uvicorn_log_config


def _int_between(low: int, high: int | None):
    """An argparse type: a whole number in [low, high] (high None: no upper bound), refused in
    Chinese naming the range, so ``--port 0`` is not quietly the default port."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < low or (high is not None and number > high):
            wanted = f"{low} 到 {high} 之间的整数" if high is not None else f"不小于 {low} 的整数"
            raise argparse.ArgumentTypeError(f"应为 {wanted}（收到“{value}”）")
        return number

    return parse


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="run the web service (uvicorn)",
        description="Run the web service: the feedback form at /, the organizer dashboard at /organizer, "
        "the JSON API under /api (docs at /docs). Prints the organizer token once when it creates one.",
    )
    p.add_argument("--host", default=None, metavar="H", help="address to listen on (default: RECOMMENDER_HOST, 127.0.0.1)")
    p.add_argument("--port", type=_int_between(1, 65535), default=None, metavar="P",
                   help="port to listen on, 1-65535 (default: RECOMMENDER_PORT, 8000)")
    p.add_argument("--workers", type=_int_between(1, None), default=None, metavar="N",
                   help="worker processes (default: RECOMMENDER_WORKERS, 1)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "setup", help="migrate, load demo feedback into an empty store, train if no model",
        description="Prepare a fresh install (what `make serve` runs before `serve`): migrate the database, "
        "load the bundled demo feedback when the store is empty, train when there is no model.",
    )
    p.add_argument("--no-demo", action="store_true", help="do not load the demo feedback")
    p.set_defaults(func=cmd_setup)


def cmd_setup(args: argparse.Namespace, settings: Settings) -> int:
    """Prepare a fresh install: migrate, load demo feedback when empty, train when no model."""
    from recommender.door.demo import demo_feedback
    from recommender.retrain.registry import ModelRegistry

    service = open_service(settings)
    stored = service.store.count()
    if stored == 0 and not args.no_demo:
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
        print(f"已载入 {len(new_ids)} 条示例反馈")
    service.close()
    current = ModelRegistry(Path(settings.models_dir)).current_version()
    if current is None:
        code = cmd_train(argparse.Namespace(quiet=args.quiet), settings)
        if code not in (0, EXIT_NOT_ENOUGH):
            return code
    elif stored:  # a second `make serve`: say that it found everything ready
        print(f"已准备好：数据库已有 {stored} 条反馈，当前模型 {current}（没有改动）")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from recommender.crypto import load_or_create_secret
    from recommender.store import FeedbackStore

    overrides = {}
    if args.host:
        overrides["RECOMMENDER_HOST"] = args.host
    if args.port is not None:
        overrides["RECOMMENDER_PORT"] = str(args.port)
    if args.workers is not None:
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
    refused = short_token_message(tokens)
    if refused:
        print(f"错误：{refused}", file=sys.stderr)
        return EXIT_ERROR
    store = FeedbackStore(settings.database_url)
    try:
        store.migrate()  # once, before the workers start
    finally:
        store.dispose()
    if created:
        print("=" * 60)
        print("组织者令牌只显示这一次，请妥善保存：")
        print(f"  {tokens[0]}")
        print(f"（已保存在 {Path(settings.data_dir) / 'organizer_token'}）")
        print("=" * 60, flush=True)
    unusable = _address_problem(settings.host, settings.port)
    if unusable:
        print(
            f"错误：无法在 {settings.host}:{settings.port} 上启动服务：{unusable}。",
            file=sys.stderr,
        )
        return EXIT_ERROR
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
            # Longer than a proxy's idle timeout, so that the proxy, not the service, closes an
            # idle connection (else a request sent as the service closes it is a 502).
            timeout_keep_alive=settings.keep_alive,
            log_level=settings.log_level.lower(),
            log_config=uvicorn_log_config(settings.log_level),  # one-line lines, no client addresses
            proxy_headers=False,
        )
    except SystemExit as exc:  # uvicorn's own start-up failure is exit 3, which here means "retrain running"
        if exc.code not in (0, None):
            print("错误：服务没有启动（原因见上面的日志）。", file=sys.stderr)
            return EXIT_ERROR
    finally:
        cleanup_multiprocess_dir(metrics_dir)
    return 0


#: Why an address cannot be listened on, by errno (the system's own words are English).
_BIND_ERRORS = {
    errno.EADDRINUSE: "端口已被占用（另一个服务正在使用它）。请用 --port（或 RECOMMENDER_PORT）换一个端口，或先停止占用它的程序",
    errno.EACCES: "没有权限使用这个端口（1024 以下的端口需要管理员权限）。请用 --port（或 RECOMMENDER_PORT）换一个端口",
    errno.EADDRNOTAVAIL: "本机没有这个地址。请检查 --host（或 RECOMMENDER_HOST）",
}


def _address_problem(host: str, port: int) -> str | None:
    """Why ``serve`` could not listen on host:port (in Chinese), or None when it can: checked
    before uvicorn starts, whose own failure is an English log line and exit code 3."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError):
        return f"无法解析地址“{host}”。请检查 --host（或 RECOMMENDER_HOST）"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            return _BIND_ERRORS.get(exc.errno, f"系统错误（errno {exc.errno}）")
    return None
