"""Each message of the command line reads in one language (Chinese): bad settings, bad options,
a too-short organizer token. Setting names, options and commands stay as they are typed."""

from __future__ import annotations

import re

import pytest

from recommender.cli import main
from recommender.cli.common import argparse_zh
from recommender.config import Settings, get_settings, settings_error_text, short_token_message
from tests.test_cli import env  # noqa: F401 (fixture: the CLI pointed at the test store)

#: What may stay Latin in a Chinese message: settings, options, commands, examples.
TYPED = re.compile(r"RECOMMENDER_[A-Z_]+|--?[a-z][a-z-]*|python -c '.*'|Asia/Shanghai|IANA|IP|YYYY-MM-DD|YYYY/MM/DD|“[^”]*”")


def _one_language(message: str) -> bool:
    """No two Latin words in a row once what is typed is taken out, and some Chinese."""
    rest = TYPED.sub("", message)
    return bool(re.search(r"[\u4e00-\u9fff]", message)) and not re.search(r"[A-Za-z]{2,}[ ,;:]+[A-Za-z]{2,}", rest)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("RECOMMENDER_TIMEZONE", "Mars/Base", "错误：设置 RECOMMENDER_TIMEZONE 有误：“Mars/Base”不是 IANA 时区名（例如 Asia/Shanghai）"),
        ("RECOMMENDER_TRUSTED_PROXIES", "10.0.0.0/8, proxy", "错误：设置有误：RECOMMENDER_TRUSTED_PROXIES 中的“proxy”不是 IP 地址或网段"),
        ("RECOMMENDER_WORKERS", "0", "错误：设置 RECOMMENDER_WORKERS 有误：“0”应不小于 1"),
        ("RECOMMENDER_PORT", "eighty", "错误：设置 RECOMMENDER_PORT 有误：“eighty”应为整数"),
        ("RECOMMENDER_DATABASE_URL", "mysql://app:secretpw@db/night",
         "错误：设置 RECOMMENDER_DATABASE_URL 有误：应为 SQLite 或 PostgreSQL 的 SQLAlchemy 地址，例如 sqlite:///"),
        ("RECOMMENDER_DATABASE_URL", "postgres://app:secretpw@db/night", "错误：设置 RECOMMENDER_DATABASE_URL 有误：应为"),
    ],
)
def test_a_bad_setting_is_one_chinese_line_not_a_traceback(env, monkeypatch, capsys, variable, value, expected):
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    assert main(["suggest"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(expected) and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and "validation error" not in err and _one_language(err)
    assert "secretpw" not in err and "内部错误" not in err


def test_a_secret_setting_is_never_echoed():
    errors = [{"type": "string_type", "loc": ("database_url",), "input": 12345, "ctx": {}},
              {"type": "int_parsing", "loc": ("organizer_tokens",), "input": "abc-secret", "ctx": {}}]
    text = settings_error_text(errors)
    assert "12345" not in text and "abc-secret" not in text
    assert text.splitlines()[0] == "设置 RECOMMENDER_DATABASE_URL 有误：值无效"


def test_a_short_token_is_refused_in_one_language():
    message = short_token_message(["a" * 20, "x" * 12])
    assert message.startswith("组织者令牌太短（至少 16 个字符）：第 2 个只有 12 个字符。")
    assert "xxxx" not in message and _one_language(message)
    assert short_token_message(["a" * 16]) is None


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["suggest", "--top", "x"], "错误：--top 应为整数（收到“x”）"),
        (["train", "--engine", "cloud"], "错误：--engine 只能是 local、dask（收到“cloud”）"),
        (["bogus"], "错误：命令只能是 import、train、suggest、experts、models、purge、serve、setup（收到“bogus”）"),
        (["import"], "错误：缺少参数：FILE"),
        (["suggest", "--nope"], "错误：不认识的参数：--nope"),
        (["suggest", "--top"], "错误：--top 后面需要一个值"),
    ],
)
def test_option_errors_read_in_chinese(capsys, argv, expected):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("用法：recommender") and err.strip().splitlines()[-1] == expected
    assert "usage:" not in err and "error:" not in err


def test_an_unknown_argparse_wording_is_passed_on():
    assert argparse_zh("something new") == "something new"


def test_scheduler_without_dask_is_one_chinese_line(env, capsys):
    assert main(["train", "--scheduler", "tcp://10.0.0.5:8786", "--engine", "local"]) == 1
    assert capsys.readouterr().err.strip() == "错误：--scheduler 只能与 --engine dask 一起使用"


def test_settings_still_accept_good_values():
    assert Settings(timezone="Asia/Shanghai", trusted_proxies="127.0.0.1, 10.0.0.0/8").trusted_proxy_networks


def test_a_reader_that_stops_early_is_no_error(tmp_path):
    """`recommender … | head`: when the program reading the output closes it, the command stops
    quietly (exit 0), without 「内部错误：BrokenPipeError」 on the terminal."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("RECOMMENDER_")}
    env["RECOMMENDER_MODELS_DIR"] = str(tmp_path / "models")
    process = subprocess.Popen(
        [sys.executable, "-m", "recommender", "models", "list"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    process.stdout.close()  # the reader is gone before the command writes its first line
    with process.stderr:
        err = process.stderr.read().decode("utf-8", "replace")
    assert process.wait(timeout=60) == 0, err
    assert "BrokenPipe" not in err and "内部错误" not in err and "Exception ignored" not in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["serve", "--port", "0"], "错误：--port 应为 1 到 65535 之间的整数（收到“0”）"),
        (["serve", "--port", "99999"], "错误：--port 应为 1 到 65535 之间的整数（收到“99999”）"),
        (["serve", "--workers", "0"], "错误：--workers 应为不小于 1 的整数（收到“0”）"),
    ],
)
def test_serve_refuses_a_port_or_worker_count_out_of_range(capsys, argv, expected):
    """`serve --port 0` / `--workers 0` are refused naming the option (exit 2), not quietly
    replaced by the configured port or worker count, nor reported as a RECOMMENDER_PORT setting."""
    from recommender.cli import build_parser

    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(argv)
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == expected


def test_serve_takes_its_options_as_typed():
    from recommender.cli import build_parser

    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "8080", "--workers", "2"])
    assert (args.host, args.port, args.workers) == ("0.0.0.0", 8080, 2)


def test_serve_on_a_port_in_use_says_so_and_exits_1(env, monkeypatch, capsys):
    """A port another program listens on: one Chinese line naming the address and what to do,
    exit code 1 (uvicorn's own exit code 3 is the command line's "another retrain is running")."""
    import socket

    monkeypatch.setenv("RECOMMENDER_ORGANIZER_TOKENS", "t" * 24)
    monkeypatch.setenv("RECOMMENDER_PORT", "8000")  # `serve --port` writes it: restored after the test
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code = main(["serve", "--host", "127.0.0.1", "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert f"127.0.0.1:{port}" in err and "端口已被占用" in err and "--port" in err
    assert _one_language(err.strip().splitlines()[-1])


def test_import_of_a_folder_says_it_is_a_folder(env, tmp_path, capsys):
    """`recommender import /some/folder` (a file name forgotten): 「…是文件夹，不是文件」, not 「找不到文件」."""
    assert main(["import", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == f"错误：{tmp_path} 是文件夹，不是文件"
